"""Whole-GPU gang placement on the nodes of a fleet.

This module is the only place where the replay decides on which nodes a job lands.  It keeps
per node the number of free GPUs and, per GPU type, buckets of nodes by free count, so that a
best-fit choice (the node whose free count is the smallest that still holds the gang) costs
O(GPUs per node) instead of a scan over all nodes.

``reserve`` and ``release`` change the state and are journalled: a policy may try
reservations on the snapshot's placer (including releasing GPUs of jobs it means to preempt)
and the engine then either keeps them (:meth:`Placer.commit`) or undoes them
(:meth:`Placer.rollback`).  ``fork`` gives an independent copy for look-ahead (backfill).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gpuwise.replay.jobs import Job, Topology

Placement = tuple[tuple[int, int], ...]  # ((node index, GPUs), ...)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node as the replay sees it."""

    name: str
    gpu_type: str
    gpus: int
    up: bool = True


class Placer:
    """Free-GPU bookkeeping with best-fit gang placement."""

    def __init__(self, nodes: Sequence[NodeSpec]) -> None:
        self.nodes = tuple(nodes)
        self.types: tuple[str, ...] = tuple(sorted({n.gpu_type for n in self.nodes if n.gpus}))
        self.node_type = [n.gpu_type for n in self.nodes]
        self.free = [n.gpus if n.up else 0 for n in self.nodes]
        self.up = [n.up for n in self.nodes]
        self.max_node = dict.fromkeys(self.types, 0)
        self.capacity = dict.fromkeys(self.types, 0)
        for n in self.nodes:
            if n.gpus and n.up:
                self.max_node[n.gpu_type] = max(self.max_node[n.gpu_type], n.gpus)
                self.capacity[n.gpu_type] += n.gpus
        self.free_by_type = dict(self.capacity)
        # buckets[type][k] = set of node indices with exactly k free GPUs (k >= 1)
        self.buckets: dict[str, list[set[int]]] = {
            t: [set() for _ in range(self.max_node[t] + 1)] for t in self.types
        }
        for i, n in enumerate(self.nodes):
            if self.free[i] > 0:
                self.buckets[n.gpu_type][self.free[i]].add(i)
        self._journal: list[tuple[int, int]] = []
        self.changes = 0  # bumps on every change of free GPUs (cheap change detection)

    # -- state changes -------------------------------------------------------------------
    def _set_free(self, node: int, value: int) -> None:
        old = self.free[node]
        t = self.node_type[node]
        b = self.buckets[t]
        if old > 0:
            b[old].discard(node)
        if value > 0:
            if value >= len(b):  # a repaired node may exceed the max seen while it was down
                b.extend(set() for _ in range(value + 1 - len(b)))
            b[value].add(node)
        self.free[node] = value
        self.free_by_type[t] += value - old
        self.changes += 1

    def reserve(self, placement: Placement) -> None:
        for node, k in placement:
            if k > self.free[node]:
                raise RuntimeError(f"double booking on node {self.nodes[node].name}")
            self._journal.append((node, self.free[node]))
            self._set_free(node, self.free[node] - k)

    def release(self, placement: Placement) -> None:
        for node, k in placement:
            self._journal.append((node, self.free[node]))
            self._set_free(node, self.free[node] + k)

    def commit(self) -> None:
        self._journal.clear()

    def rollback(self) -> None:
        while self._journal:
            node, old = self._journal.pop()
            self._set_free(node, old)

    def set_node_up(self, node: int, up: bool, busy: int) -> None:
        """Mark ``node`` up or down; ``busy`` is what running jobs still hold on it."""
        t = self.node_type[node]
        total = self.nodes[node].gpus
        if self.up[node] == up:
            return
        self.up[node] = up
        self.capacity[t] += total if up else -total
        self.changes += 1
        self.max_node[t] = max(self.max_node[t], total)
        self._set_free(node, total - busy if up else 0)
        self._journal.clear()

    def fork(self) -> Placer:
        other = Placer.__new__(Placer)
        other.nodes = self.nodes
        other.types = self.types
        other.node_type = self.node_type
        other.free = list(self.free)
        other.up = list(self.up)
        other.max_node = dict(self.max_node)
        other.capacity = dict(self.capacity)
        other.free_by_type = dict(self.free_by_type)
        other.buckets = {t: [set(s) for s in b] for t, b in self.buckets.items()}
        other._journal = []
        other.changes = 0
        return other

    # -- queries --------------------------------------------------------------------------
    def find(self, job: Job, gpu_type: str) -> Placement | None:
        """A best-fit placement of ``job`` on ``gpu_type`` nodes, or ``None``."""
        g = job.num_gpus
        if self.free_by_type.get(gpu_type, 0) < g:
            return None
        b = self.buckets[gpu_type]
        top = len(b) - 1
        for k in range(min(g, top + 1), top + 1):  # one node that holds the whole gang
            if k >= g and b[k]:
                return ((min(b[k]), g),)
        if job.topology is Topology.PACK and g <= self.max_node[gpu_type]:
            return None  # it fits on one node by size, so it waits for one
        if job.rate(gpu_type, spread=True) <= 0:
            return None  # it cannot run spread over servers of this type
        return self._spread(g, b)

    @staticmethod
    def _spread(g: int, b: list[set[int]]) -> Placement | None:
        """Take GPUs from the emptiest nodes first (fewest nodes for the gang)."""
        out: list[tuple[int, int]] = []
        need = g
        for k in range(len(b) - 1, 0, -1):
            for node in sorted(b[k]):
                take = min(k, need)
                out.append((node, take))
                need -= take
                if need == 0:
                    return tuple(out)
        return None

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
