"""The replay's adapter to the scheduling core for whole-GPU gang placement.

The replay never picks nodes itself: :class:`Placer` holds the cluster state as the core's
:class:`~gpuwise.sched.index.WholeGpuIndex` (free whole GPUs per node, bucketed per type)
and asks a :mod:`gpuwise.sched` policy from the registry (``best-fit`` by default) through
:func:`gpuwise.sched.gang.gang_nodes` (what ``place_whole_gang`` builds its placements
from), which puts a gang on one node or spreads it over the fewest nodes.  What is left
here is the replay's vocabulary: a job's GPU type choice, whether its gang may be split
(its topology and spread rate), and placements as ``((node, GPUs), ...)``.

``reserve`` and ``release`` change the state and are journalled by the index: a policy may
try reservations (including releasing GPUs of jobs it means to preempt) and the engine then
keeps them (:meth:`Placer.commit`) or undoes them (:meth:`Placer.rollback`).  ``fork`` gives
an independent copy for look-ahead (backfill).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gpuwise.replay.jobs import Job, Topology
from gpuwise.sched import Policy, Rejection, WorkloadMix, get_policy
from gpuwise.sched.gang import Chooser, fits, gang_nodes, why_not
from gpuwise.sched.index import WholeGpuIndex
from gpuwise.sched.shortcut import MAX_EXACT_GPUS, top_nodes

Placement = tuple[tuple[int, int], ...]  # ((node index, GPUs), ...)
DEFAULT_PLACEMENT = "best-fit"


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node as the replay sees it."""

    name: str
    gpu_type: str
    gpus: int
    up: bool = True


class Placer:
    """Free-GPU state (the core's index) and gang placement by a core policy."""

    def __init__(self, nodes: Sequence[NodeSpec], policy: Policy | str = DEFAULT_PLACEMENT,
                 seed: int = 0, mix: WorkloadMix | None = None) -> None:
        self.nodes = tuple(nodes)
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.chooser = Chooser(self.policy, np.random.default_rng(seed), mix)
        widest = max((n.gpus for n in self.nodes), default=0)
        fast = top_nodes(self.policy) is not None and widest <= MAX_EXACT_GPUS
        self._bind(WholeGpuIndex([(n.name, n.gpu_type, n.gpus, n.up) for n in self.nodes],
                                 track_snapshot=not fast))

    def _bind(self, index: WholeGpuIndex) -> None:
        """Alias the index's containers (read-only views for policies)."""
        self.index = index
        self.types: tuple[str, ...] = index.models
        self.node_type = index.model
        self.free = index.free
        self.up = index.up
        self.max_node = index.max_node
        self.capacity = index.capacity
        self.free_by_type = index.free_by_model
        self.buckets = index.buckets

    @property
    def changes(self) -> int:
        return self.index.changes

    # -- state changes -------------------------------------------------------------------
    def reserve(self, placement: Placement) -> None:
        take = self.index.take
        for node, k in placement:
            take(node, k)

    def release(self, placement: Placement) -> None:
        give = self.index.give
        for node, k in placement:
            give(node, k)

    def commit(self) -> None:
        self.index.commit()

    def rollback(self) -> None:
        self.index.rollback()

    def set_node_up(self, node: int, up: bool) -> None:
        """Mark ``node`` up or down (jobs on a failing node must have been released)."""
        self.index.set_up(node, up)

    def fork(self) -> Placer:
        other = Placer.__new__(Placer)
        other.nodes, other.policy, other.chooser = self.nodes, self.policy, self.chooser
        other._bind(self.index.copy())
        return other

    # -- queries --------------------------------------------------------------------------
    def spread_ok(self, job: Job, gpu_type: str) -> bool:
        """Whether ``job``'s gang may be split over nodes of ``gpu_type``: a packed gang only
        when no node is big enough, and never where its spread rate is 0."""
        if job.topology is Topology.PACK and job.num_gpus <= self.max_node[gpu_type]:
            return False
        return job.rate(gpu_type, spread=True) > 0

    def fits(self, job: Job, gpu_type: str) -> bool:
        """Whether :meth:`find` would place ``job`` on ``gpu_type`` now (no policy asked)."""
        g = job.num_gpus
        if self.free_by_type.get(gpu_type, 0) < g:
            return False
        return fits(self.index, g, gpu_type, self.spread_ok(job, gpu_type))

    def fits_any(self, job: Job, types: Iterable[str]) -> bool:
        return any(t in self.buckets and job.can_run_on(t) and self.fits(job, t) for t in types)

    def find(self, job: Job, gpu_type: str) -> Placement | None:
        """The placement policy's placement of ``job`` on ``gpu_type`` nodes, or ``None``
        (then :meth:`why` says why, in the core's words)."""
        g = job.num_gpus
        if self.free_by_type.get(gpu_type, 0) < g:  # cheap necessary condition
            return None
        got = gang_nodes(self.chooser, self.index, g, gpu_type, self.spread_ok(job, gpu_type))
        return None if got is None else tuple(got)

    def why(self, job: Job, gpu_type: str) -> Rejection:
        """The core's reason ``job`` cannot be placed on ``gpu_type`` now."""
        return why_not(self.index, job.num_gpus, gpu_type, self.spread_ok(job, gpu_type))

    def place(self, job: Job, types: Iterable[str]) -> tuple[str, Placement] | None:
        """The first of ``types`` where ``job`` fits, with its placement (not reserved)."""
        for t in types:
            if t in self.buckets and job.can_run_on(t):
                p = self.find(job, t)
                if p is not None:
                    return t, p
        return None

    def free_on(self, placement: Placement) -> bool:
        return all(self.free[node] >= k for node, k in placement)

    @property
    def free_total(self) -> int:
        return sum(self.free_by_type.values())

    @property
    def capacity_total(self) -> int:
        return sum(self.capacity.values())


def nodes_from_fleet(fleet: object) -> list[NodeSpec]:
    """The GPU nodes of a :class:`gpuwise.fleet.Fleet` (CPU-only nodes are left out; a node
    that is not ``up`` starts down)."""
    out = []
    for n in getattr(fleet, "nodes", ()):
        if n.gpu_type and n.gpus > 0:
            out.append(NodeSpec(n.name, n.gpu_type, int(n.gpus), up=n.state == "up"))
    return out
