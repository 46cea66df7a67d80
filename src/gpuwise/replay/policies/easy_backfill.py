"""EASY backfilling (Lifka 1995; Mu'alem & Feitelson 2001).

Jobs start in FIFO order.  When the queue head does not fit, it gets a reservation at the
*shadow time*: the earliest moment at which, releasing running jobs in order of their
estimated ends, the head would fit.  A later job may then start now ("backfill") if it fits
now and either ends by the shadow time or leaves the head's reserved placement intact.
Estimates are the users' (``Job.estimate_s``, e.g. a Slurm time limit) when
``use_estimates`` is set and the job has one, else the true run time (an oracle).  As in
Slurm's ``bf_max_job_test``, at most ``max_scan`` queued jobs are examined per pass.

Speed on long queues, with the same decisions and reasons as walking the queue afresh
(``indexed=False``): a call that sees the state of a previous pass that started nothing,
plus newly queued jobs, resumes that pass over the new jobs only; otherwise the pass runs
on :class:`~gpuwise.replay.policies.easy_window.Window`, the window grouped by shape.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from gpuwise.replay.jobs import Job, JobRun, Status
from gpuwise.replay.placement import Placement, Placer
from gpuwise.replay.policies.base import (
    WAIT_FREE,
    Decision,
    Snapshot,
    start_in_order,
    type_order,
)
from gpuwise.replay.policies.easy_window import ON, WAIT_SHADOW, Shape, Window

_UNSEEN = ("", ())  # a sentinel placement: this shape was not tried on these free GPUs


def estimated_duration(job: Job, gpu_type: str, use_estimates: bool) -> float:
    """The run time the scheduler believes ``job`` needs on ``gpu_type``."""
    if use_estimates and job.estimate_s is not None:
        return job.estimate_s
    return job.duration_on(gpu_type)


def estimated_end(run: JobRun, now: float, use_estimates: bool) -> float:
    """When a running job is believed to end; an overrun estimate counts as 'now'."""
    if use_estimates and run.job.estimate_s is not None:
        return max(now, run.seg_start + run.job.estimate_s)
    return run.finish_time()


def shadow(
    head: Job, placer: Placer, releases: Iterable[tuple[float, Placement]]
) -> tuple[float, Placer]:
    """The shadow time and the free state then (before the head's reservation);
    ``releases`` must come in order of their estimated ends (ties: running-dict order)."""
    scratch = placer.fork()
    types = type_order(head, scratch)
    g, free = head.num_gpus, scratch.free_by_type
    for end, placement in releases:
        scratch.release(placement)
        if any(free[t] >= g for t in types) and scratch.fits_any(head, types):
            scratch.commit()
            return end, scratch
    return math.inf, scratch


class ReleaseIndex:
    """Running jobs sorted by their raw estimated end (a cache, like ``PendingIndex``).

    It is fed the snapshot's ``started`` jobs and drops finished ones lazily, so a decision
    reads the first few releases in O(log n) instead of sorting every running job.  The
    order is exactly a stable sort of the running jobs (in running-dict, i.e. start, order)
    by :func:`estimated_end`: ends at or before ``now`` (an overrun estimate is clamped to
    ``now``) first, then the rest, each by (end, start order).
    """

    def __init__(self, use_estimates: bool) -> None:
        self.est = use_estimates
        self.keys: list[tuple[float, int]] = []  # (raw end, start_seq), sorted
        self.runs: dict[int, tuple[JobRun, int]] = {}  # start_seq -> (run, version)
        self._new: list[JobRun] = []  # started since the last read, not yet indexed
        self._rebuild = True

    def _raw_end(self, run: JobRun) -> float:
        if self.est and run.job.estimate_s is not None:
            return run.seg_start + run.job.estimate_s
        return run.finish_time()

    def _add(self, run: JobRun) -> None:
        if run.status is not Status.RUNNING or run.start_seq in self.runs:
            return
        bisect.insort(self.keys, (self._raw_end(run), run.start_seq))
        self.runs[run.start_seq] = (run, run.version)

    def _live(self, seq: int) -> JobRun | None:
        run, version = self.runs[seq]
        return run if run.version == version and run.status is Status.RUNNING else None

    def sync(self, snap: Snapshot) -> None:
        """Note the snapshot's newly started jobs (indexed when next read).  When more jobs
        started than run, or stale entries pile up, the next read rebuilds instead."""
        if self._rebuild:
            return
        self._new.extend(snap.started)
        limit = 2 * len(snap.running) + 64
        if len(self._new) > limit or len(self.runs) > limit:
            self._rebuild = True
            self._new.clear()

    def _refresh(self, running: Collection[JobRun]) -> None:
        if self._rebuild or len(self.runs) + len(self._new) < len(running):
            self.keys.clear()
            self.runs.clear()
            self._new.clear()
            for run in running:  # running-dict order
                self.runs[run.start_seq] = (run, run.version)
            self.keys = sorted((self._raw_end(r), seq) for seq, (r, _) in self.runs.items())
            self._rebuild = False
            return
        for run in self._new:
            self._add(run)
        self._new.clear()

    def first_end(self, running: Collection[JobRun]) -> float:
        """The earliest raw estimated end of a running job (``inf`` when none runs)."""
        self._refresh(running)
        keys = self.keys
        while keys and self._live(keys[0][1]) is None:
            del self.runs[keys[0][1]]
            del keys[0]
        return keys[0][0] if keys else math.inf

    def ordered(self, now: float, running: Collection[JobRun]) -> Iterator[tuple[float, Placement]]:
        """(estimated end, placement) of the running jobs, soonest first."""
        self._refresh(running)
        keys = self.keys
        while keys and self._live(keys[0][1]) is None:  # purge finished jobs up front
            del self.runs[keys[0][1]]
            del keys[0]
        cut = bisect.bisect_right(keys, (now, math.inf))
        early = []  # ends at or before now: an overrun estimate counts as now
        for end, seq in keys[:cut]:
            run = self._live(seq)
            if run is not None:
                clamp = self.est and run.job.estimate_s is not None
                early.append((now if clamp else end, seq, run.placement))
        for end, _, placement in sorted(early, key=lambda e: (e[0], e[1])):
            yield end, placement
        i = cut
        while i < len(keys):
            end, seq = keys[i]
            run = self._live(seq)
            if run is None:
                del self.runs[seq]
                del keys[i]
                continue
            yield end, run.placement
            i += 1


class EasyBackfill:
    name = "easy-backfill"
    round_s: float | None = None
    preemptive = False

    def __init__(self, use_estimates: bool = True, max_scan: int = 1000,
                 indexed: bool = True, index_from: int = ON) -> None:
        self.use_estimates = use_estimates
        self.max_scan = max_scan
        self.indexed = indexed  # False: walk the queue afresh each call (the reference)
        self.resumed = 0  # calls that continued the previous pass
        self._releases = ReleaseIndex(use_estimates)
        self._shapes: dict[int, tuple[Job, Shape]] = {}
        self._memo: Pass | None = None
        self._window = Window(max_scan, use_estimates, self._shape, index_from) if indexed else None

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        self._releases.sync(snap)
        for run in snap.started:  # started jobs are never scanned again
            self._shapes.pop(run.id, None)
        window = self._window
        if window is not None and window.sync(snap):
            window.last = d.reasons
        else:
            window = None
        memo, self._memo = self._memo, None
        if memo is not None and self._unchanged(snap, memo):
            self._resume(snap, d, memo)
            return d
        queue = iter(snap.pending)
        head = start_in_order(snap, d, queue, blocking=True)
        if window is not None:
            for r, _, _ in d.starts:
                window.drop(r.id)
            window.fill(snap.placer, {r.id for r, _, _ in d.starts})
        if head is None:
            return d
        est = self.use_estimates
        now = snap.now
        new = sorted(  # started now: after every running job with the same end (stable)
            ((now + estimated_duration(r.job, t, est), p) for r, t, p in d.starts),
            key=lambda e: e[0],
        )
        releases = self._releases.ordered(now, snap.running)
        if new:
            releases = heapq.merge(releases, new, key=lambda e: e[0])
        shadow_t, at_shadow = shadow(head.job, snap.placer, releases)
        d.wait(head, f"{WAIT_FREE}; reserved at t={shadow_t:.0f}s")
        pass_ = Pass(head, shadow_t, at_shadow)
        if window is None or not window.pays():
            self._scan(snap, d, queue, pass_)
        else:
            pass_.fits, pass_.blocked, pass_.scanned = window.scan(
                snap, d, head, shadow_t, at_shadow)
        self._remember(snap, d, pass_)
        return d

    # -- skipping passes that cannot start anything ------------------------------------------
    def _remember(self, snap: Snapshot, d: Decision, pass_: Pass) -> None:
        """Keep a pass that started nothing on a deterministic placer: the next call may
        resume it (see :meth:`_unchanged`)."""
        placer = snap.placer
        if not self.indexed or d.starts or snap.call < 0 or placer.index.snapshot is not None:
            return  # (a tracked snapshot means a scoring policy that may draw random numbers)
        pass_.call, pass_.placer, pass_.changes = snap.call, placer, placer.changes
        pass_.capacity = placer.capacity_total
        self._memo = pass_

    def _unchanged(self, snap: Snapshot, memo: Pass) -> bool:
        """Whether this call sees the remembered pass's state, up to jobs queued at the end:
        the previous call, the same free GPUs and running jobs (nothing started, ended,
        failed or came back since), the same queue head, and no estimate overrun (that
        would move the shadow time with ``now``).  A job that was too long to end by the
        shadow time still is: ``now`` only moves forward."""
        placer = snap.placer
        if (snap.call != memo.call + 1 or placer is not memo.placer or snap.arrived is None
                or placer.changes != memo.changes or snap.started or snap.requeued
                or placer.capacity_total != memo.capacity):
            return False
        if next(iter(snap.pending), None) is not memo.head:
            return False
        return not (self.use_estimates and self._releases.first_end(snap.running) <= snap.now)

    def _resume(self, snap: Snapshot, d: Decision, memo: Pass) -> None:
        """The remembered pass, continued over the jobs queued since (those that fall in
        the first ``max_scan`` after the head): every job it examined would get the same
        verdict and keep its reason."""
        self.resumed += 1
        d.wait(memo.head, f"{WAIT_FREE}; reserved at t={memo.shadow_t:.0f}s")
        room = self.max_scan - memo.scanned
        arrived = snap.arrived or ()
        if room > 0 and arrived:
            self._scan(snap, d, itertools.islice(arrived, room), memo)
        self._remember(snap, d, memo)

    def _shape(self, job: Job, placer: Placer) -> Shape:
        """What :meth:`Placer.place` reads of ``job``: equal shapes on the same free state
        get the same placement (cached per job: the queue is scanned again and again)."""
        got = self._shapes.get(job.id)
        if got is not None and got[0] is job:
            return got[1]
        rates = tuple((job.rate(t), job.rate(t, spread=True) > 0) for t in placer.types)
        shape = (job.num_gpus, job.topology, rates)
        self._shapes[job.id] = (job, shape)
        return shape

    def _scan(self, snap: Snapshot, d: Decision, queue: Iterable[JobRun], ps: Pass) -> None:
        """Backfill: start later jobs that fit now and do not delay the head's reservation.
        Continues ``ps`` (its cached fits, blocked gangs and count of examined jobs)."""
        placer = snap.placer
        est = self.use_estimates
        now = snap.now
        reasons = d.reasons
        free = placer.free_total
        head, shadow_t, at_shadow = ps.head.job, ps.shadow_t, ps.at_shadow
        fits = ps.fits  # on the current free GPUs
        blocked = ps.blocked  # (type, gang size) that would delay the head
        shapes = self._shapes
        scanned = ps.scanned
        for run in itertools.islice(queue, self.max_scan - scanned):
            if free == 0:
                break
            scanned += 1
            job = run.job
            cached = shapes.get(job.id)
            fresh = cached is None or cached[0] is not job
            shape = self._shape(job, placer) if fresh else cached[1]  # type: ignore[index]
            got = fits.get(shape, _UNSEEN)
            if got is _UNSEEN:
                got = fits[shape] = placer.place(job, type_order(job, placer))
            if got is None:
                if run.reason is not WAIT_FREE:  # unchanged reasons need no update
                    reasons[job.id] = WAIT_FREE
                continue
            t, p = got
            dur = job.estimate_s if est and job.estimate_s is not None else job.duration_on(t)
            if now + dur > shadow_t:
                # same free GPUs, same gang size: the same placement, which already failed
                if (t, job.num_gpus) in blocked:
                    if run.reason is not WAIT_SHADOW:
                        reasons[job.id] = WAIT_SHADOW
                    continue
                at_shadow.reserve(p)
                if not at_shadow.fits_any(head, type_order(head, at_shadow)):
                    at_shadow.rollback()
                    blocked.add((t, job.num_gpus))
                    reasons[job.id] = WAIT_SHADOW
                    continue
                at_shadow.commit()
            blocked.clear()  # the free GPUs changed: a gang that failed may pass now
            fits.clear()
            d.start(run, t, p)
            free = placer.free_total
        ps.scanned = scanned


@dataclass(slots=True, eq=False)
class Pass:
    """One backfill pass: the head's reservation and what the scan learnt on the way."""

    head: JobRun
    shadow_t: float
    at_shadow: Placer
    fits: dict[Shape, tuple[str, Placement] | None] = field(default_factory=dict)
    blocked: set[tuple[str, int]] = field(default_factory=set)
    scanned: int = 0
    call: int = -1
    placer: Placer | None = None
    changes: int = -1
    capacity: int = -1
