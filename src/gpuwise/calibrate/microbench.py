"""Microbenchmarks behind ``gpuwise calibrate``: GEMM, memory bandwidth, all-reduce (and,
from :mod:`gpuwise.calibrate.decode_bench`, decode-shaped GEMMs and per-op dispatch cost).

Each benchmark keeps the *best* time of several repetitions (the achievable peak, as
vendor peaks are), after one warm-up call.  Conventions:

* GEMM: ``2*m*n*k`` floating-point operations per ``A[m,k] @ B[k,n]``, averaged over the
  three layouts of training (forward NT, data-gradient NN, weight-gradient TN) with operands
  rotated through twice the last-level cache, so they come from memory as in a training
  step rather than from a hot cache.
* Memory: STREAM (McCalpin 1995) -- *copy* ``a = b`` moves 2 arrays, *triad*
  ``a = b + s*c`` moves 3; bandwidth = bytes moved / time, in GB/s (1e9).
* All-reduce: bus bandwidth ``2(n-1)/n * bytes / time`` as nccl-tests reports it, so a
  ring all-reduce on a link of bandwidth B shows ~B whatever the process count.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuwise.calibrate.collective import bench_allreduce
from gpuwise.calibrate.profile import PRECISIONS, CollectivePoint, DeviceProfile, GemmPoint
from gpuwise.calibrate.torch_env import require_torch, resolve_device, set_threads, torch_dtype


@dataclass(frozen=True)
class BenchPlan:
    """Sizes and time budgets for one calibration run."""

    gemm_sizes: tuple[int, ...]
    max_gemm_call_s: float  # stop growing a precision's sizes once one GEMM takes this long
    gemm_budget_s: float  # time spent repeating each GEMM size
    stream_bytes: int  # bytes per array of the streaming kernels
    allreduce_bytes: tuple[int, ...]


def bench_plan(device: str, quick: bool) -> BenchPlan:
    """The default sizes: small and fast with ``quick``, closer to peak without."""
    mib = 1 << 20
    if device == "cuda":
        if quick:
            return BenchPlan((512, 1024, 2048, 4096), 0.5, 0.05, 256 * mib, (4 * mib, 64 * mib))
        return BenchPlan(
            (256, 512, 1024, 2048, 4096, 8192), 2.0, 0.3, 1024 * mib, (mib, 16 * mib, 256 * mib)
        )
    if quick:
        return BenchPlan((64, 128, 256, 512), 0.05, 0.03, 32 * mib, (mib, 4 * mib))
    return BenchPlan((128, 256, 512, 1024, 2048), 1.0, 0.3, 256 * mib, (mib, 16 * mib, 64 * mib))


Clock = Callable[[], float]


def step_clock(device: str, threads: int) -> Clock:
    """The clock that times one step: this process's CPU time for a single-threaded CPU run
    (equal to wall time on an idle machine, and immune to other processes sharing the
    cores), wall time otherwise (GPU work is asynchronous; several threads sum their time)."""
    return time.process_time if device == "cpu" and threads == 1 else time.perf_counter


def best_time(fn: Callable[[], Any], sync: Callable[[], None], budget_s: float,
              min_reps: int = 2, clock: Clock = time.perf_counter) -> float:
    """Best time of one ``fn()`` call over at least ``min_reps`` calls and ``budget_s``
    of wall time, after one warm-up call."""
    fn()
    sync()
    best = math.inf
    reps = 0
    start = time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < budget_s:
        t0 = clock()
        fn()
        sync()
        best = min(best, clock() - t0)
        reps += 1
    return best


def sync_for(device: str) -> Callable[[], None]:
    torch = require_torch()
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def gemm_supported(device: str, precision: str) -> bool:
    """Whether a tiny GEMM at ``precision`` runs on ``device``."""
    torch = require_torch()
    try:
        a = torch.ones(8, 8, dtype=torch_dtype(precision), device=device)
        (a @ a).sum().item()
    except (RuntimeError, TypeError):
        return False
    return True


#: The three GEMMs of a linear layer in training: forward ``y = x W^T`` (NT), data gradient
#: ``dx = dy W`` (NN), weight gradient ``dW = dy^T x`` (TN).  Each does a third of the work.
LAYOUTS: dict[str, Callable[[Any, Any], Any]] = {
    "NT": lambda a, b: a @ b.t(),
    "NN": lambda a, b: a @ b,
    "TN": lambda a, b: a.t() @ b,
}


def cache_bytes(device: str) -> int:
    """Size of the last-level cache (CPU L3 from sysfs, GPU L2); 32 MiB when unknown."""
    torch = require_torch()
    default = 32 << 20
    if device == "cuda":
        return int(getattr(torch.cuda.get_device_properties(0), "L2_cache_size", default))
    try:
        text = Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
    except OSError:
        return default
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in units and text[:-1].isdigit():
        return int(text[:-1]) * units[text[-1]]
    return int(text) if text.isdigit() else default


def training_gemm_time(device: str, n: int, dtype: Any, budget_s: float,
                       pool_bytes: int, clock: Clock = time.perf_counter) -> float:
    """Mean seconds of an ``n^3`` GEMM over the three training layouts, cache-cold.

    Operands rotate through ``pool_bytes`` of buffers (twice the last-level cache), so each
    GEMM reads its inputs from memory as in a training step, where the kernels in between
    evict them; the rotation is cut short when one pass would exceed the time budget.
    """
    torch = require_torch()
    sync = sync_for(device)
    a0 = torch.randn(n, n, device=device).to(dtype)
    t_call = max(best_time(lambda: a0 @ a0, sync, 0.0, min_reps=1, clock=clock), 1e-7)
    elem = a0.element_size()
    nbuf = min(256, max(1, math.ceil(pool_bytes / (3 * n * n * elem))),
               max(1, int(budget_s / (3 * t_call))))
    bufs = [(torch.randn(n, n, device=device).to(dtype), torch.randn(n, n, device=device).to(dtype))
            for _ in range(nbuf)]
    total = 0.0
    for op in LAYOUTS.values():
        def one_pass(op: Callable[[Any, Any], Any] = op) -> None:
            for a, b in bufs:
                op(a, b)

        total += best_time(one_pass, sync, budget_s / 3, clock=clock) / nbuf
    return total / len(LAYOUTS)


def bench_gemm(
    device: str,
    sizes: tuple[int, ...],
    precisions: tuple[str, ...] = PRECISIONS,
    budget_s: float = 0.05,
    max_call_s: float = 0.5,
    clock: Clock = time.perf_counter,
) -> tuple[list[GemmPoint], list[str]]:
    """Training-GEMM throughput per size and precision (:func:`training_gemm_time`);
    returns (points, notes)."""
    points: list[GemmPoint] = []
    notes: list[str] = []
    pool = 2 * cache_bytes(device)
    for prec in precisions:
        if not gemm_supported(device, prec):
            notes.append(f"{prec} GEMM not supported on {device}; skipped")
            continue
        dtype = torch_dtype(prec)
        for i, n in enumerate(sizes):
            t = training_gemm_time(device, n, dtype, budget_s, pool, clock)
            points.append(GemmPoint(m=n, n=n, k=n, precision=prec, tflops=2 * n**3 / t / 1e12,
                                    seconds=t))
            nxt = sizes[i + 1] if i + 1 < len(sizes) else None
            if nxt is not None and t * (nxt / n) ** 3 > max_call_s:  # O(n^3) at the same rate
                notes.append(f"{prec} GEMM sizes above {n} skipped ({t:.3f} s per GEMM)")
                break
    return points, notes


def bench_memory(device: str, nbytes: int, budget_s: float = 0.1,
                 clock: Clock = time.perf_counter) -> dict[str, float]:
    """STREAM copy and triad bandwidth in GB/s over arrays of ``nbytes`` each."""
    torch = require_torch()
    sync = sync_for(device)
    n = max(1, nbytes // 4)
    a = torch.empty(n, dtype=torch.float32, device=device)
    b = torch.rand(n, dtype=torch.float32, device=device)
    c = torch.rand(n, dtype=torch.float32, device=device)
    size = n * 4
    t_copy = best_time(lambda: a.copy_(b), sync, budget_s, min_reps=3, clock=clock)
    t_triad = best_time(lambda: torch.add(b, c, alpha=3.0, out=a), sync, budget_s, min_reps=3,
                        clock=clock)
    return {"copy": 2 * size / t_copy / 1e9, "triad": 3 * size / t_triad / 1e9}


#: Out-of-place elementwise kernels of a transformer training step, as eager PyTorch runs
#: them (fresh outputs), with the bytes each moves per element in units of the element size
#: (plus 1 byte for dropout's bool mask): residual add, GeLU, SwiGLU's silu(g)*u, softmax,
#: LayerNorm, dropout.
ELEMENTWISE: dict[str, tuple[Callable[[Any, Any, Any], Any], int, int]] = {
    "add": (lambda x, y, w: x + y, 3, 0),
    "gelu": (lambda x, y, w: _F().gelu(x), 2, 0),
    "silu_mul": (lambda x, y, w: _F().silu(x) * y, 3, 0),
    "softmax": (lambda x, y, w: _F().softmax(x, dim=-1), 2, 0),
    "layer_norm": (lambda x, y, w: _F().layer_norm(x, (x.shape[-1],), w, w), 2, 0),
    "dropout": (lambda x, y, w: require_torch().native_dropout(x, 0.1, True), 2, 1),
}
#: Kernels in the representative mix; dropout is measured but left out of the mix because
#: most current LLM recipes (Llama, Mistral, Qwen, MPT) train without it.
ELEMENTWISE_MIX: tuple[str, ...] = ("add", "gelu", "silu_mul", "softmax", "layer_norm")


def _F() -> Any:  # noqa: N802 - torch.nn.functional, imported lazily
    require_torch()
    import torch.nn.functional as F  # noqa: N812

    return F


def bench_elementwise(device: str, precision: str, pool_bytes: int, chunk_bytes: int = 8 << 20,
                      budget_s: float = 0.1, clock: Clock = time.perf_counter) -> dict[str, float]:
    """Effective bandwidth (bytes moved / time, GB/s) of each :data:`ELEMENTWISE` kernel in
    ``precision`` (rows of 1024 for softmax and LayerNorm).

    Unlike STREAM this includes what the kernels cost beyond moving bytes: conversions of
    16-bit formats, transcendental functions, random numbers, allocating the output.  Inputs
    are ``chunk_bytes`` tensors rotated through ``pool_bytes`` (twice the last-level cache),
    so they come from memory; chunks stay below glibc's 32 MiB mmap ceiling so that fresh
    outputs reuse heap memory, as a training step's activations do after the first step.
    """
    torch = require_torch()
    sync = sync_for(device)
    dtype = torch_dtype(precision)
    elem = torch.empty((), dtype=dtype).element_size()
    rows = max(1, chunk_bytes // elem // 1024)
    nbuf = max(1, math.ceil(pool_bytes / (2 * rows * 1024 * elem)))
    bufs = [(torch.randn(rows, 1024, device=device).to(dtype),
             torch.randn(rows, 1024, device=device).to(dtype)) for _ in range(nbuf)]
    w = torch.ones(1024, device=device).to(dtype)
    out: dict[str, float] = {}
    for name, (fn, elems_moved, extra) in ELEMENTWISE.items():
        def one_pass(fn: Callable[[Any, Any, Any], Any] = fn) -> None:
            for x, y in bufs:
                fn(x, y, w)

        t = best_time(one_pass, sync, budget_s / len(ELEMENTWISE), clock=clock) / nbuf
        out[name] = rows * 1024 * (elems_moved * elem + extra) / t / 1e9
    return out


def mix_gbs(detail: dict[str, float]) -> float:
    """Harmonic mean of the :data:`ELEMENTWISE_MIX` bandwidths (equal bytes per kernel)."""
    rates = [detail[k] for k in ELEMENTWISE_MIX if k in detail]
    return len(rates) / sum(1.0 / r for r in rates)


def device_name(device: str) -> str:
    """What the runtime calls the device (the CPU model from /proc/cpuinfo on Linux)."""
    torch = require_torch()
    if device == "cuda":
        return str(torch.cuda.get_device_name(0))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "CPU " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU " + (platform.processor() or platform.machine() or "unknown")


def device_memory_gib(device: str) -> float:
    """Device memory: the GPU's total memory, or the host's physical RAM for the CPU."""
    torch = require_torch()
    if device == "cuda":
        return float(torch.cuda.get_device_properties(0).total_memory) / 2**30
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2**30


def calibrate(device: str = "cpu", quick: bool = False, threads: int = 1,
              collectives: bool = True,
              precisions: tuple[str, ...] = PRECISIONS) -> DeviceProfile:
    """Run every microbenchmark on ``device`` and return the profile."""
    torch = require_torch()
    device = resolve_device(device)
    set_threads(threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32 means FP32, as in the catalog
    plan = bench_plan(device, quick)
    clock = step_clock(device, threads)
    gemm, notes = bench_gemm(device, plan.gemm_sizes, precisions, budget_s=plan.gemm_budget_s,
                             max_call_s=plan.max_gemm_call_s, clock=clock)
    mem = bench_memory(device, plan.stream_bytes, clock=clock)
    ew_prec = next((p for p in ("bf16", "fp16", "fp32") if any(g.precision == p for g in gemm)),
                   "fp32")
    ew = bench_elementwise(device, ew_prec, 2 * cache_bytes(device), clock=clock)
    from gpuwise.calibrate.attention import attention_shapes, bench_attention

    attn = bench_attention(device, ew_prec, attention_shapes(device, quick),
                           budget_s=plan.gemm_budget_s, clock=clock)
    from gpuwise.calibrate.decode_bench import (
        bench_decode_gemm,
        bench_dispatch,
        decode_plan,
        decode_precision,
    )

    dplan = decode_plan(device, quick)
    dprec = decode_precision(device, tuple(g.precision for g in gemm))
    decode = bench_decode_gemm(device, dprec, dplan, cache_bytes(device), clock)
    widest = max(dplan.widths)
    gemv = next(p.weight_gbs for p in decode if p.m == 1 and p.n == p.k == widest)
    dispatch = bench_dispatch(device, dplan.dispatch_calls, clock)
    coll: list[CollectivePoint] = []
    backend: str | None = None
    if collectives:
        coll, backend, more = bench_allreduce(device, plan.allreduce_bytes)
        notes.extend(more)
    else:
        notes.append("all-reduce not measured (collectives disabled)")
    return DeviceProfile(
        device="cuda" if device == "cuda" else "cpu",
        name=device_name(device),
        torch_version=str(torch.__version__),
        threads=threads,
        memory_gib=device_memory_gib(device),
        gemm=tuple(gemm),
        mem_bw_gbs=max(mem.values()),
        mem_bw_detail=mem,
        elementwise_gbs=mix_gbs(ew),
        elementwise_precision=ew_prec,
        elementwise_detail=ew,
        attention=tuple(attn),
        allreduce_gbs=max((c.bus_gbs for c in coll), default=None),
        collectives=tuple(coll),
        backend=backend,
        decode_gemm=tuple(decode),
        gemv_gbs=gemv,
        dispatch_us=sum(dispatch.values()) / len(dispatch),
        dispatch_detail=dispatch,
        quick=quick,
        notes=tuple(notes),
    )
