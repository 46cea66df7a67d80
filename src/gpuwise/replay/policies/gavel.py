"""Gavel's round-based mechanism, which realises an allocation LP by time slicing.

This follows Gavel's simulator (``scheduler/scheduler.py`` of stanford-futuredata/gavel at
c4fa400: ``simulate``, ``_update_priorities``, ``_reset_time_run_so_far``,
``_schedule_jobs_on_workers(_helper)``), in this order at each round boundary:

1. **Received time.**  Gavel keeps, per job and GPU type, the seconds the job has held that
   type since the last reset, seeded with half a round (``J``), and per type the sum of all
   jobs' seconds (``W``).  Time counts once per job, not per GPU.
2. **Allocation.**  When a job arrived or left since the last solve, and either
   ``min_reset_s`` (Gavel's ``minimum_time_between_allocation_resets``, 1920 s) have passed
   since the last reset or the last reset was at time 0, the policy resets: each job's
   deficit grows by ``X[i, t] * elapsed - received``, ``J`` goes back to half a round, ``W``
   to the sum of the ``J``, and the LP is re-solved for the active jobs.  Jobs that arrived
   since then have no allocation yet: they may hold a slot in the greedy pass below but are
   not started (as in Gavel), and wait for the next solve.
3. **Priorities.**  Per type, ``X[i, t] / (J[i, t] / W[t])``; 0 where the job has no
   allocation, ``X = 0`` or zero throughput.
4. **Greedy pass, type by type.**  Types are walked in a fixed order, fastest first (Gavel's
   ``v100, p100, k80``), or shuffled every round for the heterogeneity-agnostic twins (Gavel
   shuffles for policies without ``Perf`` in their name).  Within a type, jobs go by
   descending (priority, deficit, allocation), ties in arrival order; a job is taken if not
   yet taken, it can run there and its gang fits the type's GPUs left.
5. **Placement.**  Jobs that keep their type keep their GPUs (Gavel's lease extension); the
   others are stopped at the boundary and placed largest gang first.

A round lasts ``round_s`` (Gavel's ``time_per_iteration``, 360 s), or ends earlier when every
job it started has finished (Gavel's round ends when its last micro-task does).  Jobs that
arrive mid-round, and GPUs freed mid-round, wait for the next round.

``agnostic=True`` selects the policy's heterogeneity-agnostic LP input; jobs still progress
at their true per-type rates.

Kept deviations from Gavel's simulator: gangs land on real servers (8 GPUs each for a
shorthand fleet) and run at Gavel's ``_unconsolidated`` throughput when spread, where
Gavel's trace driver defaults to one GPU per server and always uses the consolidated one (a
spread gang is moved onto one server as soon as one is free); a round lasts exactly
``round_s`` (Gavel runs ``int(throughput * 360)`` steps, so its rounds end up to one step
early); when nothing waits, the engine calls the policy only at its own round ticks, so a
round may start late (it could only move running jobs between types); when a round starts
nothing, Gavel skips to the next arrival while gpuwise keeps ticking; the shuffle of the
agnostic twins uses numpy's generator, not Python's ``random`` stream; space sharing
(Gavel's ``_packed`` policies) is not modelled.
"""

from __future__ import annotations

import numpy as np

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies.base import WAIT_FRAG, Decision, Snapshot
from gpuwise.replay.policies.gavel_lp import runnable

WAIT_ROUND = "waiting: its share of the allocation goes to other jobs this round"
WAIT_ALLOC = "waiting for the next allocation (re-solved at most every min_reset_s)"
WAIT_NEXT = "waiting for the next round"
HALF_ROUND = 0.5  # Gavel seeds each job's received time on every type with half a round
ZERO = 1e-9  # allocation values below this count as 0 (solver round-off)


