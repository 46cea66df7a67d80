"""The event-driven replay engine.

Time jumps from event to event (no fixed step).  All events at one instant are applied
first (completions, repairs, failures, arrivals, wake-ups, rounds, in that order), then the
policy is asked once for a decision on the resulting snapshot, and the engine applies it:
preemptions, then starts.  Each start schedules the job's completion; a stale completion
(the job was preempted since) is recognised by its version number and ignored.  Nodes are
chosen by the scheduling core: the :class:`~gpuwise.replay.placement.Placer` asks the
``gpuwise.sched`` policy named by ``ReplayConfig.placement`` (default best-fit).
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gpuwise.errors import GpuwiseError
from gpuwise.replay.events import EventQueue, Kind
from gpuwise.replay.jobs import Job, JobRun, Status, work_at_preemption
from gpuwise.replay.placement import DEFAULT_PLACEMENT, NodeSpec, Placement, Placer
from gpuwise.replay.policies.base import QUEUED, Decision, Policy, Snapshot
from gpuwise.sched import Policy as PlacementPolicy
from gpuwise.sched import Request, WorkloadMix
from gpuwise.sched.policies import get_policy


def get_placement(name: str) -> PlacementPolicy:
    """The :mod:`gpuwise.sched` policy called ``name`` (GpuwiseError with suggestions)."""
    try:
        return get_policy(name)
    except GpuwiseError as e:
        raise GpuwiseError(f"--placement: {e}") from None


def workload_mix(jobs: Sequence[Job], nodes: Sequence[NodeSpec]) -> WorkloadMix:
    """The typical gangs of a trace (whole GPUs, capped at the widest node), for placement
    policies that measure fragmentation against them (FGD)."""
    widest = max((n.gpus for n in nodes), default=1)
    sizes = [min(j.num_gpus, widest) for j in jobs] or [1]
    return WorkloadMix.from_requests(Request(0, 0, g, 1000) for g in sizes)


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Knobs of the replay that are not the policy's."""

    checkpoint_s: float | None = None  # None: checkpoint on preemption (no loss)
    restart_s: float = 0.0  # overhead each time a preempted job resumes
    failures: Sequence[tuple[float, int, float]] = ()  # (time, node index, seconds down)
    max_events: int = 50_000_000
    record_segments: bool = False  # keep every run segment (for audits and tests)
    placement: str = DEFAULT_PLACEMENT  # the gpuwise.sched policy that picks nodes
    seed: int = 0  # for placement policies that draw random numbers


@dataclass(slots=True)
class ReplayResult:
    """Everything the metrics need from one replay."""

    policy: str
    runs: list[JobRun]
    rejected: list[tuple[Job, str]]
    unfinished: list[JobRun]
    types: tuple[str, ...]
    # (time, busy GPUs per type, up GPUs per type), appended when it changes
    alloc: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    events: int = 0
    decisions: int = 0
    seconds: float = 0.0
    capacity: dict[str, int] = field(default_factory=dict)
    placement: str = DEFAULT_PLACEMENT


