"""Inference-aware sizing (Sardana et al. 2023, "Beyond Chinchilla-Optimal", arXiv 2401.00448).

For a target loss ℓ and a lifetime inference volume D_inf, choose N (and the training tokens
D_tr(N) that reach ℓ) to minimize total compute

    C_total(N) = 6·N·D_tr(N) + 2·N·D_inf,   D_tr(N) = (B / (ℓ − E − A/N^α))^(1/β)

(Sardana eq. 2 with the Chinchilla parametric loss). With D_inf = 0 the minimum is the
Chinchilla compute-optimal model for the budget that reaches ℓ; serving traffic moves it to a
smaller model trained on more tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import minimize_scalar

from gpuwise.errors import GpuwiseError
from gpuwise.sizing.laws import ParametricLaw


@dataclass(frozen=True)
class IsoLossPoint:
    """One model size on the iso-loss curve."""

    params: float
    tokens: float
    train_flops: float
    inference_flops: float

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops


def iso_loss_point(
    law: ParametricLaw,
    params: float,
    loss: float,
    inference_tokens: float,
    k_train: float = 6.0,
    k_infer: float = 2.0,
) -> IsoLossPoint:
    """Training tokens and compute for a ``params`` model to reach ``loss``, plus serving."""
    tokens = law.tokens_for_loss(params, loss)
    return IsoLossPoint(
        params=params,
        tokens=tokens,
        train_flops=k_train * params * tokens,
        inference_flops=k_infer * params * inference_tokens,
    )


def inference_optimal(
    law: ParametricLaw,
    loss: float,
    inference_tokens: float,
    k_train: float = 6.0,
    k_infer: float = 2.0,
) -> IsoLossPoint:
    """The size that minimizes training + lifetime inference FLOPs at ``loss`` (Sardana §2)."""
    if inference_tokens < 0:
        raise GpuwiseError("--inference-tokens must be ≥ 0")
    n_min = law.min_params_for_loss(loss)
    if not math.isfinite(n_min):
        raise GpuwiseError(
            f"target loss {loss:.4f} is at or below the irreducible loss E={law.E:.4f} of the "
            f"{law.name} fit; choose a loss above {law.E:.4f}"
        )

    def total(log_n: float) -> float:
        p = iso_loss_point(law, math.exp(log_n), loss, inference_tokens, k_train, k_infer)
        return math.log(p.total_flops) if math.isfinite(p.total_flops) else 1e9

    # C_total → ∞ as N → n_min (tokens blow up) and grows ∝ N for large N: one minimum.
    lo, hi = math.log(n_min) + 1e-6, math.log(n_min) + math.log(1e6)
    res = minimize_scalar(total, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return iso_loss_point(law, math.exp(float(res.x)), loss, inference_tokens, k_train, k_infer)
