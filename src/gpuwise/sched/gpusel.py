"""GPU selection on the chosen node (the artifact's Open-Gpu-Share ``Reserve``).

Whole-GPU requests always take the lowest-indexed fully free GPUs (``AllocateExclusiveGpuId``).
A GPU-sharing request goes to: ``best_fit`` the GPU with the least free milli-GPU that still
fits (lowest index on ties), ``random_fit`` a uniformly random GPU that fits, ``from_hint``
the GPU its scorer chose (FGD), falling back to best fit.
"""

from __future__ import annotations

import numpy as np

from gpuwise.sched.plugin import Context
from gpuwise.sched.types import MILLI


def exclusive(ctx: Context, node: int) -> tuple[int, ...]:
    """The first ``num_gpu`` fully free GPUs of ``node`` in index order."""
    free = ctx.snapshot.gpu_free[node, : ctx.snapshot.gpu_count[node]]
    idx = np.flatnonzero(free >= MILLI)[: ctx.request.num_gpu]
    if len(idx) < ctx.request.num_gpu:
        raise ValueError(f"node {ctx.snapshot.names[node]} lacks {ctx.request.num_gpu} free GPUs")
    return tuple(int(i) for i in idx)


def _fitting(ctx: Context, node: int) -> np.ndarray:
    free = ctx.snapshot.gpu_free[node, : ctx.snapshot.gpu_count[node]]
    return np.flatnonzero(free >= ctx.request.gpu_milli)


def best_fit(ctx: Context, node: int, hint: int = -1) -> tuple[int, ...]:
    """Tightest GPU for a share; first free GPUs for whole-GPU requests."""
    req = ctx.request
    if req.num_gpu == 0:
        return ()
    if not req.is_share:
        return exclusive(ctx, node)
    fit = _fitting(ctx, node)
    free = ctx.snapshot.gpu_free[node, fit]
    return (int(fit[int(np.argmin(free))]),)


def random_fit(ctx: Context, node: int, hint: int = -1) -> tuple[int, ...]:
    """A uniformly random fitting GPU for a share; first free GPUs otherwise."""
    req = ctx.request
    if req.num_gpu == 0:
        return ()
    if not req.is_share:
        return exclusive(ctx, node)
    fit = _fitting(ctx, node)
    return (int(fit[int(ctx.rng.integers(len(fit)))]),)


def from_hint(ctx: Context, node: int, hint: int = -1) -> tuple[int, ...]:
    """The scorer's GPU for a share when it gave one, else best fit."""
    if ctx.request.is_share and hint >= 0:
        return (hint,)
    return best_fit(ctx, node, hint)
