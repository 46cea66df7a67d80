"""Search every valid parallel configuration for one GPU type and rank by time to train.

Enumerates (TP, PP, VPP, CP, EP, DP, ZeRO, recompute, micro-batch, precision), drops the
tuples that do not divide (counting each reason), evaluates the rest in one vectorized pass
(:func:`gpuwise.planner.evaluate.evaluate`), drops those that do not fit in memory, and sorts
by step time (for a fixed GPU count and batch this is also time to train and GPU-hours).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from gpuwise.planner.evaluate import evaluate
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.memory import GIB
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import PRECISIONS, RECOMPUTE, Candidates, Setup
from gpuwise.planner.recompute import op_sac_supported

#: Largest micro-batch (sequences) and virtual-stage count the search tries.
MAX_MICRO_BATCH = 64
MAX_VPP = 8

RESULT_FIELDS = (
    "memory_gib_per_gpu",
    "step_time_s",
    "tokens_per_s_per_gpu",
    "tflops_per_gpu",
    "hw_tflops_per_gpu",
    "mfu",
    "hfu",
    "days",
    "gpu_hours",
    "energy_mwh",
)


@dataclass
class SearchResult:
    """Ranked fitting candidates (as JSON-ready dicts) and what was rejected, by reason."""

    ranked: list[dict[str, object]]
    evaluated: int
    rejected: dict[str, int] = field(default_factory=dict)
    smallest_memory_gib: float | None = None  # least memory any evaluated config needed


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _options(fixed: int | None, pool: list[int]) -> list[int]:
    return [fixed] if fixed is not None else pool


def enumerate_candidates(
    model: ModelConfig, setup: Setup, fixed: dict[str, object], fp8_ok: bool
) -> tuple[Candidates, dict[str, int]]:
    """All structurally valid candidates and counts of rejected tuples per reason."""
    g = setup.gpus
    rejected: dict[str, int] = {}

    def reject(reason: str, n: int) -> None:
        if n:
            rejected[reason] = rejected.get(reason, 0) + n

    pw2 = [d for d in _divisors(g) if d & (d - 1) == 0]
    tps = _options(fixed.get("tp"), [d for d in pw2 if d <= setup.gpus_per_node])  # type: ignore[arg-type]
    pps = _options(fixed.get("pp"), _divisors(g))  # type: ignore[arg-type]
    cps = _options(fixed.get("cp"), [d for d in pw2 if d <= 16])  # type: ignore[arg-type]
    vpps = _options(fixed.get("vpp"), list(range(1, MAX_VPP + 1)))  # type: ignore[arg-type]
    eps = _options(fixed.get("ep"), _divisors(model.experts) if model.is_moe else [1])  # type: ignore[arg-type]
    zeros = _options(fixed.get("zero"), [0, 1, 2, 3])  # type: ignore[arg-type]
    rc = fixed.get("recompute")
    rcs = [RECOMPUTE.index(str(rc))] if rc is not None else [0, 1, 2]
    pr = fixed.get("precision")
    precs = [PRECISIONS.index(str(pr))] if pr is not None else [0, 1]
    mb_fixed = fixed.get("micro_batch")
    # an op-level engine's selective recompute is modelled for dense MHA/GQA models only
    selective_ok = setup.engine.selective != "op" or op_sac_supported(model)
    rows: list[tuple[int, ...]] = []
    for tp, pp, cp, vpp, ep in itertools.product(tps, pps, cps, vpps, eps):
        n_inner = len(zeros) * len(rcs) * len(precs)
        if g % (tp * pp * cp):
            reject("gpus_not_divisible", n_inner)
            continue
        dp = g // (tp * pp * cp)
        if model.heads % tp or (model.kv % tp and model.mla is None):
            reject("heads_not_divisible_by_tp", n_inner)
            continue
        if pp > model.layers or (vpp > 1 and pp == 1):
            reject("pipeline_longer_than_layers", n_inner)
            continue
        if vpp > 1 and model.layers % (pp * vpp):
            reject("interleave_needs_layers_divisible_by_pp_vpp", n_inner)
            continue
        if setup.seq % (2 * cp) or (cp > 1 and setup.seq // cp < 128):
            reject("seq_not_divisible_by_cp", n_inner)
            continue
        if (dp * cp) % ep:
            reject("ep_not_dividing_dp", n_inner)
            continue
        if setup.global_batch % dp:
            reject("batch_not_divisible_by_dp", n_inner)
            continue
        per_dp = setup.global_batch // dp
        if mb_fixed is not None:
            mbs = [int(mb_fixed)]  # type: ignore[call-overload]
        else:
            mbs = [d for d in _divisors(per_dp) if d <= MAX_MICRO_BATCH]
        for mb in mbs:
            if per_dp % mb:
                reject("batch_not_divisible_by_micro_batch", n_inner)
                continue
            m = per_dp // mb
            if vpp > 1 and m % pp:
                reject("interleave_needs_microbatches_multiple_of_pp", n_inner)
                continue
            for z, r, p in itertools.product(zeros, rcs, precs):
                if p == 1 and not fp8_ok:
                    reject("no_fp8_on_gpu", 1)
                    continue
                if z > 0 and dp * cp == 1:
                    reject("zero_needs_dp", 1)
                    continue
                if r == 1 and not selective_ok:
                    reject("op_selective_recompute_needs_dense_model", 1)
                    continue
                rows.append((dp, tp, pp, vpp, cp, ep, z, r, mb, p))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 10)
    cands = Candidates(*(arr[:, i] for i in range(10)))
    return cands, rejected


def search(
    model: ModelConfig,
    hw: Hardware,
    setup: Setup,
    fixed: dict[str, object] | None = None,
    top: int = 10,
) -> SearchResult:
    """Evaluate every valid configuration and return the ``top`` fastest that fit."""
    fp8_ok = hw.supports("fp8")
    cands, rejected = enumerate_candidates(model, setup, fixed or {}, fp8_ok)
    if len(cands) == 0:
        return SearchResult([], 0, rejected)
    r = evaluate(model, hw, setup, cands)
    fits = r["mem_fits"]
    n_oom = int((~fits).sum())
    if n_oom:
        rejected["out_of_memory"] = n_oom
    smallest = float(r["mem_total"].min()) / GIB
    idx = np.flatnonzero(fits)
    order = idx[np.argsort(r["time_step"][idx], kind="stable")][:top]
    ranked = [result_row(cands, r, int(i)) for i in order]
    return SearchResult(ranked, len(cands), rejected, smallest)


def result_row(c: Candidates, r: dict[str, np.ndarray], i: int) -> dict[str, object]:
    """One candidate in the JSON contract's shape (plus a per-term memory breakdown)."""
    row: dict[str, object] = dict(c.row(i))
    row["memory_gib_per_gpu"] = round(float(r["mem_total"][i]) / GIB, 3)
    row["step_time_s"] = float(r["time_step"][i])
    for k in ("tokens_per_s_per_gpu", "tflops_per_gpu", "hw_tflops_per_gpu", "mfu", "hfu"):
        row[k] = float(r[k][i])
    for k in ("days", "gpu_hours", "energy_mwh"):
        row[k] = float(r[k][i]) if k in r else None
    row["memory_breakdown_gib"] = {
        k: round(float(r[f"mem_{k}"][i]) / GIB, 3)
        for k in ("weights", "gradients", "optimizer", "activations", "logits", "overhead")
    }
    row["time_breakdown_s"] = {
        k: float(r[f"time_{k}"][i])
        for k in ("pipeline_bubble", "dp_exposed", "optimizer", "tp_comm")
    }
    return row
