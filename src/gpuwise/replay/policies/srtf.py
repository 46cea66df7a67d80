"""Shortest remaining time first with oracle run times (an upper reference, not a real
scheduler: it knows every job's true remaining work).

Each decision runs the jobs with the least remaining time, preempting longer ones.  The
remaining time of a running job is measured on its current GPU type, that of a pending job
on its fastest type in the fleet.  Ties go to the earlier submission.
"""

from __future__ import annotations

import math

from gpuwise.replay.jobs import JobRun, Status
from gpuwise.replay.policies.base import Decision, Snapshot, select_preemptive, type_order


def remaining_s(run: JobRun, snap: Snapshot) -> float:
    """Oracle remaining run time (seconds) of ``run`` at ``snap.now``."""
    left = run.remaining_work(snap.now)
    if run.status is Status.RUNNING:
        return left / run.seg_rate if run.seg_rate > 0 else math.inf
    types = type_order(run.job, snap.placer)
    return left / run.job.rate(types[0]) if types else math.inf


class Srtf:
    name = "srtf"
    round_s: float | None = None
    preemptive = True

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        order = sorted(
            snap.active, key=lambda r: (remaining_s(r, snap), r.job.submit_s, r.id)
        )
        select_preemptive(snap, d, order)
        return d
