"""Continuous batching (Yu et al. 2022, Orca; Kwon et al. 2023, vLLM) at a request rate.

One replica serves requests of ``prompt`` input and ``output`` generated tokens arriving at
``rate`` per second.  Prefills (time T_p each) interrupt decoding; decode steps advance every
running sequence by one token.  Per second the engine spends ρ = rate·T_p on prefills and the
rest on decode steps, so the mean time per output token and the concurrency satisfy

    TPOT = T_dec(b) / (1 − ρ),      b = rate · output · TPOT      (Little's law)

which we solve for b.  TTFT = T_p + the residual of the step in progress + the wait behind
other prefills, approximated by M/D/1 (mean) and an exponential tail (p99) for that queue.
These are steady-state approximations, not a simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq

from gpuwise.serving.timing import Deployment, decode_step, prefill
from gpuwise.serving.workload import Workload

__all__ = ["OperatingPoint", "Slo", "Workload", "max_rate", "saturation_rate", "steady_state"]


@dataclass(frozen=True)
class OperatingPoint:
    """Steady state of one replica at ``rate`` requests/s."""

    rate: float
    batch: float  # mean running sequences
    tpot_s: float
    ttft_p50_s: float
    ttft_p99_s: float

    @property
    def output_tokens_per_s(self) -> float:
        return self.batch / self.tpot_s  # = rate · output by Little's law


def prefill_s(dep: Deployment, wl: Workload) -> float:
    """Time to prefill one mean-length prompt."""
    return prefill(dep, 1, wl.prompt).total_s


def ttft_s(
    t_prefill: float, t_step: float, rho: float, quantile: float, t_own: float | None = None
) -> float:
    """TTFT at a quantile (0.5 or 0.99): own prefill + step residual + prefill-queue wait.

    ``t_prefill`` is the mean prefill (the queue's service time), ``t_own`` the prefill of
    the request at that quantile (a p99-length prompt; default the mean).
    """
    own = t_prefill if t_own is None else t_own
    if quantile <= 0.5:
        wait = rho * t_prefill / (2.0 * (1.0 - rho))  # M/D/1 mean wait (Pollaczek-Khinchine)
        return own + t_step / 2.0 + wait
    # Exponential tail with the M/D/1 mean, P(W > t) ≈ ρ·exp(−ρt/W̄) (Kingman's
    # heavy-traffic form, deterministic service: half the M/M/1 wait).
    p = 1.0 - quantile
    wait = t_prefill / (2.0 * (1.0 - rho)) * math.log(rho / p) if rho > p else 0.0
    return own + t_step + wait


def steady_state(
    dep: Deployment, wl: Workload, rate: float, max_batch: int
) -> OperatingPoint | None:
    """The operating point at ``rate`` req/s, or None when it overloads the replica."""
    t_p = prefill_s(dep, wl)
    rho = rate * t_p
    if rate <= 0 or rho >= 1.0:
        return None

    def gap(b: float) -> float:
        return b - rate * wl.output * decode_step(dep, b, wl.mean_context).total_s / (1 - rho)

    if gap(float(max_batch)) < 0:
        return None  # would need more concurrent sequences than the KV cache holds
    b = float(brentq(gap, 1e-9, float(max_batch), xtol=1e-6))
    t_dec = decode_step(dep, max(b, 1.0), wl.mean_context).total_s
    tpot = t_dec / (1 - rho)
    return OperatingPoint(
        rate=rate,
        batch=b,
        tpot_s=tpot,
        ttft_p50_s=ttft_s(t_p, t_dec, rho, 0.5),
        ttft_p99_s=ttft_s(t_p, t_dec, rho, 0.99, prefill(dep, 1, wl.prompt_tail).total_s),
    )


@dataclass(frozen=True)
class Slo:
    """Latency objectives (seconds); ``quantile`` is what the TTFT target applies to."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    quantile: float = 0.99

    def met(self, op: OperatingPoint) -> bool:
        ttft = op.ttft_p99_s if self.quantile > 0.5 else op.ttft_p50_s
        if self.ttft_s is not None and ttft > self.ttft_s:
            return False
        return self.tpot_s is None or op.tpot_s <= self.tpot_s


def saturation_rate(dep: Deployment, wl: Workload, max_batch: int) -> float:
    """Requests/s when every KV slot is busy: 1 / (T_p + output·T_dec(B)/B)."""
    b = max(1, max_batch)
    t_dec = decode_step(dep, b, wl.mean_context).total_s
    return 1.0 / (prefill_s(dep, wl) + wl.output * t_dec / b)


def max_rate(
    dep: Deployment, wl: Workload, slo: Slo, max_batch: int
) -> OperatingPoint | None:
    """The highest request rate one replica sustains within ``slo`` (None: not even ~0)."""
    hi = saturation_rate(dep, wl, max_batch)
    best: OperatingPoint | None = None
    lo_r, hi_r = 0.0, hi
    for _ in range(40):  # bisection on the rate: latency grows with load
        mid = (lo_r + hi_r) / 2.0
        op = steady_state(dep, wl, mid, max_batch)
        if op is not None and slo.met(op):
            best, lo_r = op, mid
        else:
            hi_r = mid
        if hi_r - lo_r < 1e-4 * hi:
            break
    return best
