"""``plan size`` as a library: budget → compute-optimal and inference-aware model sizes.

Returns plain dicts (the CLI's JSON contract).  The budget is FLOPs, or GPU time turned into
tokens by the training planner (``budget``).  The three fits are all reported so their
disagreement is visible; the selected one drives the recommendation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpuwise.errors import GpuwiseError
from gpuwise.sizing.budget import (
    gpu_days_for,
    largest_trainable,
    shape_for_params,
    tokens_in_budget,
)
from gpuwise.sizing.inference_aware import inference_optimal
from gpuwise.sizing.laws import FITS, Laws, check_fit, load_laws

# The Chinchilla fits were measured on models of 70M-16B parameters (Hoffmann et al. 2022,
# sec. 3); below ~70M a "compute-optimal" size is an extrapolation we refuse.
MIN_PARAMS = 7.0e7
CANDIDATE_FACTORS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Budget:
    """FLOPs, or GPUs for some time (``seconds``); ``seq`` is the training sequence length and
    ``precision`` the training GEMM precision (bf16 or fp8)."""

    flops: float | None = None
    gpu: str | None = None
    gpus: int | None = None
    seconds: float | None = None
    seq: int = 4096
    precision: str = "bf16"

    @property
    def has_gpus(self) -> bool:
        return self.gpu is not None and self.gpus is not None


def budget_flops(laws: Laws, fit: str, b: Budget) -> float:
    """Scaling-law FLOPs (6·N·D) of the budget, at the compute-optimal size for GPU budgets.

    With GPUs, D depends on N through the achievable MFU of an N-parameter model, so we iterate
    N ← N_opt(6·N·D(N)) to a fixed point (a few steps: MFU varies slowly with N).
    """
    if b.flops is not None:
        return b.flops
    if not b.has_gpus or b.seconds is None:
        raise GpuwiseError("give --flops F, or --gpus NxTYPE with --days D or --gpu-hours H")
    assert b.gpu is not None and b.gpus is not None
    acc_peak = 1e15 * b.gpus * b.seconds * 0.4  # first guess: 40 % of 1 PFLOP/s per GPU
    n = max(MIN_PARAMS, laws.optimum(fit, acc_peak)[0])
    flops = acc_peak
    for _ in range(6):
        try:
            tokens = tokens_in_budget(n, b.gpu, b.gpus, b.seconds, b.seq, b.precision)
        except GpuwiseError:
            raise GpuwiseError(_too_big_message(n, b)) from None
        flops = 6.0 * n * tokens
        n_new = max(MIN_PARAMS, laws.optimum(fit, flops)[0])
        if abs(n_new / n - 1.0) < 0.01:
            break
        n = n_new
    return flops


def _too_big_message(n: float, b: Budget) -> str:
    assert b.gpu is not None and b.gpus is not None
    top = largest_trainable(b.gpu, b.gpus, b.seq, b.precision)
    where_ = f"{b.gpus}×{b.gpu}"
    if top is None:
        return f"no model of at least {MIN_PARAMS / 1e6:.0f}M parameters trains on {where_}"
    return (
        f"this budget's compute-optimal model (~{n / 1e9:.3g}B parameters) does not fit for "
        f"training on {where_}; the largest that fits is ~{top / 1e9:.3g}B (train it on the "
        f"whole budget, past compute-optimal), or add GPUs for the optimum"
    )


def _check_size(laws: Laws, fit: str, flops: float, b: Budget) -> None:
    n, _ = laws.optimum(fit, flops)
    if n >= MIN_PARAMS:
        return
    # C scales as N^(1/a): invert for the smallest budget the fits cover.
    c_min = flops * (MIN_PARAMS / n) ** 2.2
    while laws.optimum(fit, c_min)[0] > MIN_PARAMS * 1.05:
        c_min /= 1.1
    while laws.optimum(fit, c_min)[0] < MIN_PARAMS:
        c_min *= 1.02
    hint = ""
    if b.seconds is not None and b.flops is None:
        hint = f" (about {b.seconds / 86400 * c_min / flops:.2g} days on these GPUs)"
    raise GpuwiseError(
        f"a budget of {flops:.3g} FLOPs gives a {n / 1e6:.0f}M-parameter optimum, below the "
        f"{MIN_PARAMS / 1e6:.0f}M the fits were measured on; it needs at least {c_min:.3g} "
        f"FLOPs{hint}"
    )


def _row(
    laws: Laws, fit: str, params: float, tokens: float, b: Budget, infer_tokens: float,
    serve_cost: dict[float, float | None],
) -> dict[str, object]:
    law = laws.loss_law(fit)
    train = laws.k_train * params * tokens
    infer = laws.k_infer * params * infer_tokens
    row: dict[str, object] = {
        "params": params,
        "tokens": tokens,
        "tokens_per_param": tokens / params,
        "loss": law.loss(params, tokens),
        "train_flops": train,
        "train_gpu_days": None,
        "train_days": None,
        "inference_flops": infer,
        "total_flops": train + infer,
        "serve_gpu_hours_per_mtok": serve_cost.get(params),
    }
    if b.has_gpus:
        assert b.gpu is not None and b.gpus is not None
        gd = gpu_days_for(params, tokens, b.gpu, b.gpus, b.seq, b.precision)
        row["train_gpu_days"] = gd
        row["train_days"] = gd / b.gpus
    return row


def plan_size(
    b: Budget,
    fit: str | None = None,
    inference_tokens: float = 0.0,
    serve_gpu: str | None = None,
) -> dict[str, object]:
    """The compute-optimal model for the budget, the fits side by side, candidates, and the
    inference-aware choice when ``inference_tokens`` > 0 (Sardana et al. 2023)."""
    laws = load_laws()
    fit = fit or laws.default_fit
    check_fit(fit)
    if b.flops is not None and not (b.flops > 0 and math.isfinite(b.flops)):
        raise GpuwiseError(f"--flops must be a positive number, got {b.flops:g}")
    if inference_tokens < 0:
        raise GpuwiseError(f"--inference-tokens must be ≥ 0, got {inference_tokens:g}")
    flops = budget_flops(laws, fit, b)
    _check_size(laws, fit, flops, b)
    n_opt, d_opt = laws.optimum(fit, flops)
    law = laws.loss_law(fit)
    loss = law.loss(n_opt, d_opt)
    sizes = [n_opt * f for f in CANDIDATE_FACTORS if n_opt * f >= MIN_PARAMS]
    aware = None
    if inference_tokens > 0:
        aware = inference_optimal(law, loss, inference_tokens, laws.k_train, laws.k_infer)
    serve_cost = _serve_costs(sizes + ([aware.params] if aware else []), serve_gpu)
    cands = [
        _row(laws, fit, n, flops / (laws.k_train * n), b, inference_tokens, serve_cost)
        for n in sizes
    ]
    out: dict[str, object] = {
        "fit": fit,
        "flops": flops,
        "params": n_opt,
        "tokens": d_opt,
        "loss": loss,
        "loss_law": law.name,
        "fits": {f: _fit_summary(laws, f, flops) for f in FITS},
        "candidates": cands,
        "inference_aware": None,
        "recommendation": next(r for r in cands if r["params"] == n_opt),
    }
    if b.has_gpus:
        out["budget"] = {"gpu": b.gpu, "gpus": b.gpus, "days": (b.seconds or 0) / 86400}
    if aware is not None:
        row = _row(laws, fit, aware.params, aware.tokens, b, inference_tokens, serve_cost)
        chin_total = flops + laws.k_infer * n_opt * inference_tokens
        row["target_loss"] = loss
        row["saving_vs_compute_optimal"] = 1.0 - aware.total_flops / chin_total
        out["inference_aware"] = row
        out["recommendation"] = row
    return out


def _fit_summary(laws: Laws, fit: str, flops: float) -> dict[str, float]:
    n, d = laws.optimum(fit, flops)
    return {"params": n, "tokens": d, "loss": laws.loss_law(fit).loss(n, d)}


def _serve_costs(sizes: list[float], gpu: str | None) -> dict[float, float | None]:
    """GPU-hours per million output tokens for each size on ``gpu`` (None without a GPU)."""
    if gpu is None:
        return {}
    from gpuwise.sizing.serve_cost import gpu_hours_per_mtok

    return {n: gpu_hours_per_mtok(shape_for_params(n), gpu) for n in sizes}
