"""A free-GPU index for whole-GPU requests: per GPU model, nodes bucketed by free GPU count.

Simulators that replay thousands of jobs per second ask "does a gang of ``g`` GPUs of model
``m`` fit?" far more often than they place one.  :class:`WholeGpuIndex` answers such
questions in O(1)..O(GPUs per node) without touching numpy, and gives the scheduling core
(:mod:`gpuwise.sched.gang`) what it needs to decide quickly.  It models whole GPUs only: no
GPU sharing, and CPU and memory are *not modelled* (they never bind).

The index is the state; it can keep a :class:`ClusterSnapshot` in step with itself
(``track_snapshot=True``) for policies whose scorers read the snapshot's arrays.  In that
snapshot every node has :data:`UNMODELLED_CPU` milli-cores and :data:`UNMODELLED_MEM` MiB
(identical on every node, so CPU terms of the scores never separate nodes), and the free
GPUs of a node are always its *highest* indices: taking ``k`` GPUs uses the lowest free ones
(the core's exclusive selector) and giving ``k`` back frees the ``k`` just below the free
block.  Whole GPUs of one node are interchangeable, so this loses nothing.

Changes are journalled: :meth:`commit` keeps them, :meth:`rollback` undoes everything since
the last commit (or :meth:`mark`), so a caller can try reservations and take them back;
:meth:`copy` gives an independent index for look-ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from gpuwise.sched.snapshot import ClusterSnapshot, IntArray
from gpuwise.sched.types import MILLI, NodeSpec, Placement, Request

UNMODELLED_CPU = 1_000_000
"""Milli-cores of every node in a tracked snapshot (CPU not modelled; requests ask for 0)."""
UNMODELLED_MEM = 1 << 30
"""MiB of every node in a tracked snapshot (memory not modelled)."""


@lru_cache(maxsize=4096)
def whole_request(num_gpus: int, model: str) -> Request:
    """The core's request for ``num_gpus`` whole GPUs of ``model`` (CPU/memory not modelled)."""
    return Request(0, 0, num_gpus, MILLI, frozenset({model}), f"{num_gpus}x{model}")


