"""Predict, then measure, decode tokens/s of a small Llama-style transformer on this CPU.

1. ``gpuwise calibrate`` (``--quick`` unless ``--profile`` is given) measures this CPU: among
   the rest, decode-shaped GEMMs (1, 8 and 64 token rows against cache-cold weights of several
   widths), the GEMV weight-streaming bandwidth and the fixed cost of one eager op.
2. The ops per decoder layer of the implementation below are *counted* (not timed) with
   ``gpuwise.calibrate.opcount``.
3. ``gpuwise.serving.timing.decode_step`` -- the model ``plan serve`` uses -- predicts
   tokens/s at batch 1 and 8 from the profile and the model's dimensions alone.
4. The model runs in PyTorch (eager, fp32, KV cache, one intra-op thread to match the
   profile) and the decode steps are timed: median over steps and rounds, in CPU seconds of
   this process (other processes on the shared cores do not inflate it; they still share the
   memory bandwidth) and in wall seconds.  Prints predicted / measured; target within +-30 %.

For comparison it also prints what the profile predicts without its decode-shaped fields
(STREAM bandwidth for the weights, square-GEMM rates, a fused engine's kernel count).

    .venv/bin/python benchmarks/bench_serve_cpu.py [--profile profile.json] [--steps 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from gpuwise.calibrate import DeviceProfile
from gpuwise.calibrate.opcount import count_torch_ops
from gpuwise.cli.main import main as gpuwise_main
from gpuwise.planner.models import ModelConfig
from gpuwise.serving.hw import hardware_from_profile
from gpuwise.serving.timing import Deployment, StepTime, decode_step

# ~107M parameters in fp32 (~0.4 GB): far larger than the caches, so decode streams weights.
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


def new_caches(batch: int, length: int) -> list[list[torch.Tensor]]:
    d = DIMS
    shape = (batch, d["kv_heads"], length, d["hidden"] // d["heads"])
    return [[torch.zeros(shape), torch.zeros(shape)] for _ in range(d["layers"])]


def ops_per_layer(model: Tiny) -> int:
    """PyTorch ops one decoder layer runs for one decode token (counted, not timed)."""
    caches = new_caches(1, 8)
    x = torch.zeros(1, 1, DIMS["hidden"])
    with torch.inference_mode():
        counts = count_torch_ops(lambda: model.blocks[0](x, caches[0], 4))
    return sum(counts.values())


def measure(model: Tiny, batch: int, prompt: int, steps: int,
            rounds: int) -> tuple[float, float, float]:
    """Median seconds of one decode step, in CPU time and in wall time, over ``rounds``
    generations of ``steps`` tokens after the prompt and one warm-up step; and the mean
    context during the timed steps."""
    cpu, wall = [], []
    for _ in range(rounds):
        caches = new_caches(batch, prompt + steps + 1)
        ids = torch.randint(0, DIMS["vocab"], (batch, prompt))
        with torch.inference_mode():
            nxt = model(ids, caches, 0).argmax(-1)
            nxt = model(nxt, caches, prompt).argmax(-1)  # warm-up step
            for i in range(steps):
                c0, w0 = time.process_time(), time.perf_counter()
                nxt = model(nxt, caches, prompt + 1 + i).argmax(-1)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), prompt + 1 + (steps - 1) / 2


def without_decode_fields(profile: DeviceProfile) -> DeviceProfile:
    """The profile as ``gpuwise calibrate`` wrote it before decode-shaped measurements."""
    return profile.model_copy(update={"decode_gemm": (), "gemv_gbs": None, "dispatch_us": None,
                                      "dispatch_detail": {}})


def predict(profile: DeviceProfile, batch: int, context: float, ops: int | None) -> StepTime:
    cfg = ModelConfig(name="bench-cpu", ffn_type="swiglu", norm="rmsnorm", **DIMS)
    dep = Deployment(cfg, hardware_from_profile(profile), 1, "fp32", "fp32", "fp32",
                     ops_per_layer=ops)
    return decode_step(dep, batch, context)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--profile", type=Path, help="device profile (default: calibrate --quick)")
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    if args.profile is None:
        args.profile = Path(tempfile.mkdtemp()) / "cpu_profile.json"
        rc = gpuwise_main(["calibrate", "--out", str(args.profile), "--quick", "--device", "cpu",
                           "--threads", "1", "--no-collectives"])
        if rc != 0:
            raise SystemExit(f"gpuwise calibrate failed with exit code {rc}")
    profile = DeviceProfile.load(args.profile)
    if not profile.decode_gemm:
        print("note: this profile has no decode-shaped measurements (written by an older "
              "gpuwise calibrate); both predictions below use the fallbacks")
    torch.manual_seed(0)
    model = Tiny(DIMS).eval()
    n = sum(p.numel() for p in model.parameters())
    ops = ops_per_layer(model)
    print(f"model: {n / 1e6:.1f}M params fp32, {ops} PyTorch ops per decoder layer (counted); "
          f"profile: STREAM {profile.mem_bw_gbs:.1f} GB/s, GEMV "
          f"{profile.gemv_gbs or float('nan'):.1f} GB/s, dispatch "
          f"{profile.dispatch_us or float('nan'):.1f} us/op, {profile.threads} thread(s)")
    print(f"{'batch':>5} {'model':>15} {'predicted':>10} {'measured cpu':>13} {'pred/meas':>10} "
          f"{'measured wall':>14} {'pred/meas':>10}  (tokens/s)  predicted ms: mem/compute/ops")
    for batch in (1, 8):
        cpu_s, wall_s, ctx = measure(model, batch, args.prompt, args.steps, args.rounds)
        for label, prof, k in (("decode-shaped", profile, ops),
                               ("plain profile", without_decode_fields(profile), None)):
            st = predict(prof, batch, ctx, k)
            pred = batch / st.total_s
            print(f"{batch:>5} {label:>15} {pred:>10.1f} {batch / cpu_s:>13.1f} "
                  f"{pred * cpu_s / batch:>10.2f} {batch / wall_s:>14.1f} "
                  f"{pred * wall_s / batch:>10.2f}  {st.memory_s * 1e3:.1f}/"
                  f"{st.compute_s * 1e3:.1f}/{st.overhead_s * 1e3:.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
