"""Priority classes with preemption (as Kubernetes PriorityClass / Kueue / Slurm QOS do).

Jobs run in order of priority class (higher first), then submission.  A pending job may
preempt running jobs only of a strictly lower class; within a class nothing is preempted
(running jobs keep their GPUs ahead of equal-class queued jobs).
"""

from __future__ import annotations

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies.base import Decision, Snapshot, select_preemptive


def lower_class(victim: JobRun, job: JobRun) -> bool:
    """Whether ``job`` may preempt ``victim``: only across a strictly lower class."""
    return victim.job.priority < job.job.priority


class PriorityPreemptive:
    name = "priority"
    round_s: float | None = None
    preemptive = True

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        order = sorted(
            snap.active,
            key=lambda r: (-r.job.priority, r.status is not Status.RUNNING, r.job.submit_s, r.id),
        )
        select_preemptive(snap, d, order, may_preempt=lower_class)
        return d