class Engine:
    """One replay of ``jobs`` on ``nodes`` under ``policy``."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        jobs: Iterable[Job],
        policy: Policy,
        config: ReplayConfig | None = None,
    ) -> None:
        self.cfg = config or ReplayConfig()
        self.jobs = sorted(jobs, key=lambda j: (j.submit_s, j.id))
        placement = get_placement(self.cfg.placement)
        mix = workload_mix(self.jobs, nodes) if placement.needs_mix else None
        self.placer = Placer(nodes, placement, self.cfg.seed, mix)
        if not self.placer.types:
            raise GpuwiseError("the fleet has no GPUs to replay on")
        self.policy = policy
        self._full = dict.fromkeys(self.placer.types, 0)  # GPUs per type, down nodes included
        self._biggest = dict.fromkeys(self.placer.types, 0)  # largest node per type
        for n in nodes:
            if n.gpus:
                self._full[n.gpu_type] += n.gpus
                self._biggest[n.gpu_type] = max(self._biggest[n.gpu_type], n.gpus)
        self.q = EventQueue()
        self.now = 0.0
        self.pending: dict[int, JobRun] = {}
        self.running: dict[int, JobRun] = {}
        self.done: list[JobRun] = []
        self.rejected: list[tuple[Job, str]] = []
        self.area = 0.0  # integral of the number of active jobs over time
        self._area_t = 0.0
        self._jobs_changed = True
        self._is_round = False
        self._next_wake = math.inf
        self._round_scheduled = False
        self.alloc: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
        self.events = 0
        self.decisions = 0
        self._recorded_changes = -1
        self._requeued: set[int] = set()
        self._unsorted = False
        self._started: list[JobRun] = []  # started since the last decision
        self._arrived: list[JobRun] = []  # queued since the last decision
        self._start_seq = 0

    # -- job state transitions -------------------------------------------------------------
    def _start(self, run: JobRun, gpu_type: str, placement: Placement) -> None:
        if run.status is not Status.PENDING:
            raise RuntimeError(f"job {run.id} started twice")
        del self.pending[run.id]
        run.status = Status.RUNNING
        run.gpu_type = gpu_type
        run.placement = placement
        run.seg_start = self.now
        run.seg_overhead = self.cfg.restart_s if run.preemptions > 0 else 0.0
        run.seg_rate = run.job.rate(gpu_type, spread=len(placement) > 1)
        if run.seg_rate <= 0:
            raise RuntimeError(f"job {run.id} started on {gpu_type}, where it cannot run")
        run.version += 1
        run.start_seq = self._start_seq
        self._start_seq += 1
        self._started.append(run)
        if run.first_start is None:
            run.first_start = self.now
        self.running[run.id] = run
        self.q.push(run.finish_time(), Kind.COMPLETION, run.id, run.version)

    def _close_segment(self, run: JobRun) -> float:
        elapsed = self.now - run.seg_start
        run.run_s += elapsed
        run.attained_gpu_s += elapsed * run.job.num_gpus
        run.type_s[run.gpu_type] = run.type_s.get(run.gpu_type, 0.0) + elapsed
        run.version += 1
        if self.cfg.record_segments:
            run.segments.append((run.seg_start, self.now, run.gpu_type, run.placement))
        del self.running[run.id]
        return elapsed

    def _stop(self, run: JobRun, failure: bool) -> None:
        saved, lost = work_at_preemption(run, self.now, self.cfg.checkpoint_s, failure)
        self._close_segment(run)
        run.done_work = saved
        run.lost_gpu_s += lost
        run.preemptions += 1
        run.status = Status.PENDING
        run.placement = ()
        self._requeue(run)

    def _requeue(self, run: JobRun) -> None:
        """Put ``run`` back in the pending queue (re-sorted by submission before the next
        decision of a policy that never preempts; preemptive policies order the queue
        themselves and see re-queued jobs last)."""
        self._requeued.add(run.id)
        last = next(reversed(self.pending.values()), None)
        self.pending[run.id] = run
        if last is not None and (last.job.submit_s, last.id) > (run.job.submit_s, run.id):
            self._unsorted = True

    def _complete(self, run: JobRun) -> None:
        elapsed = self._close_segment(run)
        run.lost_gpu_s += min(elapsed, run.seg_overhead) * run.job.num_gpus
        run.done_work = run.job.work
        run.status = Status.DONE
        run.finish = self.now
        self.placer.release(run.placement)
        self.placer.commit()
        life = self.now - run.job.submit_s
        run.mean_active = (self.area - run.area_at_submit) / life if life > 0 else 1.0
        self.done.append(run)
        self._jobs_changed = True

    # -- events ----------------------------------------------------------------------------
    def _arrive(self, job: Job) -> None:
        fits = [t for t in self.placer.types if job.can_run_on(t)]
        if not fits:
            self.rejected.append((job, "no GPU type of the fleet can run it"))
            return
        if all(self._full[t] < job.num_gpus for t in fits):
            self.rejected.append((job, f"needs {job.num_gpus} GPUs of one type; too few"))
            return
        if not any(self._placeable(job, t) for t in fits):
            self.rejected.append((job, "no node holds the gang and it cannot spread"))
            return
        run = JobRun(job=job, area_at_submit=self.area, reason=QUEUED)
        self.pending[job.id] = run
        self._arrived.append(run)
        self._jobs_changed = True
        if self.policy.round_s and not self._round_scheduled:
            self._round_scheduled = True
            self.q.push(self.now, Kind.ROUND)

    def _placeable(self, job: Job, gpu_type: str) -> bool:
        """Whether ``job`` could ever be placed on ``gpu_type`` (on an empty fleet)."""
        g = job.num_gpus
        if g <= self._biggest[gpu_type]:
            return True
        return job.rate(gpu_type, spread=True) > 0 and self._full[gpu_type] >= g

    def _fail(self, node: int, down_s: float) -> None:
        for run in [r for r in self.running.values() if any(n == node for n, _ in r.placement)]:
            self.placer.release(run.placement)
            self._stop(run, failure=True)
        self.placer.set_node_up(node, False)
        self.q.push(self.now + down_s, Kind.REPAIR, node)

    def _advance(self, t: float) -> None:
        n_active = len(self.pending) + len(self.running)
        self.area += n_active * (t - self._area_t)
        self._area_t = t
        self.now = t

    def _handle(self, kind: int, subject: int, version: int) -> None:
        if kind == Kind.COMPLETION:
            run = self.running.get(subject)
            if run is not None and run.version == version:
                self._complete(run)
        elif kind == Kind.ARRIVAL:
            nxt = subject + 1  # arrivals enter the heap one at a time (in job order)
            if nxt < len(self.jobs):
                self.q.push(self.jobs[nxt].submit_s, Kind.ARRIVAL, nxt)
            self._arrive(self.jobs[subject])
        elif kind == Kind.ROUND:
            self._is_round = True
            if self.pending or self.running:
                self.q.push(self.now + (self.policy.round_s or 0.0), Kind.ROUND)
            else:
                self._round_scheduled = False
        elif kind == Kind.WAKEUP:
            if self._next_wake <= self.now:
                self._next_wake = math.inf
        elif kind == Kind.FAILURE:
            self._fail(subject, self.cfg.failures[version][2])
        elif kind == Kind.REPAIR:
            self.placer.set_node_up(subject, True)

    def _decide(self) -> None:
        if self._unsorted and not getattr(self.policy, "preemptive", True):
            items = sorted(self.pending.values(), key=lambda r: (r.job.submit_s, r.id))
            self.pending = {r.id: r for r in items}
            self._unsorted = False
        snap = Snapshot(
            now=self.now,
            pending=self.pending.values(),
            running=self.running.values(),
            placer=self.placer,
            is_round=self._is_round,
            jobs_changed=self._jobs_changed,
            counts=self.placer.capacity,
            pending_map=self.pending,
            requeued=self._requeued,
            started=self._started,
            arrived=self._arrived,
            call=self.decisions,
        )
        d: Decision = self.policy.decide(snap)
        self._requeued = set()
        self._started = []
        self._arrived = []
        self.decisions += 1
        self._jobs_changed = False
        self._is_round = False
        for run in d.preempts:
            if run.status is not Status.RUNNING:
                raise RuntimeError(f"policy preempted job {run.id} that is not running")
            self._stop(run, failure=False)
        for run, gpu_type, placement in d.starts:
            self._start(run, gpu_type, placement)
        self.placer.commit()
        for job_id, why in d.reasons.items():
            pending = self.pending.get(job_id)
            if pending is not None:
                pending.reason = why
        if d.wake_at is not None and self.now < d.wake_at < self._next_wake:
            self._next_wake = d.wake_at
            self.q.push(d.wake_at, Kind.WAKEUP)

    def _wants_decision(self) -> bool:
        """Skip calls that cannot change anything: nothing queued (except at a round,
        where a round-based policy may move running jobs), or nothing free for a policy
        that never preempts."""
        if self._is_round and self.running:
            return True
        if not self.pending:
            return False
        return bool(getattr(self.policy, "preemptive", True) or self.placer.free_total)

    def _record_alloc(self) -> None:
        p = self.placer
        if p.changes == self._recorded_changes:
            return
        self._recorded_changes = p.changes
        busy = tuple(p.capacity[t] - p.free_by_type[t] for t in p.types)
        up = tuple(p.capacity[t] for t in p.types)
        if self.alloc:
            _, last_busy, last_up = self.alloc[-1]
            if last_busy == busy and last_up == up:
                return
            if last_up == up:
                up = last_up  # share the tuple: it rarely changes (memory on long replays)
        self.alloc.append((self.now, busy, up))

    def run(self) -> ReplayResult:
        t0 = _time.perf_counter()
        if self.jobs:
            self.q.push(self.jobs[0].submit_s, Kind.ARRIVAL, 0)
        for k, (when, node, _) in enumerate(self.cfg.failures):
            if not 0 <= node < len(self.placer.nodes):
                raise GpuwiseError(f"failure injection: node index {node} is not in the fleet")
            self.q.push(when, Kind.FAILURE, node, k)
        if self.jobs:
            self._advance(self.jobs[0].submit_s)
        q = self.q
        while len(q):
            t = q.peek_time()
            assert t is not None
            self._advance(t)
            while len(q) and q.peek_time() == t:
                _, kind, _, subject, version = q.pop()
                self.events += 1
                self._handle(kind, subject, version)
            if self.events > self.cfg.max_events:
                raise GpuwiseError(f"replay stopped after {self.cfg.max_events} events")
            if self._wants_decision():
                self._decide()
            self._record_alloc()
        return ReplayResult(
            policy=self.policy.name,
            runs=self.done,
            rejected=self.rejected,
            unfinished=[*self.pending.values(), *self.running.values()],
            types=self.placer.types,
            alloc=self.alloc,
            events=self.events,
            decisions=self.decisions,
            seconds=_time.perf_counter() - t0,
            capacity=dict(self.placer.capacity),
            placement=self.placer.policy.name,
        )


def replay(
    nodes: Sequence[NodeSpec],
    jobs: Iterable[Job],
    policy: Policy,
    config: ReplayConfig | None = None,
) -> ReplayResult:
    """Replay ``jobs`` on ``nodes`` under ``policy`` and return the raw result."""
    return Engine(nodes, jobs, policy, config).run()
