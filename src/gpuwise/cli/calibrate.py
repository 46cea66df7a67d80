"""CLI command: ``gpuwise calibrate`` -- measure this device and write a device profile."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gpuwise.cli.apps import app
from gpuwise.errors import GpuwiseError


@app.command("calibrate")
def calibrate_cmd(
    out: Path = typer.Option(Path("profile.json"), "--out", "-o",
                             help="Where to write the device profile (JSON)."),
    device: str = typer.Option("auto", "--device",
                               help="cpu, cuda, or auto (cuda when one is visible)."),
    quick: bool = typer.Option(False, "--quick",
                               help="Small sizes and short budgets (seconds, not minutes)."),
    threads: int = typer.Option(1, "--threads", min=1, max=64,
                                help="Intra-op threads for the CPU measurements."),
    collectives: bool = typer.Option(True, "--collectives/--no-collectives",
                                     help="Also time all-reduce between 2 local processes."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
) -> None:
    """Run GEMM, memory-bandwidth, decode-shaped and all-reduce microbenchmarks; write a
    device profile.

    `gpuwise plan train --device-profile FILE` then uses the measured figures instead of
    the catalog's peaks.
    """
    from gpuwise.calibrate.microbench import calibrate
    from gpuwise.calibrate.torch_env import require_torch

    torch = require_torch()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    profile = calibrate(device=device, quick=quick, threads=threads, collectives=collectives)
    try:
        profile.save(out)
    except OSError as exc:
        raise GpuwiseError(f"{out}: cannot write the profile: {exc.strerror}") from None
    if as_json:
        print(json.dumps(profile.model_dump(mode="json")))
        return
    print(f"device   {profile.name} ({profile.device}, {profile.threads} thread(s), "
          f"torch {profile.torch_version}{', quick' if quick else ''})")
    for prec in profile.precisions:
        pts = [g for g in profile.gemm if g.precision == prec]
        sizes = ", ".join(f"{g.n}:{g.tflops * 1e3:.1f}" for g in pts)
        print(f"gemm     {prec:<5} best {profile.peak_tflops(prec) or 0:.4g} TFLOP/s  "
              f"(size:GFLOP/s {sizes})")
    detail = ", ".join(f"{k} {v:.1f}" for k, v in profile.mem_bw_detail.items())
    print(f"memory   {profile.mem_bw_gbs:.1f} GB/s  ({detail})")
    if profile.elementwise_gbs is not None:
        kernels = ", ".join(f"{k} {v:.1f}" for k, v in profile.elementwise_detail.items())
        print(f"elementwise {profile.elementwise_gbs:.1f} GB/s {profile.elementwise_precision} "
              f"mix ({kernels})")
    for a in profile.attention:
        print(f"attention {a.precision} seq {a.seq} d {a.head_dim}: fwd {a.fwd_tflops:.4g} / "
              f"bwd {a.bwd_tflops:.4g} TFLOP/s")
    for prec in profile.decode_precisions:
        dpts = [g for g in profile.decode_gemm if g.precision == prec]
        widest = max(g.n for g in dpts)
        rates = ", ".join(f"m={g.m}:{g.tflops * 1e3:.1f}" for g in dpts
                          if g.n == g.k == widest)
        print(f"decode   {prec:<5} GEMV {profile.gemv_gbs or 0:.1f} GB/s  (n=k={widest} GFLOP/s "
              f"{rates}; {len(dpts)} points m x n x k)")
    if profile.dispatch_us is not None:
        print(f"dispatch {profile.dispatch_us:.1f} us per eager op (mean of "
              f"{len(profile.dispatch_detail)} ops on tiny tensors)")
    if profile.allreduce_gbs is not None:
        print(f"allreduce {profile.allreduce_gbs:.2f} GB/s bus bandwidth "
              f"({profile.backend}, {profile.collectives[0].world} processes)")
    for note in profile.notes:
        print(f"note     {note}")
    print(f"wrote    {out}")
