"""Gavel's round-based mechanism realising an LP allocation by time slicing.

Every ``round_s`` seconds (Gavel's ``time_per_iteration``, 360 s in its simulations) the
policy (1) re-solves the allocation LP if the set of active jobs changed since the last
solve, which also restarts the bookkeeping of received time (Gavel's
``_reset_time_run_so_far``); (2) scores every (job, GPU type) pair with Gavel's priority
``X[i, t] / f[i, t]``, where ``f`` is the fraction of the time since the last solve that job
``i`` has spent on type ``t`` (a pair with ``X > 0`` that has received nothing ranks first);
(3) walks the pairs by descending priority, giving each job at most one type and as many
GPUs as its gang needs while the type has GPUs left.  Jobs that keep their type keep their
GPUs; the rest are preempted at the round boundary.  Jobs arriving mid-round wait for the
next round, and GPUs freed mid-round stay idle until then, as in Gavel's simulator.

``agnostic=True`` feeds the LP one throughput for every GPU type (its ``-agnostic`` twin);
jobs still progress at their true per-type rates.
"""

from __future__ import annotations

import math

import numpy as np

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies import gavel_lp
from gpuwise.replay.policies.base import WAIT_FRAG, Decision, Snapshot

WAIT_ROUND = "waiting: its share of the allocation goes to other jobs this round"


class _RoundBased:
    name = "gavel"
    preemptive = True

    def __init__(self, agnostic: bool = False, round_s: float = 360.0) -> None:
        self.agnostic = agnostic
        self.round_s: float | None = round_s
        self._ids: tuple[int, ...] = ()
        self._alloc: dict[int, np.ndarray] = {}
        self._reset_t = 0.0
        self._base: dict[tuple[int, str], float] = {}
        self.solves = 0

    def _allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        raise NotImplementedError

    def throughputs(self, runs: list[JobRun], types: list[str], caps: np.ndarray) -> np.ndarray:
        """The throughput matrix the LP sees (true, or one value per job if agnostic)."""
        T = np.array([[r.job.rate(t) for t in types] for r in runs], dtype=np.float64)
        T = T.reshape(len(runs), len(types))
        return gavel_lp.agnostic_throughputs(T, caps) if self.agnostic else T

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        if not snap.is_round:  # jobs start only at round boundaries
            return d
        now = snap.now
        types = list(snap.placer.types)
        runs = sorted(snap.active, key=lambda r: r.id)
        ids = tuple(r.id for r in runs)
        if ids != self._ids:
            x = self._allocate(runs, snap, types)
            self.solves += 1
            self._ids = ids
            self._alloc = {r.id: x[i] for i, r in enumerate(runs)}
            self._reset_t = now
            self._base = {(r.id, t): r.held_on(t, now) for r in runs for t in types}
        elapsed = now - self._reset_t
        pairs = []
        for r in runs:
            x = self._alloc[r.id]
            for j, t in enumerate(types):
                if r.job.rate(t) <= 0 or r.job.num_gpus > snap.counts.get(t, 0):
                    continue
                got = r.held_on(t, now) - self._base[(r.id, t)]
                frac = got / elapsed if elapsed > 0 else 0.0
                if frac > 0:
                    prio = x[j] / frac
                else:
                    prio = math.inf if x[j] > 1e-9 else 0.0
                pairs.append((-prio, -x[j], r.job.submit_s, r.id, j, r))
        pairs.sort(key=lambda p: p[:5])
        budget = dict(snap.counts)
        chosen: dict[int, str] = {}
        order: list[JobRun] = []
        for _, _, _, rid, j, r in pairs:
            t = types[j]
            if rid in chosen or budget[t] < r.job.num_gpus:
                continue
            chosen[rid] = t
            budget[t] -= r.job.num_gpus
            order.append(r)
        for r in snap.running:
            if chosen.get(r.id) != r.gpu_type:
                d.preempt(r)
        for r in order:
            t = chosen[r.id]
            if r.status is Status.RUNNING and r.gpu_type == t:
                continue
            p = snap.placer.find(r.job, t)
            if p is None:
                d.wait(r, WAIT_FRAG)
                continue
            d.start(r, t, p)
        for r in snap.pending:
            if r.id not in chosen:
                d.wait(r, WAIT_ROUND)
        return d


class MaxMinFairness(_RoundBased):
    """Gavel's max-min fairness (LAS) over GPU types; see :func:`gavel_lp.max_min_fairness`."""

    def __init__(self, agnostic: bool = False, round_s: float = 360.0) -> None:
        super().__init__(agnostic, round_s)
        self.name = "max-min-fairness" + ("-agnostic" if agnostic else "")

    def _allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        caps = np.array([snap.counts.get(t, 0) for t in types], dtype=np.float64)
        T = self.throughputs(runs, types, caps)
        scale = np.array([r.job.num_gpus for r in runs], dtype=np.float64)
        weights = np.array([r.job.weight for r in runs], dtype=np.float64)
        return gavel_lp.max_min_fairness(T, scale, weights, caps)


class MinAvgJct(_RoundBased):
    """Minimum average JCT; see :func:`gavel_lp.min_avg_jct`."""

    def __init__(self, agnostic: bool = False, round_s: float = 360.0) -> None:
        super().__init__(agnostic, round_s)
        self.name = "min-avg-jct" + ("-agnostic" if agnostic else "")

    def _allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        caps = np.array([snap.counts.get(t, 0) for t in types], dtype=np.float64)
        T = self.throughputs(runs, types, caps)
        scale = np.array([r.job.num_gpus for r in runs], dtype=np.float64)
        remaining = np.array([r.remaining_work(snap.now) for r in runs], dtype=np.float64)
        return gavel_lp.min_avg_jct(T, scale, remaining, caps)
