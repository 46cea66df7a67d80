"""Predict, then measure, decode tokens/s of a small Llama-style transformer on this CPU.

The prediction is ``gpuwise.serving.timing.decode_step`` with the hardware rates of a device
profile from ``gpuwise calibrate`` (measured STREAM bandwidth and GEMM TFLOP/s) — the same
model that ``plan serve`` uses for GPUs.  The measurement runs the model in PyTorch (eager,
fp32, KV cache, one intra-op thread to match the profile) and times the decode steps.

    .venv/bin/python benchmarks/bench_serve_cpu.py [--profile profile.json] [--steps 24]

Prints predicted, measured and predicted/measured for batch 1 and batch 8, with the calibrate
profile as is and with decode-shaped measurements (GEMV bandwidth, 8-row GEMM) added.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from gpuwise.calibrate import DeviceProfile, GemmPoint
from gpuwise.cli.main import main as gpuwise_main
from gpuwise.planner.models import ModelConfig
from gpuwise.serving.hw import hardware_from_profile
from gpuwise.serving.timing import Deployment, decode_step

# ~120M parameters in fp32 (~0.5 GB): far larger than the caches, so decode streams weights.
DIMS = {"layers": 8, "hidden": 1024, "heads": 16, "kv_heads": 4, "ffn": 2816, "vocab": 8192}


class Block(nn.Module):
    """Pre-norm decoder layer: GQA attention with a KV cache, SwiGLU MLP."""

    def __init__(self, h: int, heads: int, kv: int, ffn: int) -> None:
        super().__init__()
        self.heads, self.kv, self.hd = heads, kv, h // heads
        self.n1, self.n2 = nn.RMSNorm(h), nn.RMSNorm(h)
        self.qkv = nn.Linear(h, (heads + 2 * kv) * self.hd, bias=False)
        self.o = nn.Linear(h, h, bias=False)
        self.gate_up = nn.Linear(h, 2 * ffn, bias=False)
        self.down = nn.Linear(ffn, h, bias=False)

    def forward(self, x: torch.Tensor, cache: list[torch.Tensor], pos: int) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv(self.n1(x)).split(
            [self.heads * self.hd, self.kv * self.hd, self.kv * self.hd], dim=-1
        )
        q = q.view(b, t, self.heads, self.hd).transpose(1, 2)
        cache[0][:, :, pos : pos + t] = k.view(b, t, self.kv, self.hd).transpose(1, 2)
        cache[1][:, :, pos : pos + t] = v.view(b, t, self.kv, self.hd).transpose(1, 2)
        keys, vals = cache[0][:, :, : pos + t], cache[1][:, :, : pos + t]
        att = nn.functional.scaled_dot_product_attention(
            q, keys, vals, is_causal=t > 1, enable_gqa=True
        )
        x = x + self.o(att.transpose(1, 2).reshape(b, t, -1))
        g, u = self.gate_up(self.n2(x)).chunk(2, dim=-1)
        return x + self.down(nn.functional.silu(g) * u)


class Tiny(nn.Module):
    def __init__(self, d: dict[str, int]) -> None:
        super().__init__()
        h = d["hidden"]
        self.emb = nn.Embedding(d["vocab"], h)
        self.blocks = nn.ModuleList(
            Block(h, d["heads"], d["kv_heads"], d["ffn"]) for _ in range(d["layers"])
        )
        self.norm = nn.RMSNorm(h)
        self.head = nn.Linear(h, d["vocab"], bias=False)

    def forward(
        self, ids: torch.Tensor, caches: list[list[torch.Tensor]], pos: int
    ) -> torch.Tensor:
        x = self.emb(ids)
        for blk, cache in zip(self.blocks, caches, strict=True):
            x = blk(x, cache, pos)
        return self.head(self.norm(x[:, -1:]))


def measure(model: Tiny, batch: int, prompt: int, steps: int) -> tuple[float, float, float]:
    """Decode tokens/s summed over the batch — from the fastest step (the convention of
    ``gpuwise calibrate``: best of repetitions, robust to other load on a shared machine) and
    from the mean step — and the mean context during decode."""
    d = DIMS
    hd = d["hidden"] // d["heads"]
    shape = (batch, d["kv_heads"], prompt + steps + 1, hd)
    caches = [[torch.zeros(shape), torch.zeros(shape)] for _ in range(d["layers"])]
    ids = torch.randint(0, d["vocab"], (batch, prompt))
    with torch.inference_mode():
        nxt = model(ids, caches, 0).argmax(-1)
        nxt = model(nxt, caches, prompt).argmax(-1)  # warm-up step
        times = []
        for i in range(steps):
            t0 = time.perf_counter()
            nxt = model(nxt, caches, prompt + 1 + i).argmax(-1)
            times.append(time.perf_counter() - t0)
    return batch / min(times), batch * steps / sum(times), prompt + 1 + steps / 2


def decode_shaped_profile(profile: DeviceProfile, reps: int = 5) -> DeviceProfile:
    """The profile plus decode-shaped measurements that ``calibrate`` does not take (yet):
    GEMV read bandwidth over a weight far larger than the caches, and GEMMs with 1 and 8 rows
    on it.  Shows how much of the gap is the profile's square-GEMM/STREAM view of the chip."""
    n = k = 8192  # 256 MiB of fp32 weights
    w = torch.randn(n, k)
    points, gemv_s = [], math.inf
    with torch.inference_mode():
        for m in (1, 8):
            x = torch.randn(m, k)
            nn.functional.linear(x, w)
            best = math.inf
            for _ in range(reps):
                t0 = time.perf_counter()
                nn.functional.linear(x, w)
                best = min(best, time.perf_counter() - t0)
            points.append(GemmPoint(m=m, n=n, k=k, precision="fp32",
                                    tflops=2 * m * n * k / best / 1e12, seconds=best))
            gemv_s = best if m == 1 else gemv_s
    return profile.model_copy(update={
        "gemm": (*profile.gemm, *points),
        "mem_bw_gbs": 4.0 * n * k / gemv_s / 1e9,
    })


