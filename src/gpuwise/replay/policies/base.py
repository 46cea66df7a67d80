"""What a policy sees (:class:`Snapshot`), what it returns (:class:`Decision`) and the two
selection mechanisms most policies share.

A policy is an object with a ``name``, an optional ``round_s`` (the period of scheduling
rounds, for round-based policies) and ``decide(snapshot) -> Decision``.  It reads the
snapshot, tries reservations on ``snapshot.placer`` through :class:`Decision` (which
journals them) and returns; the engine owns time and applies the decision.  The same code
can therefore run on a live cluster's snapshot.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gpuwise.replay.jobs import Job, JobRun, Status
from gpuwise.replay.placement import Placement, Placer


@dataclass(slots=True)
class Snapshot:
    """The cluster as a policy sees it at one instant."""

    now: float
    pending: Collection[JobRun]  # submit order (preemptive policies: re-queued jobs last)
    running: Collection[JobRun]  # read-only
    placer: Placer
    is_round: bool = False  # this call falls on a round boundary
    jobs_changed: bool = True  # a job arrived or left since the last call
    counts: Mapping[str, int] = field(default_factory=dict)  # GPUs per type (up)
    pending_map: Mapping[int, JobRun] = field(default_factory=dict)  # id -> pending job
    requeued: Collection[int] = ()  # jobs put back in the queue since the last call
    started: Collection[JobRun] = ()  # jobs started since the last call (by its decision)
    arrived: Collection[JobRun] | None = None  # jobs queued since the last call (None: unknown)
    call: int = -1  # the engine's count of earlier calls (deltas above are since call - 1)

    @property
    def active(self) -> list[JobRun]:
        return [*self.running, *self.pending]


@dataclass(slots=True)
class Decision:
    """Starts and preemptions a policy asks for, with reservations already made."""

    placer: Placer
    starts: list[tuple[JobRun, str, Placement]] = field(default_factory=list)
    preempts: list[JobRun] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    wake_at: float | None = None

    def start(self, run: JobRun, gpu_type: str, placement: Placement) -> None:
        self.placer.reserve(placement)
        self.starts.append((run, gpu_type, placement))

    def preempt(self, run: JobRun) -> None:
        self.placer.release(run.placement)
        self.preempts.append(run)

    def unpreempt(self, run: JobRun) -> None:
        self.placer.reserve(run.placement)
        self.preempts.remove(run)

    def wait(self, run: JobRun, reason: str) -> None:
        self.reasons[run.id] = reason

    def reset(self) -> None:
        """Undo every reservation made so far and forget the starts and preemptions."""
        self.placer.rollback()
        self.starts.clear()
        self.preempts.clear()


class Policy(Protocol):
    name: str
    round_s: float | None

    def decide(self, snap: Snapshot) -> Decision: ...


def type_order(job: Job, placer: Placer) -> list[str]:
    """GPU types ``job`` can run on, fastest first (ties: more free GPUs, then name)."""
    if len(placer.types) == 1:
        return list(placer.types) if job.can_run_on(placer.types[0]) else []
    ok = [t for t in placer.types if job.can_run_on(t)]
    ok.sort(key=lambda t: (-job.rate(t), -placer.free_by_type[t], t))
    return ok


QUEUED = "queued behind earlier or higher-priority jobs"
WAIT_FREE = "waiting for free GPUs"
WAIT_PRIO = "waiting: higher-priority jobs hold the GPUs"
WAIT_FRAG = "waiting for a placement (enough GPUs, but not on few enough nodes)"


def wait_reason(placer: Placer, job: Job, base: str = WAIT_FREE) -> str:
    """``base`` alone while too few GPUs of ``job``'s fastest type are free; when enough are
    free but not on few enough nodes, ``base`` plus the scheduling core's sentence
    (``sched.filters``' "fragmented: ...")."""
    types = placer.types if len(placer.types) == 1 else type_order(job, placer)
    if not types or placer.free_by_type[types[0]] < job.num_gpus:
        return base
    return f"{base}: {placer.why(job, types[0]).reason}"


def start_in_order(
    snap: Snapshot, d: Decision, order: Iterable[JobRun], blocking: bool
) -> JobRun | None:
    """Start pending jobs of ``order`` that fit; with ``blocking`` stop at the first that
    does not (strict FIFO) and return it, leaving the rest of ``order`` unconsumed (those
    jobs keep their queue reason)."""
    placer = snap.placer
    for run in order:
        got = placer.place(run.job, type_order(run.job, placer)) if placer.free_total else None
        if got is None:
            d.wait(run, wait_reason(placer, run.job))
            if blocking:
                return run
            continue
        d.start(run, got[0], got[1])
    return None


def try_start_all(snap: Snapshot, d: Decision, pending: Iterable[JobRun]) -> bool:
    """Start every pending job on free GPUs, or change nothing and return ``False``.

    When every queued job fits on idle GPUs no preemptive policy needs to preempt, so this
    is the cheap first step of one.
    """
    placer = snap.placer
    for run in pending:
        got = placer.place(run.job, type_order(run.job, placer))
        if got is None:
            d.reset()
            return False
        d.start(run, got[0], got[1])
    return True


PriorityKey = Callable[[JobRun], tuple[Any, ...]]


class PendingIndex:
    """Pending jobs kept sorted by a key that cannot change while a job waits.

    A cache, not state: it gives exactly ``sorted(snap.pending, key=key)`` but updates
    itself from the jobs that joined or left the queue since the last call (set
    differences of the queue's ids, plus the snapshot's ``requeued`` jobs; or, when it saw
    the engine's previous call, from the snapshot's ``started``/``arrived``/``requeued``
    deltas alone), so a long queue costs O(changes x log n) per decision, not a full sort.
    """

    def __init__(self, key: PriorityKey) -> None:
        self.key = key
        self.sorted_keys: list[tuple[tuple[Any, ...], int]] = []
        self._keys: dict[int, tuple[Any, ...]] = {}
        self._call = -2  # the snapshot ``call`` last seen

    def _drop(self, job_id: int) -> None:
        k = self._keys.pop(job_id)
        i = bisect.bisect_left(self.sorted_keys, (k, job_id))
        del self.sorted_keys[i]

    def _add(self, run: JobRun) -> None:
        k = self.key(run)
        self._keys[run.id] = k
        bisect.insort(self.sorted_keys, (k, run.id))

    def ordered(self, snap: Snapshot) -> Iterator[JobRun]:
        pend = snap.pending_map
        deltas = snap.arrived is not None and snap.call >= 0 and snap.call == self._call + 1
        self._call = snap.call
        if deltas:  # the engine's changes since the call this index last saw: O(changes)
            for run in snap.started:
                if run.id in self._keys:
                    self._drop(run.id)
            for job_id in snap.requeued:
                if job_id in self._keys:
                    self._drop(job_id)
                if job_id in pend:
                    self._add(pend[job_id])
            for run in snap.arrived or ():
                if run.id in pend and run.id not in self._keys:
                    self._add(run)
        if not deltas or len(self._keys) != len(pend):  # set differences
            for job_id in self._keys.keys() - pend.keys():
                self._drop(job_id)
            for job_id in snap.requeued:
                if job_id in self._keys:
                    self._drop(job_id)
            for job_id in pend.keys() - self._keys.keys():
                self._add(pend[job_id])
        return (pend[job_id] for _, job_id in self.sorted_keys)


def priority_order(
    snap: Snapshot, index: PendingIndex
) -> tuple[Iterator[JobRun], bool, PriorityKey]:
    """Running and pending jobs merged into one order, highest priority first (lazy).

    Returns the order, whether it includes the running jobs, and a key function that is
    valid for every running job (their keys are computed once per call).  When no queued
    job outranks any running job (the common case on a busy fleet) no preemption can help
    and the order is just the queue: the running jobs are not walked at all.
    """
    pending = index.ordered(snap)
    keys = {r.id: index.key(r) for r in snap.running}

    def key(run: JobRun) -> tuple[Any, ...]:
        k = keys.get(run.id)
        return k if k is not None else index.key(run)

    if not index.sorted_keys or not keys or max(keys.values()) < index.sorted_keys[0][0]:
        return pending, False, key
    running = sorted((k, i) for i, k in keys.items())
    by_id = {r.id: r for r in snap.running}
    pend = snap.pending_map
    merged = heapq.merge(running, index.sorted_keys)
    return (by_id[i] if i in by_id else pend[i] for _, i in merged), True, key


def select_preemptive(
    snap: Snapshot,
    d: Decision,
    order: Iterable[JobRun],
    key: PriorityKey,
    may_preempt: Callable[[JobRun, JobRun], bool] | None = None,
    with_running: bool = True,
) -> None:
    """Run the longest prefix of ``order`` (highest priority first) that fits the fleet.

    Pass 1 counts GPUs per type down the order (and stops when none are left): a running
    job keeps its GPUs when its type still has budget; a pending job claims budget on its
    fastest type with room.  Pass 2 places the claiming pending jobs on free GPUs,
    preempting running jobs outside the prefix (lowest ``key`` priority first) of the same
    type only while the gang still does not fit, and gives back any preempted job whose
    GPUs ended up unused.  ``may_preempt(victim, job)`` can forbid a preemption (e.g.
    between equal priority classes).  Pending jobs past the cut keep their last reason.
    ``with_running=False`` says ``order`` holds only queued jobs, all outranked by every
    running job (see :func:`priority_order`).
    """
    placer = snap.placer
    budget = dict(snap.counts)
    keep: set[int] = set()
    claims: list[tuple[JobRun, str]] = []
    if not with_running:  # ``order`` is the queue only: running jobs outrank it all
        budget = dict(placer.free_by_type)
        keep = {r.id for r in snap.running}
    left = sum(budget.values())
    for run in order:
        if left <= 0:
            break
        g = run.job.num_gpus
        if run.status is Status.RUNNING:
            if budget.get(run.gpu_type, 0) >= g:
                budget[run.gpu_type] -= g
                left -= g
                keep.add(run.id)
            continue
        for t in type_order(run.job, placer):
            if budget[t] >= g:
                budget[t] -= g
                left -= g
                claims.append((run, t))
                break
        else:
            d.wait(run, WAIT_PRIO)
    victims = sorted((r for r in snap.running if r.id not in keep), key=key, reverse=True)
    taken: set[int] = set()
    for run, t in claims:
        p = placer.find(run.job, t)
        while p is None:
            v = next(
                (
                    v
                    for v in victims
                    if v.gpu_type == t
                    and v.id not in taken
                    and (may_preempt is None or may_preempt(v, run))
                ),
                None,
            )
            if v is None:
                break
            d.preempt(v)
            taken.add(v.id)
            p = placer.find(run.job, t)
        if p is None:
            d.wait(run, f"{WAIT_FRAG}: {placer.why(run.job, t).reason}")
            continue
        d.start(run, t, p)
    for v in sorted(d.preempts, key=key):
        if placer.free_on(v.placement):
            d.unpreempt(v)
