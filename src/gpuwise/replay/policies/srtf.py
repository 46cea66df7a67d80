"""Shortest remaining time first with oracle run times (an upper reference, not a real
scheduler: it knows every job's true remaining work).

Each decision runs the jobs with the least remaining time, preempting longer ones.  The
remaining time of a running job is measured on its current GPU type, that of a pending job
on its fastest type in the fleet.  Ties go to the earlier submission.
"""

from __future__ import annotations

import math

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.placement import Placer
from gpuwise.replay.policies.base import (
    Decision,
    PendingIndex,
    Snapshot,
    priority_order,
    select_preemptive,
    try_start_all,
    type_order,
)


def remaining_s(run: JobRun, placer: Placer, now: float) -> float:
    """Oracle remaining run time (seconds) of ``run`` at ``now``."""
    left = run.remaining_work(now)
    if run.status is Status.RUNNING:
        return left / run.seg_rate if run.seg_rate > 0 else math.inf
    types = type_order(run.job, placer)
    return left / run.job.rate(types[0]) if types else math.inf


class Srtf:
    name = "srtf"
    round_s: float | None = None
    preemptive = True

    def __init__(self) -> None:
        self._snap: Snapshot | None = None
        self._index = PendingIndex(self.key)

    def key(self, run: JobRun) -> tuple[float, float, int]:
        assert self._snap is not None
        return remaining_s(run, self._snap.placer, self._snap.now), run.job.submit_s, run.id

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        self._snap = snap
        if try_start_all(snap, d, snap.pending):
            return d
        order, with_running, key = priority_order(snap, self._index)
        select_preemptive(snap, d, order, key, with_running=with_running)
        return d
