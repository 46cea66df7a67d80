"""Microbenchmarks behind ``gpuwise calibrate``: GEMM, memory bandwidth, all-reduce.

Each benchmark keeps the *best* time of several repetitions (the achievable peak, as
vendor peaks are), after one warm-up call.  Conventions:

* GEMM: ``2*m*n*k`` floating-point operations per ``A[m,k] @ B[k,n]``.
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
        return BenchPlan((64, 128, 256, 512), 0.15, 0.03, 32 * mib, (mib, 4 * mib))
    return BenchPlan((128, 256, 512, 1024, 2048), 1.0, 0.3, 256 * mib, (mib, 16 * mib, 64 * mib))


def best_time(fn: Callable[[], Any], sync: Callable[[], None], budget_s: float,
              min_reps: int = 2) -> float:
    """Best wall time of one ``fn()`` call over at least ``min_reps`` calls and ``budget_s``."""
    fn()
    sync()
    best = math.inf
    reps = 0
    start = time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def _sync_for(device: str) -> Callable[[], None]:
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


def bench_gemm(
    device: str,
    sizes: tuple[int, ...],
    precisions: tuple[str, ...] = PRECISIONS,
    budget_s: float = 0.05,
    max_call_s: float = 0.5,
) -> tuple[list[GemmPoint], list[str]]:
    """Square GEMM throughput per size and precision; returns (points, notes)."""
    torch = require_torch()
    sync = _sync_for(device)
    points: list[GemmPoint] = []
    notes: list[str] = []
    for prec in precisions:
        if not gemm_supported(device, prec):
            notes.append(f"{prec} GEMM not supported on {device}; skipped")
            continue
        dtype = torch_dtype(prec)
        for n in sizes:
            a = torch.randn(n, n, device=device).to(dtype)
            b = torch.randn(n, n, device=device).to(dtype)

            def mm(a: Any = a, b: Any = b) -> Any:
                return torch.mm(a, b)

            t = best_time(mm, sync, budget_s)
            points.append(GemmPoint(m=n, n=n, k=n, precision=prec, tflops=2 * n**3 / t / 1e12,
                                    seconds=t))
            if t > max_call_s:
                notes.append(f"{prec} GEMM sizes above {n} skipped ({t:.2f} s per GEMM)")
                break
    return points, notes


def bench_memory(device: str, nbytes: int, budget_s: float = 0.1) -> dict[str, float]:
    """STREAM copy and triad bandwidth in GB/s over arrays of ``nbytes`` each."""
    torch = require_torch()
    sync = _sync_for(device)
    n = max(1, nbytes // 4)
    a = torch.empty(n, dtype=torch.float32, device=device)
    b = torch.rand(n, dtype=torch.float32, device=device)
    c = torch.rand(n, dtype=torch.float32, device=device)
    size = n * 4
    t_copy = best_time(lambda: a.copy_(b), sync, budget_s, min_reps=3)
    t_triad = best_time(lambda: torch.add(b, c, alpha=3.0, out=a), sync, budget_s, min_reps=3)
    return {"copy": 2 * size / t_copy / 1e9, "triad": 3 * size / t_triad / 1e9}


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
              collectives: bool = True) -> DeviceProfile:
    """Run every microbenchmark on ``device`` and return the profile."""
    torch = require_torch()
    device = resolve_device(device)
    set_threads(threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32 means FP32, as in the catalog
    plan = bench_plan(device, quick)
    gemm, notes = bench_gemm(device, plan.gemm_sizes, budget_s=plan.gemm_budget_s,
                             max_call_s=plan.max_gemm_call_s)
    mem = bench_memory(device, plan.stream_bytes)
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
        allreduce_gbs=max((c.bus_gbs for c in coll), default=None),
        collectives=tuple(coll),
        backend=backend,
        quick=quick,
        notes=tuple(notes),
    )
