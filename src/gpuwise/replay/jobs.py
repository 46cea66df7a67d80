"""Jobs of a replay: what a trace asks for (:class:`Job`) and how far it has got (:class:`JobRun`).

A job asks for ``num_gpus`` whole GPUs as a gang (all or nothing) of one GPU type.  Its size
is an amount of ``work`` done at a per-GPU-type ``rate`` (work units per second for the whole
gang), as in Gavel's ``simulation_throughputs.json`` (steps/s of a ``(model, scale_factor)``
job on a given worker type).  A job with a fixed duration is ``work = duration_s`` at rate 1
on every type.  A rate of 0 (or a type missing from ``rates``) means the job cannot run there.

Preemption model (:func:`work_at_preemption`): a run segment starts with ``restart_s`` of
restart overhead when the job resumes after a preemption, then progresses at the type's rate.
With a checkpoint interval ``C`` the job saves its progress every ``C`` seconds of productive
time; a preemption loses the work since the last checkpoint.  Without one (``C = None``) the
job checkpoints when it is preempted (the Gavel/Tiresias simulator assumption) and loses
nothing, except on a node failure, which loses the whole segment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

UNIFORM = "*"  # the rates key that stands for "any GPU type"
# the default rates, one read-only mapping shared by every job (memory on long traces)
_UNIFORM_RATES: Mapping[str, float] = MappingProxyType({UNIFORM: 1.0})


class Topology(StrEnum):
    """Where a gang may land: ``pack`` on as few nodes as possible (one node when it fits
    on one), or ``spread`` over any nodes of one type."""

    PACK = "pack"
    SPREAD = "spread"


@dataclass(frozen=True, slots=True)
class Job:
    """One job of a trace (immutable)."""

    id: int
    submit_s: float
    num_gpus: int
    work: float
    rates: Mapping[str, float] = field(default_factory=lambda: _UNIFORM_RATES)
    spread_rates: Mapping[str, float] | None = None
    tenant: str = "default"
    priority: int = 0
    weight: float = 1.0
    allowed_types: frozenset[str] | None = None
    topology: Topology = Topology.PACK
    estimate_s: float | None = None
    name: str = ""
    job_type: str = ""

    def rate(self, gpu_type: str, spread: bool = False) -> float:
        """Work per second of the whole gang on ``gpu_type`` (0 when it cannot run there)."""
        if self.allowed_types is not None and gpu_type not in self.allowed_types:
            return 0.0
        table = self.spread_rates if spread and self.spread_rates is not None else self.rates
        if UNIFORM in table:
            return table[UNIFORM]
        return table.get(gpu_type, 0.0)

    def can_run_on(self, gpu_type: str) -> bool:
        return self.rate(gpu_type) > 0.0

    def duration_on(self, gpu_type: str) -> float:
        """Isolated run time on ``gpu_type`` (``inf`` when it cannot run there)."""
        r = self.rate(gpu_type)
        return self.work / r if r > 0 else math.inf


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


@dataclass(slots=True)
class JobRun:
    """The mutable progress of one job inside the engine."""

    job: Job
    status: Status = Status.PENDING
    done_work: float = 0.0  # work saved at the start of the current segment
    seg_start: float = 0.0  # when the current run segment began
    seg_overhead: float = 0.0  # restart overhead at the start of the segment
    seg_rate: float = 0.0
    gpu_type: str = ""
    placement: tuple[tuple[int, int], ...] = ()  # (node index, GPUs on it)
    first_start: float | None = None
    finish: float | None = None
    run_s: float = 0.0  # wall seconds spent holding GPUs (closed segments)
    attained_gpu_s: float = 0.0  # GPU-seconds held (closed segments), Tiresias' service
    type_s: dict[str, float] = field(default_factory=dict)  # held seconds per GPU type
    preemptions: int = 0
    lost_gpu_s: float = 0.0
    version: int = 0  # bumps on every start/stop; stale completion events are ignored
    start_seq: int = -1  # engine-wide order of the latest start (running-dict order)
    reason: str = "not yet considered"
    area_at_submit: float = 0.0  # integral of the number of active jobs, for Themis' rho
    mean_active: float = 0.0  # time-averaged number of active jobs over the job's life
    # (start, end, GPU type, placement) of each closed segment, when the engine records them
    segments: list[tuple[float, float, str, tuple[tuple[int, int], ...]]] = field(
        default_factory=list
    )

    id: int = field(init=False)  # the job's id, copied (read on every queue walk)

    def __post_init__(self) -> None:
        self.id = self.job.id

    def progress(self, now: float) -> float:
        """Work done by ``now`` (saved work plus the running segment's productive work)."""
        if self.status is not Status.RUNNING:
            return self.done_work
        productive = max(0.0, now - self.seg_start - self.seg_overhead)
        return min(self.job.work, self.done_work + productive * self.seg_rate)

    def remaining_work(self, now: float) -> float:
        return max(0.0, self.job.work - self.progress(now))

    def attained(self, now: float) -> float:
        """GPU-seconds of service so far, including the open segment (Tiresias' 2D age)."""
        if self.status is RUNNING_:
            return self.attained_gpu_s + (now - self.seg_start) * self.job.num_gpus
        return self.attained_gpu_s

    def held_on(self, gpu_type: str, now: float) -> float:
        """Seconds held on ``gpu_type`` so far, including the open segment."""
        held = self.type_s.get(gpu_type, 0.0)
        if self.status is RUNNING_ and self.gpu_type == gpu_type:
            held += now - self.seg_start
        return held

    def finish_time(self) -> float:
        """When the running segment completes the job if nothing interrupts it."""
        remaining = self.job.work - self.done_work
        if self.seg_rate <= 0:
            return math.inf
        return self.seg_start + self.seg_overhead + remaining / self.seg_rate


RUNNING_ = Status.RUNNING


def saved_productive_s(productive_s: float, checkpoint_s: float | None, failure: bool) -> float:
    """Productive seconds of a segment that survive its interruption.

    With periodic checkpoints every ``C`` s the survivors are ``floor(p / C) * C``; without,
    a preemption checkpoints on the way out (all ``p`` survive) and a failure keeps nothing.
    """
    if checkpoint_s is None or checkpoint_s <= 0:
        return 0.0 if failure else productive_s
    return math.floor(productive_s / checkpoint_s) * checkpoint_s


def work_at_preemption(
    run: JobRun, now: float, checkpoint_s: float | None, failure: bool = False
) -> tuple[float, float]:
    """Return ``(saved work, lost GPU-seconds)`` when ``run`` is stopped at ``now``.

    Lost GPU-seconds are the GPUs times the productive seconds after the last checkpoint
    plus the restart overhead this segment spent (both were paid for nothing).
    """
    elapsed = now - run.seg_start
    overhead = min(elapsed, run.seg_overhead)
    productive = max(0.0, elapsed - run.seg_overhead)
    kept = saved_productive_s(productive, checkpoint_s, failure)
    saved = min(run.job.work, run.done_work + kept * run.seg_rate)
    lost_s = (productive - kept) + overhead
    return saved, lost_s * run.job.num_gpus
