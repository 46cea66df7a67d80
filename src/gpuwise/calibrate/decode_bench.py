"""Decode-shaped microbenchmarks behind ``gpuwise calibrate``.

A decode step is not what the training microbenchmarks measure.  It multiplies a few token
rows by every weight once (``x[m,k] @ W[n,k]^T``, m = batch), streaming weights far larger
than the caches: on a CPU that runs well below STREAM bandwidth, and with 8 or 64 rows far
below the square-GEMM rate.  And eager PyTorch pays a fixed cost per op (Python, dispatcher,
allocation, kernel launch) that tiny decode tensors do not hide.  Two measurements:

* :func:`bench_decode_gemm` -- a full grid m x n x k of decode GEMMs, the weights cycling
  through a pool larger than twice the last-level cache so that each call reads its weight
  from memory, as a decode step does (every weight is used once per step), and each call
  followed by the non-GEMM ops of a decoder layer (as in a decode step, where they evict the
  GEMM's code from the instruction caches: on this project's CPU that costs ~10 % at model
  sizes); the time of those ops run alone is subtracted;
* :func:`bench_dispatch` -- the time of each op in :data:`DISPATCH_MIX` on tiny tensors,
  where the fixed cost is all there is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from gpuwise.calibrate.decode_grid import ELEMENT_BYTES, DecodeGemmPoint, decode_point
from gpuwise.calibrate.microbench import Clock, best_time, sync_for
from gpuwise.calibrate.torch_env import require_torch, torch_dtype

#: Token rows of the decode GEMMs: single-stream decode, a small batch, a large one.
DECODE_ROWS: tuple[int, ...] = (1, 8, 64)


@dataclass(frozen=True)
class DecodePlan:
    """Sizes and time budget of the decode-shaped measurements."""

    rows: tuple[int, ...]
    widths: tuple[int, ...]  # the values n and k each take (a full grid)
    budget_s: float  # time spent repeating each point (at least 2 repetitions)
    dispatch_calls: int  # calls per timed loop of a dispatch-mix op


def decode_plan(device: str, quick: bool) -> DecodePlan:
    """Weight widths around those of small (CPU) or real (GPU) models; fewer with ``quick``."""
    if device == "cuda":
        widths = (2048, 8192) if quick else (1024, 2048, 4096, 8192)
    else:
        widths = (1024, 4096) if quick else (1024, 2048, 4096, 8192)
    return DecodePlan(DECODE_ROWS, widths, 0.02 if quick else 0.2, 100 if quick else 400)


def decode_precision(device: str, supported: tuple[str, ...]) -> str:
    """The precision decode is measured in: what the device serves in by default (FP32 for
    eager CPU inference, BF16 on a GPU), among the precisions that ran."""
    order = ("fp32",) if device == "cpu" else ("bf16", "fp16", "fp32")
    return next((p for p in order if p in supported), "fp32")


def bench_decode_gemm(device: str, precision: str, plan: DecodePlan, cache_bytes: int,
                      clock: Clock) -> list[DecodeGemmPoint]:
    """Best time of ``F.linear(x[m,k], W[n,k])`` for every (m, n, k) of the plan, weights
    cache-cold (views of one pool of at least twice the last-level cache and two weights),
    in decode context: each call followed by :data:`BETWEEN_GEMMS` (their own time, measured
    alone, is subtracted; at least half the pass is kept as a guard against timing noise)."""
    torch = require_torch()
    F = torch.nn.functional  # noqa: N806 - the usual name
    sync = sync_for(device)
    dtype = torch_dtype(precision)
    elem = ELEMENT_BYTES[precision]
    pool_elems = max(2 * cache_bytes, 2 * max(plan.widths) ** 2 * elem) // elem
    pool = torch.rand(pool_elems, device=device).to(dtype)
    tiny = _tiny(device)
    between = [DISPATCH_MIX[name] for name in BETWEEN_GEMMS]
    points: list[DecodeGemmPoint] = []
    with torch.inference_mode():
        for n in plan.widths:
            for k in plan.widths:
                nbuf = max(2, pool_elems // (n * k))
                weights = [pool[i * n * k:(i + 1) * n * k].view(n, k) for i in range(nbuf)]
                for m in plan.rows:
                    x = torch.rand(m, k, device=device).to(dtype)

                    def one_pass(x: Any = x, weights: list[Any] = weights,
                                 gemm: bool = True) -> None:
                        for w in weights:
                            if gemm:
                                F.linear(x, w)
                            for op in between:
                                op(tiny)

                    t_all = best_time(one_pass, sync, plan.budget_s, clock=clock)
                    t_ops = best_time(lambda: one_pass(gemm=False), sync, 0.0, clock=clock)
                    t = max(t_all - t_ops, 0.5 * t_all) / nbuf
                    points.append(decode_point(m, n, k, precision, t))
    del pool
    return points


def _tiny(device: str) -> SimpleNamespace:
    """Tensors of a decoder layer shrunk to hidden 64 (4 heads of 16), one token."""
    torch = require_torch()

    def r(*shape: int) -> Any:
        return torch.rand(*shape, device=device)

    return SimpleNamespace(x=r(1, 1, 64), y=r(1, 1, 64), w=r(64, 64), g=r(64), q=r(1, 4, 1, 16),
                           kv=r(1, 4, 16, 16), k1=r(1, 4, 1, 16), cache=r(1, 4, 32, 16))


def _index_copy(t: SimpleNamespace) -> None:
    t.cache[:, :, 3:4] = t.k1


#: One op of each kind a decoder layer runs in eager PyTorch: linear projection, RMSNorm,
#: residual add, gating multiply, activation, reshapes (view, transpose, split), the KV-cache
#: write, attention.  The mean of their times is the profile's per-op cost.
DISPATCH_MIX: dict[str, Callable[[SimpleNamespace], Any]] = {
    "linear": lambda t: require_torch().nn.functional.linear(t.x, t.w),
    "rms_norm": lambda t: require_torch().nn.functional.rms_norm(t.x, (64,), t.g),
    "add": lambda t: t.x + t.y,
    "mul": lambda t: t.x * t.y,
    "silu": lambda t: require_torch().nn.functional.silu(t.x),
    "view": lambda t: t.x.view(1, 1, 4, 16),
    "transpose": lambda t: t.q.transpose(1, 2),
    "split": lambda t: t.x.split(32, dim=-1),
    "index_copy": _index_copy,
    "attention": lambda t: require_torch().nn.functional.scaled_dot_product_attention(
        t.q, t.kv, t.kv),
}


#: The non-GEMM ops of :data:`DISPATCH_MIX`, run after each decode GEMM.
BETWEEN_GEMMS: tuple[str, ...] = tuple(k for k in DISPATCH_MIX if k != "linear")


def bench_dispatch(device: str, calls: int, clock: Clock) -> dict[str, float]:
    """Microseconds per call of each :data:`DISPATCH_MIX` op: best of 5 loops of ``calls``."""
    torch = require_torch()
    sync = sync_for(device)
    t = _tiny(device)
    out: dict[str, float] = {}
    with torch.inference_mode():
        for name, op in DISPATCH_MIX.items():
            def loop(op: Callable[[SimpleNamespace], Any] = op) -> None:
                for _ in range(calls):
                    op(t)

            out[name] = best_time(loop, sync, 0.0, min_reps=5, clock=clock) / calls * 1e6
    return out
