"""Answers built on the search: what would fit when nothing does, and the fewest GPUs that
meet a deadline.  Library functions return values; the CLI prints them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Setup
from gpuwise.planner.search import SearchResult, search

#: Largest GPU count :func:`nearest_fit` tries.
MAX_GPUS = 65536


def fits_on(
    model: ModelConfig, hw: Hardware, setup: Setup, fixed: dict[str, object], n: int
) -> dict[str, object] | None:
    """The best plan on ``n`` GPUs (batch rounded up to a multiple of ``n``), or None."""
    batch = math.lcm(setup.global_batch, n)
    r = search(model, hw, replace(setup, gpus=n, global_batch=batch), fixed, top=1)
    return r.ranked[0] if r.ranked else None


def nearest_fit(
    model: ModelConfig,
    hw: Hardware,
    setup: Setup,
    fixed: dict[str, object],
    gpu_type: str,
    owned: int,
) -> str:
    """Where nothing fits on ``owned`` GPUs: a clause naming what would.

    First the same GPUs without the user's fixed settings; else the smallest GPU count
    (doubling, then bisecting on whole nodes, assuming more GPUs never need more memory).
    """
    if fixed:
        free = fits_on(model, hw, setup, {}, owned)
        if free is not None:
            return (
                f"it fits on {owned} {gpu_type} without your fixed settings, e.g. "
                f"tp={free['tp']} pp={free['pp']} zero={free['zero']} "
                f"recompute={free['recompute']} micro_batch={free['micro_batch']}"
            )
    step = setup.gpus_per_node
    lo, hi, plan = owned, 0, None
    n = max(step, owned)
    while n < MAX_GPUS:  # double until something fits
        n *= 2
        plan = fits_on(model, hw, setup, fixed, n)
        if plan is not None:
            hi = n
            break
        lo = n
    if plan is None:
        return f"it does not fit even on {n} GPUs of {gpu_type}"
    while hi - lo > step:  # then bisect on multiples of a node
        mid = (lo + hi) // 2 // step * step
        if mid <= lo:
            break
        p = fits_on(model, hw, setup, fixed, mid)
        if p is not None:
            hi, plan = mid, p
        else:
            lo = mid
    return (
        f"needs >= {hi} GPUs of {gpu_type} (e.g. tp={plan['tp']} pp={plan['pp']} "
        f"zero={plan['zero']} recompute={plan['recompute']})"
    )


def explain_no_fit(
    model: ModelConfig,
    res: SearchResult,
    hw: Hardware,
    setup: Setup,
    fixed: dict[str, object],
    gpu_type: str,
    owned: int,
) -> str:
    """One sentence: why ``res`` is empty and the closest thing that would work."""
    if res.evaluated == 0:
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(res.rejected.items()))
        return (
            f"no parallel configuration of {owned} {gpu_type} divides this model and batch "
            f"(rejected: {reasons})"
        )
    hbm = hw.acc.memory_gib * (1 - setup.mem_margin)
    fix = nearest_fit(model, hw, setup, fixed, gpu_type, owned)
    return (
        f"{model.name} does not fit on {owned} {gpu_type} in any configuration (the leanest "
        f"needs {res.smallest_memory_gib:.1f} GiB per GPU, {hbm:.1f} usable); {fix}"
    )


def min_gpus_for_deadline(
    model: ModelConfig,
    hw: Hardware,
    setup: Setup,
    fixed: dict[str, object],
    owned: int,
    deadline_days: float,
) -> tuple[int, dict[str, Any]] | None:
    """Fewest GPUs (1..node, then whole nodes up to ``owned``) whose best plan trains
    ``setup.tokens`` within ``deadline_days``; None when even ``owned`` cannot."""
    per_node = setup.gpus_per_node
    counts = list(range(1, min(per_node, owned + 1))) + list(range(per_node, owned + 1, per_node))
    for n in counts:
        res = search(model, hw, replace(setup, gpus=n), fixed, top=1)
        if res.ranked:
            days = res.ranked[0]["days"]
            if isinstance(days, float) and days <= deadline_days:
                return n, res.ranked[0]
    return None
