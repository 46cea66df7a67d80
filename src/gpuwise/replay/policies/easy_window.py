"""EASY backfill's scan window as an index: the same decisions as walking the queue, with
work proportional to the job groups and the starts, not to ``max_scan``.

A backfill pass walks the first ``max_scan`` queued jobs after the head.  Between two
starts the free GPUs, the shadow-time state and the shadow time stay fixed, so each job's
verdict depends only on its *group* (its placement shape, which fixes where it would go,
and whether its duration is a user estimate or ``work / rate``) and on its duration:

* its shape does not fit the free GPUs: it waits for free GPUs;
* it ends by the shadow time: it starts;
* otherwise the first such job of its (GPU type, gang size) asks whether the head still
  fits at the shadow time if it runs; yes: it starts; no: every later one of that
  (type, size) waits behind the head until the next start (as the walk's memo does).

So the next start is the earliest of, per fitting group, its first job that ends by the
shadow time (read off the group's durations kept sorted) and, per (type, size), its first
job that does not (when the head still fits).  Jobs between two starts get the reasons
their group's verdict gives, written only where a job's reason changes (each group keeps
the positions of its jobs whose reason is not "waiting for free GPUs", resp. not "would
delay the head").  Positions are the queue order; the index mirrors the first
``max_scan + 1`` queued jobs and keeps the rest in arrival order, and rebuilds from the
queue when it missed a call or jobs were re-queued.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from gpuwise.replay.jobs import Job, JobRun, Status
from gpuwise.replay.placement import Placement, Placer
from gpuwise.replay.policies.base import WAIT_FREE, Decision, Snapshot, type_order

WAIT_SHADOW = "waiting: starting now would delay the reserved queue head"
FREE, SHADOW, OTHER = 0, 1, 2
Shape = tuple[int, str, tuple[tuple[float, bool], ...]]
GroupKey = tuple[Shape, bool]
WALK = 16  # past this many candidate short jobs, walk positions instead
ON = 256  # the queue length above which the index is used
GROUP_COST = 8  # a group costs about as much as walking this many jobs


def reason_code(reason: str) -> int:
    return FREE if reason == WAIT_FREE else SHADOW if reason == WAIT_SHADOW else OTHER


@dataclass(slots=True, eq=False)
class Group:
    """Queued jobs of the window with one shape and one kind of duration."""

    key: GroupKey
    job: Job  # a member: what the placement reads (equal for all members)
    by_estimate: bool  # durations are user estimates (else work / rate)
    pos: list[int] = field(default_factory=list)  # member positions, ascending
    runs: dict[int, JobRun] = field(default_factory=dict)  # position -> job
    vals: list[tuple[float, int]] = field(default_factory=list)  # (estimate or work, pos)
    code: dict[int, int] = field(default_factory=dict)  # position -> reason code
    off: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))

    def value(self, job: Job) -> float:
        return job.estimate_s if self.by_estimate else job.work  # type: ignore[return-value]

    def add(self, p: int, run: JobRun) -> None:
        self.pos.append(p)  # positions only grow, except on a rebuild (sorted there)
        self.runs[p] = run
        bisect.insort(self.vals, (self.value(run.job), p))
        c = self.code[p] = reason_code(run.reason)
        for k in (FREE, SHADOW):
            if c != k:
                self.off[k].append(p)

    def remove(self, p: int) -> None:
        run = self.runs.pop(p)
        del self.pos[bisect.bisect_left(self.pos, p)]
        del self.vals[bisect.bisect_left(self.vals, (self.value(run.job), p))]
        c = self.code.pop(p)
        for k in (FREE, SHADOW):
            if c != k:
                lst = self.off[k]
                del lst[bisect.bisect_left(lst, p)]

    def recode(self, p: int, reason: str) -> None:
        old, new = self.code[p], reason_code(reason)
        if old == new:
            return
        self.code[p] = new
        for k in (FREE, SHADOW):
            lst = self.off[k]
            if old != k and new == k:
                del lst[bisect.bisect_left(lst, p)]
            elif old == k and new != k:
                bisect.insort(lst, p)

    def dur(self, job: Job, gpu_type: str) -> float:
        """What the walk computes: the estimate, or the run time on ``gpu_type``."""
        return job.estimate_s if self.by_estimate else job.duration_on(gpu_type)  # type: ignore[return-value]

    def first_short(self, lo: int, hi: int, gpu_type: str, now: float, shadow_t: float) -> int:
        """The first position in [lo, hi] of a member that ends by ``shadow_t`` (-1: none)."""
        vals, runs = self.vals, self.runs
        best = -1
        for n, (_, p) in enumerate(vals):
            if now + self.dur(runs[p].job, gpu_type) > shadow_t:
                return best  # sorted by duration: no later member is shorter
            if lo <= p <= hi and (best < 0 or p < best):
                best = p
            if n >= WALK:
                break
        pos = self.pos
        for i in range(bisect.bisect_left(pos, lo), len(pos)):  # many short jobs: walk
            p = pos[i]
            if p > hi:
                return -1
            if now + self.dur(runs[p].job, gpu_type) <= shadow_t:
                return p
        return -1

    def first_long(self, lo: int, hi: int, gpu_type: str, now: float, shadow_t: float) -> int:
        """The first position in [lo, hi] of a member that does not end by ``shadow_t``."""
        pos, runs = self.pos, self.runs
        for i in range(bisect.bisect_left(pos, lo), len(pos)):
            p = pos[i]
            if p > hi:
                return -1
            if now + self.dur(runs[p].job, gpu_type) > shadow_t:
                return p
        return -1

    def settle(self, lo: int, hi: int, code: int, reasons: dict[int, str]) -> None:
        """Give the members in [lo, hi] the reason ``code`` where theirs differs."""
        lst = self.off[code]
        i, j = bisect.bisect_left(lst, lo), bisect.bisect_right(lst, hi)
        if i == j:
            return
        why = WAIT_FREE if code == FREE else WAIT_SHADOW
        for p in lst[i:j]:
            reasons[self.runs[p].id] = why


class Window:
    """The first ``max_scan + 1`` queued jobs (head included) in groups, the rest queued."""

    def __init__(self, max_scan: int, use_estimates: bool,
                 shape: Callable[[Job, Placer], Shape], on: int = ON) -> None:
        self.max_scan = max_scan
        self.on, self.off = on, on // 4
        self.est = use_estimates
        self.shape = shape
        self.groups: dict[GroupKey, Group] = {}
        self.where: dict[int, tuple[int, Group]] = {}  # job id -> (position, group)
        self.win: list[int] = []  # positions in the window, ascending
        self.over: deque[JobRun] = deque()  # queued after the window, in queue order
        self.next_pos = 0
        self.call = -2
        self.active = False
        self.last: dict[int, str] = {}  # the reasons the previous decision wrote

    def _add(self, run: JobRun, placer: Placer) -> None:
        job = run.job
        by_est = self.est and job.estimate_s is not None
        key = (self.shape(job, placer), by_est)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = Group(key, job, by_est)
        p = self.next_pos
        self.next_pos += 1
        g.add(p, run)
        self.where[job.id] = (p, g)
        self.win.append(p)

    def drop(self, job_id: int) -> None:
        got = self.where.pop(job_id, None)
        if got is None:
            return
        p, g = got
        g.remove(p)
        if not g.pos:
            del self.groups[g.key]
        del self.win[bisect.bisect_left(self.win, p)]

    def _rebuild(self, snap: Snapshot) -> None:
        self.groups.clear()
        self.where.clear()
        self.win.clear()
        self.over = deque(snap.pending)
        self.last = {}

    def sync(self, snap: Snapshot) -> bool:
        """Catch up with the engine's changes since the previous call (or rebuild); say
        whether the index is in use.  A short queue is walked instead (the index would
        cost more than it saves): it switches on above ``on`` queued jobs and off below
        a quarter of that."""
        deltas = snap.arrived is not None and snap.call == self.call + 1 and not snap.requeued
        deltas = deltas and self.active
        self.call = snap.call
        queued = len(snap.pending)
        if queued < self.off or (not self.active and queued <= self.on):
            if self.active:
                self._rebuild(snap)
                self.over.clear()
                self.active = False
            return False
        self.active = True
        if not deltas:
            self._rebuild(snap)
        else:
            where = self.where
            for job_id, why in self.last.items():
                got = where.get(job_id)
                if got is not None:
                    got[1].recode(got[0], why)
            for run in snap.started:
                self.drop(run.id)
            self.over.extend(snap.arrived or ())
        self.last = {}
        self.fill(snap.placer)
        return True

    def pays(self) -> bool:
        """Whether a pass over the groups beats walking the window: not when most groups
        hold only a few jobs (a queue of many distinct shapes)."""
        return GROUP_COST * len(self.groups) < len(self.win)

    def fill(self, placer: Placer, started: Collection[int] = ()) -> None:
        """Top the window up from the queue behind it (skipping jobs that have started)."""
        over, win = self.over, self.win
        while len(win) <= self.max_scan and over:
            run = over.popleft()
            if run.status is Status.PENDING and run.id not in started:
                self._add(run, placer)

    def scan(self, snap: Snapshot, d: Decision, head: JobRun, shadow_t: float,
             at_shadow: Placer) -> tuple[dict[Shape, tuple[str, Placement] | None],
                                         set[tuple[str, int]], int]:
        """The backfill pass over the window after ``head`` (see the module docstring).
        Returns the last segment's placements by shape, its blocked (type, size) pairs
        and the number of jobs the walk would have examined."""
        self.last = d.reasons
        placer = snap.placer
        now = snap.now
        reasons = d.reasons
        win = self.win
        head_pos = self.where[head.id][0]
        if not win or win[0] != head_pos:
            raise RuntimeError("EASY window out of step with the queue")
        if len(win) == 1 or placer.free_total == 0:
            return {}, set(), 0
        end = win[-1]
        lo = head_pos + 1
        hj = head.job
        groups = [g for g in self.groups.values() if g.pos and g.pos[-1] >= lo]
        while True:
            kinds: dict[Shape, str | None] = {}  # the GPU type each shape would get now
            placed: dict[Shape, tuple[str, Placement] | None] = {}  # placements asked for
            blocked: set[tuple[str, int]] = set()
            start = end + 1  # the next start's position
            pick: tuple[Group, str, bool] | None = None
            longs: dict[tuple[str, int], tuple[int, Group, str]] = {}
            verdicts: list[tuple[Group, int]] = []
            free = placer.free_total
            for g in groups:
                shape = g.key[0]
                if shape in kinds:
                    t = kinds[shape]
                else:
                    t = kinds[shape] = fit_type(g.job, placer, free)
                    if t is None:
                        placed[shape] = None
                if t is None:
                    verdicts.append((g, FREE))
                    continue
                verdicts.append((g, SHADOW))
                a = g.first_short(lo, start - 1, t, now, shadow_t)
                if a >= 0:
                    start, pick = a, (g, t, False)
                b = g.first_long(lo, start - 1, t, now, shadow_t)
                if b >= 0:
                    k = (t, g.job.num_gpus)
                    other = longs.get(k)
                    if other is None or b < other[0]:
                        longs[k] = (b, g, t)
            for k, (b, g, t) in sorted(longs.items(), key=lambda e: e[1][0]):
                if b >= start:
                    break
                p = _place(g, t, placer, placed)
                at_shadow.reserve(p)
                if at_shadow.fits_any(hj, type_order(hj, at_shadow)):
                    at_shadow.rollback()
                    start, pick = b, (g, t, True)
                    break
                at_shadow.rollback()
                blocked.add(k)
            for g, code in verdicts:
                g.settle(lo, start - 1, code, reasons)
            if pick is None:
                return placed, blocked, self._count(lo, end)
            g, t, reserve = pick
            p = _place(g, t, placer, placed)
            if reserve:
                at_shadow.reserve(p)
                at_shadow.commit()
            run = g.runs[start]
            d.start(run, t, p)
            self.drop(run.id)
            lo = start + 1
            if placer.free_total == 0 or lo > end:
                return {}, set(), -1
            groups = [g for g in groups if g.pos and g.pos[-1] >= lo]

    def _count(self, lo: int, end: int) -> int:
        """How many window jobs lie in [lo, end] (plus those started this pass: the walk
        counts them too; only asked when nothing started)."""
        return bisect.bisect_right(self.win, end) - bisect.bisect_left(self.win, lo)


def fit_type(job: Job, placer: Placer, free: int) -> str | None:
    """The GPU type :meth:`Placer.place` would put ``job`` on now (``None``: nowhere),
    asking only whether it fits, not where (``free``: the free GPUs in all)."""
    if job.num_gpus > free:
        return None
    for t in type_order(job, placer):
        if t in placer.buckets and job.can_run_on(t) and placer.fits(job, t):
            return t
    return None


def _place(g: Group, t: str, placer: Placer,
           placed: dict[Shape, tuple[str, Placement] | None]) -> Placement:
    """The placement of ``g``'s shape on ``t`` (asked once per segment)."""
    got = placed.get(g.key[0])
    if got is None:
        p = placer.find(g.job, t)
        if p is None:
            raise RuntimeError("a gang that fits found no placement")
        got = placed[g.key[0]] = (t, p)
    return got[1]
