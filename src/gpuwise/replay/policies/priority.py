"""Priority classes with preemption (as Kubernetes PriorityClass / Kueue / Slurm QOS do).

Jobs run in order of priority class (higher first), then submission.  A pending job may
preempt running jobs only of a strictly lower class; within a class nothing is preempted
(running jobs keep their GPUs ahead of equal-class queued jobs).
"""

from __future__ import annotations

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies.base import (
    Decision,
    PendingIndex,
    Snapshot,
    priority_order,
    select_preemptive,
    try_start_all,
)


def lower_class(victim: JobRun, job: JobRun) -> bool:
    """Whether ``job`` may preempt ``victim``: only across a strictly lower class."""
    return victim.job.priority < job.job.priority


def class_order(run: JobRun) -> tuple[int, bool, float, int]:
    """Higher class first; within a class running jobs first, then submission."""
    return -run.job.priority, run.status is not Status.RUNNING, run.job.submit_s, run.id


class PriorityPreemptive:
    name = "priority"
    round_s: float | None = None
    preemptive = True

    def __init__(self) -> None:
        self._index = PendingIndex(class_order)

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        if try_start_all(snap, d, snap.pending):
            return d
        order, with_running, key = priority_order(snap, self._index)
        select_preemptive(snap, d, order, key, may_preempt=lower_class, with_running=with_running)
        return d
