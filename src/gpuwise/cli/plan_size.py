"""CLI command: ``gpuwise plan size`` — compute-optimal and inference-aware model sizing."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gpuwise.catalog import parse_gpu_spec
from gpuwise.cli.apps import plan_app
from gpuwise.errors import GpuwiseError
from gpuwise.sizing.laws import FITS
from gpuwise.sizing.plan import Budget, plan_size


def _budget(
    flops: float | None, gpus: str | None, days: float | None, gpu_hours: float | None, seq: int,
    precision: str,
) -> Budget:
    if precision not in ("bf16", "fp8"):
        raise GpuwiseError(f"--precision: training precision is bf16 or fp8, got {precision!r}")
    given = sum(x is not None for x in (flops, days, gpu_hours))
    if given != 1:
        raise GpuwiseError(
            "give exactly one budget: --flops F, or --gpus NxTYPE with --days D or --gpu-hours H"
        )
    if flops is not None:
        return Budget(flops=flops, seq=seq, precision=precision)
    if gpus is None:
        raise GpuwiseError("--days/--gpu-hours need --gpus NxTYPE (e.g. --gpus 256xH800)")
    spec = parse_gpu_spec(gpus)
    if len(spec) != 1:
        raise GpuwiseError(f"--gpus: give one GPU type for a training budget, got {gpus!r}")
    count, gpu = spec[0]
    if count < 1:
        raise GpuwiseError(f"--gpus: need at least one GPU, got {gpus!r}")
    if days is not None:
        if days <= 0:
            raise GpuwiseError(f"--days must be > 0, got {days:g}")
        seconds = days * 86400.0
    else:
        assert gpu_hours is not None
        if gpu_hours <= 0:
            raise GpuwiseError(f"--gpu-hours must be > 0, got {gpu_hours:g}")
        seconds = gpu_hours * 3600.0 / count
    return Budget(gpu=gpu, gpus=count, seconds=seconds, seq=seq, precision=precision)


@plan_app.command("size")
def plan_size_cmd(
    flops: float | None = typer.Option(None, "--flops", help="Training FLOPs (6·N·D)."),
    gpus: str | None = typer.Option(None, "--gpus", help="GPU budget, e.g. 256xH800."),
    days: float | None = typer.Option(None, "--days", help="Wall-clock days on --gpus."),
    gpu_hours: float | None = typer.Option(None, "--gpu-hours", help="GPU-hours on --gpus."),
    fit: str | None = typer.Option(
        None, "--fit", help=f"Scaling law: {', '.join(FITS)} (default besiroglu)."
    ),
    inference_tokens: float = typer.Option(
        0.0, "--inference-tokens", help="Lifetime tokens to serve (inference-aware sizing)."
    ),
    seq: int = typer.Option(4096, "--seq", min=128, help="Training sequence length."),
    precision: str = typer.Option("bf16", "--precision", help="Training precision: bf16, fp8."),
    serve_gpu: str | None = typer.Option(
        None, "--serve-gpu", help="GPU for the serving-cost column (default: the --gpus type)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write an SVG of loss vs size."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The best model to train with a GPU budget, and a smaller one if it will serve a lot."""
    b = _budget(flops, gpus, days, gpu_hours, seq, precision)
    res = plan_size(b, fit, inference_tokens, serve_gpu or b.gpu)
    if plot is not None:
        from gpuwise.sizing.plot import write_svg

        write_svg(res, plot)
    if as_json:
        print(json.dumps(res))
        return
    _print(res)


def _g(x: object, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def _print(res: dict[str, object]) -> None:
    c = Console(width=140)
    c.print(f"Budget: {_g(res['flops'])} training FLOPs (6·N·D); fit: {res['fit']}")
    fits = res["fits"]
    assert isinstance(fits, dict)
    c.print(
        "Compute-optimal size by fit: "
        + ", ".join(f"{k} {v['params'] / 1e9:.1f}B on {v['tokens'] / 1e12:.2f}T tokens"
                    for k, v in fits.items())
    )
    table = Table(title="Candidate sizes at this budget")
    for col in ("params", "tokens", "tok/param", "loss", "train GPU-days", "train days",
                "serve GPU-h/Mtok", "lifetime FLOPs"):
        table.add_column(col, justify="right")
    rows = res["candidates"]
    assert isinstance(rows, list)
    aware = res["inference_aware"]
    for r in rows + ([aware] if isinstance(aware, dict) else []):
        table.add_row(
            f"{r['params'] / 1e9:.2f}B", f"{r['tokens'] / 1e12:.2f}T",
            f"{r['tokens_per_param']:.0f}", f"{r['loss']:.4f}", _g(r["train_gpu_days"], ".0f"),
            _g(r["train_days"], ".1f"), _g(r["serve_gpu_hours_per_mtok"], ".3f"),
            _g(r["total_flops"]),
        )
    c.print(table)
    rec = res["recommendation"]
    assert isinstance(rec, dict)
    if isinstance(aware, dict):
        c.print(
            f"Recommendation (inference-aware, Sardana et al. 2023): {rec['params'] / 1e9:.1f}B "
            f"on {rec['tokens'] / 1e12:.2f}T tokens reaches the same loss {rec['loss']:.4f} and "
            f"saves {aware['saving_vs_compute_optimal']:.0%} of lifetime compute"
        )
    else:
        c.print(
            f"Recommendation (compute-optimal): {rec['params'] / 1e9:.1f}B on "
            f"{rec['tokens'] / 1e12:.2f}T tokens, predicted loss {rec['loss']:.4f}"
        )
