"""Scaling laws: compute-optimal parameters and tokens for a FLOP budget, and predicted loss.

Three fits, selectable by name (constants and sources in ``scaling_laws.yaml``):

- ``approach1`` — Chinchilla Approach 1 (Hoffmann et al. 2022, Table 2/3): N_opt ∝ C^0.5,
  D_opt = C / 6N_opt. It has no loss function; its loss comes from ``approach1_loss_law``.
- ``hoffmann`` — Chinchilla Approach 3, L(N, D) = E + A/N^α + B/D^β (Hoffmann eq. 10).
- ``besiroglu`` — the 2024 replication of Approach 3 (Besiroglu et al., arXiv 2404.10102).

Training compute is C = 6·N·D (Kaplan et al. 2020 §2.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from gpuwise.errors import GpuwiseError, did_you_mean

FITS: tuple[str, ...] = ("approach1", "hoffmann", "besiroglu")


@dataclass(frozen=True)
class ParametricLaw:
    """L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 10)."""

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, params: float, tokens: float) -> float:
        """Predicted loss (nats/token) of a model with ``params`` trained on ``tokens``."""
        return self.E + self.A / params**self.alpha + self.B / tokens**self.beta

    def optimum(self, flops: float, k_train: float = 6.0) -> tuple[float, float]:
        """Compute-optimal (N, D) under C = k·N·D (Hoffmann eq. 4, closed form of Approach 3).

        N_opt = G·(C/k)^(β/(α+β)), D_opt = G⁻¹·(C/k)^(α/(α+β)), G = (αA/(βB))^(1/(α+β)).
        """
        s = self.alpha + self.beta
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / s)
        n = g * (flops / k_train) ** (self.beta / s)
        return n, flops / (k_train * n)

    def tokens_for_loss(self, params: float, loss: float) -> float:
        """Training tokens that bring a ``params`` model to ``loss`` (inf when unreachable).

        Inverts eq. 10 for D: D = (B / (L − E − A/N^α))^(1/β) (Sardana et al. 2023, §2).
        """
        gap = loss - self.E - self.A / params**self.alpha
        if gap <= 0:
            return math.inf
        return float((self.B / gap) ** (1.0 / self.beta))

    def min_params_for_loss(self, loss: float) -> float:
        """The smallest model that can reach ``loss`` with unlimited data: (A/(L−E))^(1/α)."""
        if loss <= self.E:
            return math.inf
        return float((self.A / (loss - self.E)) ** (1.0 / self.alpha))


@dataclass(frozen=True)
class Approach1:
    """N_opt = N_anchor·(C/C_anchor)^a, D_opt = C/(6·N_opt) (Hoffmann et al. 2022, Approach 1)."""

    a: float
    anchor_flops: float
    anchor_params: float
    source: str

    def optimum(self, flops: float, k_train: float = 6.0) -> tuple[float, float]:
        """Compute-optimal (N, D) for ``flops`` training FLOPs."""
        n = self.anchor_params * (flops / self.anchor_flops) ** self.a
        return n, flops / (k_train * n)


@dataclass(frozen=True)
class Laws:
    """Every fit of ``scaling_laws.yaml``."""

    parametric: dict[str, ParametricLaw]
    approach1: Approach1
    approach1_loss_law: str
    default_fit: str
    k_train: float
    k_infer: float

    def law(self, name: str) -> ParametricLaw:
        """The parametric law called ``name`` (raises GpuwiseError with a suggestion)."""
        if name not in self.parametric:
            raise GpuwiseError(
                f"--fit: unknown parametric fit {name!r}; expected one of "
                f"{', '.join(self.parametric)}{did_you_mean(name, self.parametric)}"
            )
        return self.parametric[name]

    def loss_law(self, fit: str) -> ParametricLaw:
        """The law that predicts loss for ``fit`` (approach1 borrows one)."""
        return self.law(self.approach1_loss_law if fit == "approach1" else fit)

    def optimum(self, fit: str, flops: float) -> tuple[float, float]:
        """Compute-optimal (params, tokens) for ``flops`` under ``fit``."""
        check_fit(fit)
        if fit == "approach1":
            return self.approach1.optimum(flops, self.k_train)
        return self.law(fit).optimum(flops, self.k_train)


def check_fit(fit: str) -> None:
    """Raise GpuwiseError unless ``fit`` is one of :data:`FITS`."""
    if fit not in FITS:
        raise GpuwiseError(
            f"--fit: unknown fit {fit!r}; expected one of {', '.join(FITS)}"
            f"{did_you_mean(fit, FITS)}"
        )


def _num(raw: Any) -> float:
    return float(raw)  # YAML 1.1 may hand "5.76e23" over as a string


@cache
def load_laws() -> Laws:
    """Read the packaged ``scaling_laws.yaml`` (once per process)."""
    text = resources.files("gpuwise.sizing").joinpath("scaling_laws.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    parametric = {
        name: ParametricLaw(
            name=name,
            E=_num(v["E"]),
            A=_num(v["A"]),
            B=_num(v["B"]),
            alpha=_num(v["alpha"]),
            beta=_num(v["beta"]),
            source=str(v["source"]),
        )
        for name, v in raw["parametric"].items()
    }
    a1 = raw["approach1"]
    return Laws(
        parametric=parametric,
        approach1=Approach1(
            a=_num(a1["a"]),
            anchor_flops=_num(a1["anchor_flops"]),
            anchor_params=_num(a1["anchor_params"]),
            source=str(a1["source"]),
        ),
        approach1_loss_law=str(raw["approach1_loss_law"]),
        default_fit=str(raw["default_fit"]),
        k_train=_num(raw["train_flops_per_param_token"]),
        k_infer=_num(raw["inference_flops_per_param_token"]),
    )
