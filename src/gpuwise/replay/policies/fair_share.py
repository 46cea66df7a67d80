"""Weighted fair share across tenants with quotas, borrowing and reclaim (Kueue/Volcano).

Each tenant has a nominal quota of GPUs (``quotas``; by default the fleet split by
``weights`` among the tenants that have active jobs) and a weight.  Queued jobs are offered
tenant by tenant, always to the tenant with the lowest weighted usage ``held / weight``
(the single-resource case of DRF), and within a tenant by priority class, then submission.
A job that fits on idle GPUs starts, even beyond its tenant's quota: it *borrows* idle
quota.  A job that is within its tenant's quota but does not fit *reclaims*: it preempts,
newest first, jobs of tenants that hold more than their quota (only their borrowed part),
and lower-priority jobs of its own tenant, as Kueue's ``reclaimWithinCohort`` and
``withinClusterQueue: LowerPriority`` do.  If even that does not make room, nothing is
preempted.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping

from gpuwise.replay.jobs import JobRun
from gpuwise.replay.policies.base import Decision, Snapshot, try_start_all, type_order

WAIT_QUOTA = "waiting: tenant is over its quota and no idle GPUs can be borrowed"
WAIT_RECLAIM = "waiting: within quota, but reclaiming borrowed GPUs would not make room"


def nominal_quotas(
    tenants: set[str], capacity: int, weights: Mapping[str, float]
) -> dict[str, float]:
    """Split ``capacity`` GPUs among ``tenants`` in proportion to their weights."""
    total = sum(weights.get(t, 1.0) for t in tenants) or 1.0
    return {t: capacity * weights.get(t, 1.0) / total for t in tenants}


class FairShare:
    name = "fair-share"
    round_s: float | None = None
    preemptive = True

    def __init__(
        self,
        quotas: Mapping[str, float] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.quotas = dict(quotas) if quotas else None
        self.weights = dict(weights or {})

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        if try_start_all(snap, d, snap.pending):  # idle GPUs for everyone: nothing to share
            return d
        tenants = {r.job.tenant for r in snap.active}
        capacity = sum(snap.counts.values())
        quota = dict(self.quotas) if self.quotas else nominal_quotas(
            tenants, capacity, self.weights
        )
        usage: dict[str, float] = defaultdict(float)
        for r in snap.running:
            usage[r.job.tenant] += r.job.num_gpus
        queues: dict[str, list[JobRun]] = defaultdict(list)
        for r in sorted(snap.pending, key=lambda r: (-r.job.priority, r.job.submit_s, r.id)):
            queues[r.job.tenant].append(r)
        heap = [(usage[t] / self.weights.get(t, 1.0), t, 0) for t in sorted(queues)]
        heapq.heapify(heap)
        while heap:
            _, tenant, i = heapq.heappop(heap)
            run = queues[tenant][i]
            self._offer(snap, d, run, usage, quota)
            if i + 1 < len(queues[tenant]):
                share = usage[tenant] / self.weights.get(tenant, 1.0)
                heapq.heappush(heap, (share, tenant, i + 1))
        return d

    def _offer(
        self,
        snap: Snapshot,
        d: Decision,
        run: JobRun,
        usage: dict[str, float],
        quota: Mapping[str, float],
    ) -> None:
        placer = snap.placer
        job = run.job
        types = type_order(job, placer)
        got = placer.place(job, types)
        if got is not None:
            d.start(run, *got)
            usage[job.tenant] += job.num_gpus
            return
        if usage[job.tenant] + job.num_gpus > quota.get(job.tenant, 0.0):
            d.wait(run, WAIT_QUOTA)
            return
        taken: list[JobRun] = []
        over = {t: usage[t] - quota.get(t, 0.0) for t in usage}
        victims = sorted(
            (
                v
                for v in snap.running
                if v not in d.preempts
                and (
                    (v.job.tenant != job.tenant and over.get(v.job.tenant, 0.0) > 0)
                    or (v.job.tenant == job.tenant and v.job.priority < job.priority)
                )
            ),
            key=lambda v: (-over.get(v.job.tenant, 0.0), -v.seg_start, -v.id),
        )
        for v in victims:
            if v.job.tenant != job.tenant and over[v.job.tenant] <= 0:
                continue
            d.preempt(v)
            taken.append(v)
            over[v.job.tenant] = over.get(v.job.tenant, 0.0) - v.job.num_gpus
            got = placer.place(job, types)
            if got is not None:
                break
        if got is None:
            for v in reversed(taken):
                d.unpreempt(v)
            d.wait(run, WAIT_RECLAIM)
            return
        d.start(run, *got)
        usage[job.tenant] += job.num_gpus
        for v in taken:
            if placer.free_on(v.placement):  # not needed after all: it keeps running
                d.unpreempt(v)
            else:
                usage[v.job.tenant] -= v.job.num_gpus