def predict(profile: DeviceProfile, batch: int, context: float) -> float:
    cfg = ModelConfig(name="bench-cpu", ffn_type="swiglu", norm="rmsnorm", **DIMS)
    dep = Deployment(cfg, hardware_from_profile(profile), 1, "fp32", "fp32", "fp32")
    return batch / decode_step(dep, batch, context).total_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", type=Path, help="device profile (default: calibrate --quick)")
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--steps", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.profile is None:
        args.profile = Path(tempfile.mkdtemp()) / "cpu_profile.json"
        rc = gpuwise_main(["calibrate", "--out", str(args.profile), "--quick", "--device", "cpu",
                           "--threads", "1", "--no-collectives"])
        if rc != 0:
            raise SystemExit(f"gpuwise calibrate failed with exit code {rc}")
    profile = DeviceProfile.load(args.profile)
    torch.manual_seed(0)
    model = Tiny(DIMS).eval()
    n = sum(p.numel() for p in model.parameters())
    print(f"model: {n / 1e6:.1f}M params fp32; profile {profile.name}: "
          f"{profile.mem_bw_gbs:.1f} GB/s, {profile.threads} thread(s)")
    shaped = decode_shaped_profile(profile)
    print(f"decode-shaped: GEMV {shaped.mem_bw_gbs:.1f} GB/s, "
          f"8-row GEMM {shaped.gemm[-1].tflops * 1e3:.1f} GFLOP/s (not in the calibrate profile)")
    print(f"{'batch':>5} {'profile':>14} {'predicted':>10} {'measured best':>14} {'pred/meas':>10} "
          f"{'measured mean':>14} {'pred/meas':>10}   (tokens/s)")
    for batch in (1, 8):
        best, mean, ctx = measure(model, batch, args.prompt, args.steps)
        for label, prof in (("calibrate", profile), ("+decode-shaped", shaped)):
            pred = predict(prof, batch, ctx)
            print(f"{batch:>5} {label:>14} {pred:>10.1f} {best:>14.1f} {pred / best:>10.2f} "
                  f"{mean:>14.1f} {pred / mean:>10.2f}")


if __name__ == "__main__":
    main()
