"""Gavel's policies on the round mechanism of :mod:`gavel`, each with an ``-agnostic`` twin.

=========================  ==========================================  ====================
registry name              LP (:mod:`gavel_lp`)                        Gavel policy name
=========================  ==========================================  ====================
``max-min-fairness``       :func:`gavel_lp.max_min_fairness`           ``max_min_fairness_perf``
``...-agnostic``           :func:`gavel_lp.max_min_fairness_agnostic`  ``max_min_fairness``
``min-makespan``           :func:`gavel_lp.min_makespan`               ``min_total_duration_perf``
``...-agnostic``           same, reference-type throughputs            ``min_total_duration``
``max-sum-throughput``     :func:`gavel_lp.max_sum_throughput`         ``max_sum_throughput_perf``
``...-agnostic``           same, reference-type throughputs            (none in Gavel)
``finish-time-fairness``   :func:`gavel_lp.finish_time_fairness`       ``finish_time_fairness_perf``
``...-agnostic``           same, reference-type throughputs            ``finish_time_fairness``
``min-avg-jct``            :func:`gavel_lp.min_avg_jct`                (none: gpuwise's own)
``...-agnostic``           same, reference-type throughputs            (none)
=========================  ==========================================  ====================

Gavel's agnostic twins of its remaining-work policies feed every type the job's V100
throughput (:func:`gavel_lp.reference_throughputs`); gpuwise uses the same convention for
the twins Gavel does not have.
"""

from __future__ import annotations

import numpy as np

from gpuwise.replay.jobs import JobRun
from gpuwise.replay.policies import gavel_lp
from gpuwise.replay.policies.base import Snapshot
from gpuwise.replay.policies.gavel import GavelRounds


class _Named(GavelRounds):
    def inputs(
        self, runs: list[JobRun], snap: Snapshot, types: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(throughputs as the LP sees them, scale factors, capacities)."""
        T = self.rates(runs, types)
        if self.agnostic:
            T = gavel_lp.reference_throughputs(T, self.reference)
        scale = np.array([r.job.num_gpus for r in runs], dtype=np.float64)
        return T, scale, self.capacities(snap, types)

    @staticmethod
    def remaining(runs: list[JobRun], snap: Snapshot) -> np.ndarray:
        """Work each job still has to do (Gavel's ``steps remaining``)."""
        return np.array([r.remaining_work(snap.now) for r in runs], dtype=np.float64)


class MaxMinFairness(_Named):
    """Gavel's LAS / max-min fairness over GPU types."""

    base_name = "max-min-fairness"

    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        T = self.rates(runs, types)
        scale = np.array([r.job.num_gpus for r in runs], dtype=np.float64)
        weights = np.array([r.job.weight for r in runs], dtype=np.float64)
        caps = self.capacities(snap, types)
        if self.agnostic:
            return gavel_lp.max_min_fairness_agnostic(T, scale, weights, caps)
        return gavel_lp.max_min_fairness(T, scale, weights, caps)


class MinMakespan(_Named):
    """Gavel's minimum total duration (makespan of the active jobs)."""

    base_name = "min-makespan"

    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        T, scale, caps = self.inputs(runs, snap, types)
        return gavel_lp.min_makespan(T, scale, self.remaining(runs, snap), caps)


class MaxSumThroughput(_Named):
    """Gavel's maximum total throughput."""

    base_name = "max-sum-throughput"

    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        T, scale, caps = self.inputs(runs, snap, types)
        return gavel_lp.max_sum_throughput(T, scale, caps)


class MinAvgJct(_Named):
    """gpuwise's minimum-average-JCT LP (heterogeneity-aware SRPT) on Gavel's mechanism."""

    base_name = "min-avg-jct"

    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        T, scale, caps = self.inputs(runs, snap, types)
        return gavel_lp.min_avg_jct(T, scale, self.remaining(runs, snap), caps)


class FinishTimeFairness(_Named):
    """Gavel's finish-time fairness (Themis' rho); the isolated time each job has already
    consumed is accumulated between solves, as Gavel does."""

    base_name = "finish-time-fairness"

    def __init__(
        self,
        agnostic: bool = False,
        round_s: float = 360.0,
        min_reset_s: float = 1920.0,
        seed: int = 0,
    ) -> None:
        super().__init__(agnostic, round_s, min_reset_s, seed)
        self._cum_iso: dict[int, float] = {}
        self._prev: dict[int, tuple[float, float]] = {}  # id -> (remaining, isolated rate)

    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        T, scale, caps = self.inputs(runs, snap, types)
        remaining = self.remaining(runs, snap)
        iso = gavel_lp.isolated_throughput(np.where(gavel_lp.runnable(T, scale, caps), T, 0.0),
                                           scale, caps)
        for i, r in enumerate(runs):
            cum = self._cum_iso.get(r.id, 0.0)
            if r.id in self._prev:
                before, rate = self._prev[r.id]
                cum += (before - remaining[i]) / max(rate, 1e-12)
            self._cum_iso[r.id] = cum
        self._prev = {r.id: (remaining[i], iso[i]) for i, r in enumerate(runs)}
        for gone in self._cum_iso.keys() - self._prev.keys():
            del self._cum_iso[gone]
        since = np.array([snap.now - r.job.submit_s for r in runs], dtype=np.float64)
        alone = np.array([self._cum_iso[r.id] for r in runs]) + remaining / np.maximum(iso, 1e-12)
        return gavel_lp.finish_time_fairness(T, scale, caps, since, remaining, alone)


GAVEL_POLICIES: dict[str, type[_Named]] = {
    cls.base_name: cls
    for cls in (MaxMinFairness, MinAvgJct, MinMakespan, MaxSumThroughput, FinishTimeFairness)
}