class WholeGpuIndex:
    """Free whole GPUs per node, with per-model buckets ``buckets[model][k]`` = the nodes
    with exactly ``k`` free GPUs (``k >= 1``).  Node ``i`` is row ``i`` of the snapshot.

    Public (read-only) attributes: ``names``, ``model`` and ``count`` (per node), ``free``
    (free GPUs per node), ``up`` (per node), ``models`` (sorted), ``free_by_model``,
    ``capacity`` (GPUs of up nodes per model), ``max_node`` (largest node per model),
    ``changes`` (bumps on every change), ``snapshot`` (``None`` unless tracked) and
    ``rank`` (``arange(N)``, the tie rank "lowest node index first").
    """

    __slots__ = ("names", "model", "count", "free", "up", "models", "buckets",
                 "free_by_model", "capacity", "max_node", "changes", "snapshot", "rank",
                 "_journal", "_down")

    def __init__(self, nodes: Sequence[tuple[str, str, int, bool]],
                 track_snapshot: bool = False) -> None:
        """``nodes``: ``(name, GPU model, GPUs, up)`` per node."""
        self.names = tuple(n[0] for n in nodes)
        self.model = tuple(n[1] for n in nodes)
        self.count = tuple(int(n[2]) for n in nodes)
        self.models: tuple[str, ...] = tuple(sorted({m for m, c in zip(self.model, self.count,
                                                                        strict=True) if c}))
        widest = dict.fromkeys(self.models, 0)
        self.max_node = dict.fromkeys(self.models, 0)  # largest node that is up (or was)
        for m, c, n in zip(self.model, self.count, nodes, strict=True):
            if c:
                widest[m] = max(widest[m], c)
                if n[3]:
                    self.max_node[m] = max(self.max_node[m], c)
        self.buckets: dict[str, list[set[int]]] = {
            m: [set() for _ in range(widest[m] + 1)] for m in self.models}
        self.free = list(self.count)
        self.up = [True] * len(nodes)
        self.capacity = dict.fromkeys(self.models, 0)
        for i, (m, c) in enumerate(zip(self.model, self.count, strict=True)):
            if c:
                self.capacity[m] += c
                self.buckets[m][c].add(i)
        self.free_by_model = dict(self.capacity)
        self.changes = 0
        self.rank: IntArray = np.arange(len(nodes), dtype=np.int64)
        self.snapshot: ClusterSnapshot | None = None
        if track_snapshot:
            self.snapshot = ClusterSnapshot.from_nodes([
                NodeSpec(name, UNMODELLED_CPU, UNMODELLED_MEM, c, m if c else "")
                for name, m, c in zip(self.names, self.model, self.count, strict=True)])
        self._journal: list[tuple[int, int, ClusterSnapshot | None]] = []
        self._down: dict[int, int] = {}  # node -> GPUs its "down" filler holds
        for i, n in enumerate(nodes):
            if not n[3]:
                self.set_up(i, False)
        self._journal.clear()

    # -- queries ---------------------------------------------------------------------------
    def holds(self, model: str, g: int) -> bool:
        """Some node of ``model`` has ``g`` free GPUs."""
        b = self.buckets.get(model)
        if b is None:
            return False
        for k in range(g if g > 0 else 1, len(b)):
            if b[k]:
                return True
        return False

    def gpus_taken(self, node: int, k: int) -> tuple[int, ...]:
        """GPU indices that taking ``k`` GPUs on ``node`` uses (the lowest free ones)."""
        first = self.count[node] - self.free[node]
        return tuple(range(first, first + k))

    def placement(self, node: int, k: int) -> Placement:
        """The core's :class:`Placement` of ``k`` whole GPUs on ``node``."""
        req = whole_request(k, self.model[node])
        return Placement(req, node, self.names[node], self.gpus_taken(node, k))

    # -- changes ---------------------------------------------------------------------------
    def _set_free(self, node: int, value: int) -> None:
        old = self.free[node]
        b = self.buckets[self.model[node]]
        if old > 0:
            b[old].discard(node)
        if value > 0:
            b[value].add(node)
        self.free[node] = value
        self.free_by_model[self.model[node]] += value - old
        self.changes += 1

    def take(self, node: int, k: int) -> None:
        """Reserve ``k`` free GPUs on ``node`` (RuntimeError if fewer are free)."""
        f = self.free[node]
        if k > f or k <= 0:
            raise RuntimeError(f"double booking on node {self.names[node]}")
        snap = self.snapshot
        self._journal.append((node, f, snap))
        if snap is not None:
            self.snapshot = snap.place(self.placement(node, k))
        self._set_free(node, f - k)

    def give(self, node: int, k: int) -> None:
        """Give back ``k`` GPUs on ``node`` (the inverse of :meth:`take`)."""
        f = self.free[node]
        if k <= 0 or f + k > self.count[node]:
            raise RuntimeError(f"releasing {k} GPUs that node {self.names[node]} does not hold")
        snap = self.snapshot
        self._journal.append((node, f, snap))
        if snap is not None:
            first = self.count[node] - f - k
            req = whole_request(k, self.model[node])
            self.snapshot = snap.release(Placement(req, node, self.names[node],
                                                   tuple(range(first, first + k))))
        self._set_free(node, f + k)

    def mark(self) -> int:
        """A point to :meth:`rollback` to."""
        return len(self._journal)

    def commit(self) -> None:
        """Keep every change so far."""
        self._journal.clear()

    def rollback(self, mark: int = 0) -> None:
        """Undo the changes made since ``mark`` (default: since the last commit)."""
        j = self._journal
        while len(j) > mark:
            node, old, snap = j.pop()
            self._set_free(node, old)
            self.snapshot = snap

    def set_up(self, node: int, up: bool) -> None:
        """Take ``node`` down (its free GPUs become unavailable; jobs on it must have been
        given back first) or bring it back up.  Commits (clears the journal)."""
        if self.up[node] == up or not self.count[node]:
            self.up[node] = up
            return
        m = self.model[node]
        self.up[node] = up
        self.capacity[m] += self.count[node] if up else -self.count[node]
        self._journal.clear()
        if not up:
            held = self.free[node]
            self._down[node] = held
            if held:
                self.take(node, held)
        else:
            self.max_node[m] = max(self.max_node[m], self.count[node])
            held = self._down.pop(node, 0)
            if held:
                self.give(node, held)
        self._journal.clear()

    def copy(self) -> WholeGpuIndex:
        """An independent index with the same state (and an empty journal)."""
        other = WholeGpuIndex.__new__(WholeGpuIndex)
        other.names, other.model, other.count = self.names, self.model, self.count
        other.models, other.rank = self.models, self.rank
        other.free = list(self.free)
        other.up = list(self.up)
        other.max_node = dict(self.max_node)
        other.capacity = dict(self.capacity)
        other.free_by_model = dict(self.free_by_model)
        other.buckets = {m: [set(s) for s in b] for m, b in self.buckets.items()}
        other.snapshot = self.snapshot
        other.changes = 0
        other._journal = []
        other._down = dict(self._down)
        return other