class GavelRounds:
    """The round mechanism; a policy subclass supplies :meth:`allocate`."""

    base_name = "gavel"  # the registry name; ``-agnostic`` is appended for the twin
    preemptive = True

    def __init__(
        self,
        agnostic: bool = False,
        round_s: float = 360.0,
        min_reset_s: float = 1920.0,
        seed: int = 0,
    ) -> None:
        self.name = self.base_name + ("-agnostic" if agnostic else "")
        self.agnostic = agnostic
        self.round_s: float | None = round_s
        self.min_reset_s = min_reset_s
        self._rng = np.random.default_rng(seed)
        self._types: list[str] = []
        self._order: list[str] = []
        self._alloc: dict[int, np.ndarray] = {}
        self._ids: frozenset[int] = frozenset()
        self._dirty = True
        self._last_reset = 0.0
        self._job_time: dict[int, np.ndarray] = {}  # J: seconds per type since the reset
        self._deficit: dict[int, np.ndarray] = {}
        self._worker_time = np.zeros(0)  # W per type
        self._held: dict[int, np.ndarray] = {}  # held seconds per type when last counted
        self._tracked: dict[int, JobRun] = {}
        self._round_end: float | None = None
        self._round_jobs: list[JobRun] = []
        self.solves = 0
        self.rounds = 0

    # -- the policy's LP -----------------------------------------------------------------
    def allocate(self, runs: list[JobRun], snap: Snapshot, types: list[str]) -> np.ndarray:
        """The allocation ``X`` (len(runs) x len(types)) for the active jobs."""
        raise NotImplementedError

    @staticmethod
    def rates(runs: list[JobRun], types: list[str]) -> np.ndarray:
        """True throughputs (work/s of the whole gang) of each job on each type."""
        T = np.array([[r.job.rate(t) for t in types] for r in runs], dtype=np.float64)
        return T.reshape(len(runs), len(types))

    def capacities(self, snap: Snapshot, types: list[str]) -> np.ndarray:
        return np.array([snap.counts.get(t, 0) for t in types], dtype=np.float64)

    @property
    def reference(self) -> int:
        """Index (in the types list) of the fastest type, the agnostic reference (V100)."""
        return self._types.index(self._order[0]) if self._order else 0

    # -- round boundaries ----------------------------------------------------------------
    def _round_due(self, now: float) -> bool:
        if self._round_end is None or now >= self._round_end - 1e-6:
            return True
        return all(r.status is not Status.RUNNING for r in self._round_jobs)

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        if not self._round_due(snap.now):
            for r in snap.arrived if snap.arrived is not None else snap.pending:
                if r.status is Status.PENDING:
                    d.wait(r, WAIT_NEXT)
            return d
        if not self._types:
            self._types = list(snap.placer.types)
            self._worker_time = np.zeros(len(self._types))
        self._round(snap, d)
        return d

    def _round(self, snap: Snapshot, d: Decision) -> None:
        now = snap.now
        self.rounds += 1
        runs = sorted(snap.active, key=lambda r: r.id)
        self._count_received(now, runs)
        ids = frozenset(r.id for r in runs)
        if ids != self._ids:
            self._dirty = True
            self._ids = ids
        interval_over = now - self._last_reset >= self.min_reset_s or self._last_reset == 0
        if self._dirty and interval_over and runs:
            self._reset(now, runs)
            self._solve(runs, snap)
        chosen = self._greedy(runs, snap)
        self._place(runs, chosen, snap, d)
        self._round_end = now + (self.round_s or 0.0)
        d.wake_at = self._round_end

    # -- bookkeeping (Gavel's _job_time_so_far / _worker_time_so_far / _deficits) ----------
    def _count_received(self, now: float, runs: list[JobRun]) -> None:
        """Add the seconds each tracked job held each type since the last count to ``J`` and
        ``W``; drop finished jobs; start tracking new ones (``J`` seeded with half a round)."""
        for rid, run in list(self._tracked.items()):
            held = np.array([run.held_on(t, now) for t in self._types])
            delta = held - self._held[rid]
            self._held[rid] = held
            self._worker_time += delta
            if run.status is Status.DONE:
                del self._tracked[rid], self._held[rid]
                self._job_time.pop(rid, None)
                self._deficit.pop(rid, None)
            else:
                self._job_time[rid] += delta
        half = HALF_ROUND * (self.round_s or 0.0)
        for r in runs:
            if r.id not in self._tracked:
                self._tracked[r.id] = r
                self._held[r.id] = np.array([r.held_on(t, now) for t in self._types])
                self._job_time[r.id] = np.full(len(self._types), half)
                self._deficit[r.id] = np.zeros(len(self._types))

    def _reset(self, now: float, runs: list[JobRun]) -> None:
        """Gavel's ``_reset_time_run_so_far``: deficits += what each job should have had
        under the old allocation minus what it got; ``J`` back to half a round."""
        elapsed = now - self._last_reset
        half = HALF_ROUND * (self.round_s or 0.0)
        self._worker_time = np.zeros(len(self._types))
        for r in runs:
            x = self._alloc.get(r.id)
            should = x * elapsed if x is not None else 0.0
            self._deficit[r.id] += should - (self._job_time[r.id] - half)
            self._job_time[r.id] = np.full(len(self._types), half)
            self._worker_time += half
        self._last_reset = now

    def _solve(self, runs: list[JobRun], snap: Snapshot) -> None:
        T = self.rates(runs, self._types)
        share = T / np.maximum(T.max(axis=1, keepdims=True), 1e-12)
        speed = share.mean(axis=0)  # fastest type first, as Gavel's fixed v100, p100, k80
        self._order = [self._types[j] for j in sorted(range(len(self._types)),
                                                        key=lambda j: (-speed[j], j))]
        # a gang that fits no type now (nodes down) would pin max-min objectives at 0
        scale = np.array([r.job.num_gpus for r in runs], dtype=np.float64)
        fits = runnable(T, scale, self.capacities(snap, self._types))
        live = [r for i, r in enumerate(runs) if fits[i].any()]
        x = self.allocate(live, snap, self._types) if live else np.zeros((0, len(self._types)))
        self.solves += 1
        self._alloc = {r.id: x[i] for i, r in enumerate(live)}
        for r in runs:
            self._alloc.setdefault(r.id, np.zeros(len(self._types)))
        self._dirty = False

    # -- the mechanism -------------------------------------------------------------------
    def _priority(self, run: JobRun, j: int) -> float:
        """Gavel's ``X[i, t] / fraction``, ``fraction = J[i, t] / W[t]``."""
        x = self._alloc.get(run.id)
        if x is None or x[j] <= ZERO or run.job.rate(self._types[j]) <= 0:
            return 0.0
        w = self._worker_time[j]
        frac = self._job_time[run.id][j] / w if w > 0 else 0.0
        return float(x[j] / frac) if frac > 0 else float(x[j] * 1e9)

    def _type_order(self) -> list[str]:
        order = self._order or self._types
        if self.agnostic:
            return [order[k] for k in self._rng.permutation(len(order))]
        return list(order)

    def _greedy(self, runs: list[JobRun], snap: Snapshot) -> dict[int, str]:
        """Gavel's ``_schedule_jobs_on_workers_helper``: which job runs on which type."""
        chosen: dict[int, str] = {}
        for t in self._type_order():
            j = self._types.index(t)
            left = snap.counts.get(t, 0)
            entries = []
            for r in runs:  # arrival (id) order; the stable sort keeps it for ties
                x = self._alloc.get(r.id)
                entries.append(
                    (self._priority(r, j), self._deficit[r.id][j], 0.0 if x is None else x[j], r)
                )
            entries.sort(key=lambda e: e[:3], reverse=True)
            for _, _, _, r in entries:
                if left <= 0:
                    break
                g = r.job.num_gpus
                if r.id in chosen or r.job.rate(t) <= 0 or g > left:
                    continue
                left -= g
                chosen[r.id] = t
        return chosen

    def _place(
        self, runs: list[JobRun], chosen: dict[int, str], snap: Snapshot, d: Decision
    ) -> None:
        """Keep jobs on their type, stop the rest, start the newly chosen, largest first."""
        go = {rid: t for rid, t in chosen.items() if rid in self._alloc}
        kept: list[JobRun] = []
        for r in snap.running:
            if go.get(r.id) == r.gpu_type:
                kept.append(r)
            else:
                d.preempt(r)
        kept_ids = {r.id for r in kept}
        spread = {r.id for r in kept if len(r.placement) > 1}
        todo = [r for r in runs if r.id in go and (r.id not in kept_ids or r.id in spread)]
        todo.sort(key=lambda r: (-r.job.num_gpus, r.id))
        started: list[JobRun] = []
        for r in todo:
            t = go[r.id]
            if r.id in spread:  # Gavel packs gangs onto as few servers as it can each round
                d.preempt(r)
                p = snap.placer.find(r.job, t)
                if p is not None and len(p) == 1:
                    kept.remove(r)
                    d.start(r, t, p)
                    started.append(r)
                else:
                    d.unpreempt(r)
                continue
            p = snap.placer.find(r.job, t)
            if p is None:
                d.wait(r, WAIT_FRAG)
                continue
            d.start(r, t, p)
            started.append(r)
        for r in runs:
            if r.id in kept_ids or r.id in go:
                continue
            d.wait(r, WAIT_ALLOC if r.id in chosen else WAIT_ROUND)
        self._round_jobs = kept + started
