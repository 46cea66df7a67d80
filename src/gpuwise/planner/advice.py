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


def _plan_clause(plan: dict[str, object]) -> str:
    """``e.g. tp=.. pp=.. zero=.. recompute=.. micro_batch=..`` for a found plan."""
    return (
        f"e.g. tp={plan['tp']} pp={plan['pp']} zero={plan['zero']} "
        f"recompute={plan['recompute']} micro_batch={plan['micro_batch']}"
    )


def ep_conflict(model: ModelConfig, ep: int | None) -> str | None:
    """Why a fixed expert-parallel size cannot work for ``model`` (dense, or not dividing its
    experts), with what would; None when it can."""
    if ep is None or ep <= 1:
        return None
    if not model.is_moe:
        return (f"--ep {ep} needs a mixture-of-experts model; {model.name} is dense "
                "(use --ep 1 or leave it out)")
    if model.experts % ep:
        ok = [d for d in range(1, model.experts + 1) if model.experts % d == 0]
        return (f"--ep {ep} does not divide the model's {model.experts} experts "
                f"(try {', '.join(map(str, ok))})")
    return None


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
            clause = _plan_clause(free)
            return f"it fits on {owned} {gpu_type} without your fixed settings, {clause}"
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
        conflict = _fixed_conflict(model, hw, setup, fixed, gpu_type, owned)
        if conflict is not None:
            return conflict
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(res.rejected.items()))
        hint = ""
        if fixed:
            free = fits_on(model, hw, setup, {}, owned)
            if free is not None:
                hint = f"; without your fixed settings it runs, {_plan_clause(free)}"
        return (
            f"no parallel configuration of {owned} {gpu_type} divides this model and batch "
            f"(rejected: {reasons}){hint}"
        )
    hbm = hw.acc.memory_gib * (1 - setup.mem_margin)
    fix = nearest_fit(model, hw, setup, fixed, gpu_type, owned)
    return (
        f"{model.name} does not fit on {owned} {gpu_type} in any configuration (the leanest "
        f"needs {res.smallest_memory_gib:.1f} GiB per GPU, {hbm:.1f} usable); {fix}"
    )


def _fixed_conflict(
    model: ModelConfig,
    hw: Hardware,
    setup: Setup,
    fixed: dict[str, object],
    gpu_type: str,
    owned: int,
) -> str | None:
    """A sentence naming the fixed setting that rules out every configuration, with what would
    work instead, or None when no single fixed setting is to blame."""
    if fixed.get("precision") == "fp8" and not hw.supports("fp8"):
        return f"{gpu_type} has no FP8 tensor cores; use --precision bf16 (or leave it free)"
    span = 1
    for key in ("tp", "pp", "cp"):
        span *= int(fixed.get(key, 1))  # type: ignore[call-overload]
    if span > 1 and owned % span:
        given = " x ".join(f"--{k} {fixed[k]}" for k in ("tp", "pp", "cp") if k in fixed)
        ok = [d for d in range(1, owned + 1) if owned % d == 0 and d <= 64]
        return (
            f"{given} = {span} GPUs per model replica does not divide the {owned} {gpu_type} "
            f"(a replica must span a divisor of them: {', '.join(map(str, ok))})"
        )
    ep = fixed.get("ep")
    return ep_conflict(model, None if ep is None else int(ep))  # type: ignore[call-overload]


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
