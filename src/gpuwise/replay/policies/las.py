"""Tiresias' discretized two-dimensional least-attained-service (2D-LAS) scheduler.

Tiresias (Gu et al., NSDI'19) needs no job-duration knowledge.  A job's *attained service*
is GPUs x seconds it has held GPUs.  Jobs sit in K priority queues: queue k holds jobs whose
service lies in ``[thresholds[k-1], thresholds[k])`` GPU-seconds; a job starts in queue 0 and
is demoted as its service crosses a threshold.  Higher queues run first; within a queue,
jobs go in submission order; lower-queue running jobs are preempted for higher-queue ones.
The default threshold (3250 GPU-s, two queues) is the one Tiresias' simulator uses for
``dlas-gpu``.  Optional starvation guard (Tiresias' PROMOTEKNOB): a job that has waited
longer than ``promote_knob`` times the time it has run is put back in queue 0.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies.base import (
    Decision,
    PendingIndex,
    Snapshot,
    priority_order,
    select_preemptive,
    try_start_all,
)


def queue_of(service_gpu_s: float, thresholds: Sequence[float]) -> int:
    """Index of the queue for a job that has received ``service_gpu_s`` GPU-seconds."""
    return bisect.bisect_right(thresholds, service_gpu_s)


class Las:
    name = "las"
    round_s: float | None = None
    preemptive = True

    def __init__(
        self, thresholds: Sequence[float] = (3250.0,), promote_knob: float | None = None
    ) -> None:
        self.thresholds = tuple(sorted(thresholds))
        self.promote_knob = promote_knob
        self._now = 0.0
        self._index = PendingIndex(self.key)

    def key(self, run: JobRun) -> tuple[int, float, int]:
        """Priority order: queue (by attained GPU-seconds), then submission."""
        now = self._now
        if self.promote_knob is not None and run.status is Status.PENDING and run.run_s > 0:
            waited = now - run.job.submit_s - run.run_s
            if waited >= self.promote_knob * run.run_s:
                return 0, run.job.submit_s, run.id
        return queue_of(run.attained(now), self.thresholds), run.job.submit_s, run.id

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        now = self._now = snap.now
        if try_start_all(snap, d, snap.pending):  # pending is FIFO, and all of it fits
            return d
        key: Callable[[JobRun], tuple[Any, ...]] = self.key
        if self.promote_knob is None:  # pending keys are static: use the sorted cache
            order, with_running, key = priority_order(snap, self._index)
        else:
            order, with_running = iter(sorted([*snap.running, *snap.pending], key=key)), True
        select_preemptive(snap, d, order, key, with_running=with_running)
        started = {r.id for r, _, _ in d.starts}
        preempted = {r.id for r in d.preempts}
        wake = math.inf
        thresholds = self.thresholds
        last = thresholds[-1] if thresholds else math.inf
        for run in [*snap.running, *(r for r, _, _ in d.starts)]:
            if run.attained_gpu_s >= last:  # closed segments alone put it in the last queue
                continue
            if run.id in preempted:
                continue
            service = run.attained(now) if run.id not in started else run.attained_gpu_s
            k = queue_of(service, thresholds)
            if k < len(thresholds):
                wake = min(wake, now + (thresholds[k] - service) / run.job.num_gpus)
        d.wake_at = wake if wake < math.inf else None
        return d
