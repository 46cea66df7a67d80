"""Immutable cluster snapshot: per-node free CPU, memory and per-GPU free milli-GPU.

A :class:`ClusterSnapshot` is a value: ``place`` and ``release`` return a new snapshot and
never change the old one (its arrays are read-only).  Values derived from a snapshot (for
instance FGD's per-node fragmentation) can be memoized with :meth:`ClusterSnapshot.derived`;
a snapshot made by ``place``/``release`` recomputes only the rows of the nodes that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gpuwise.sched.types import MILLI, NodeSpec, Placement, Request

IntArray = npt.NDArray[np.int64]
RowFn = Callable[["ClusterSnapshot", "IntArray | None"], npt.NDArray[Any]]


def _frozen(a: npt.ArrayLike, dtype: type = np.int64) -> IntArray:
    out: IntArray = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


class ClusterSnapshot:
    """The state of every node at one instant.  Node ``i`` is row ``i`` of every array.

    Attributes (read-only numpy arrays with one row per node unless noted):

    * ``names``, ``models`` (GPU model, "" for CPU-only), ``labels`` (``(key, value)`` pairs):
      tuples;
    * ``model_vocab``: tuple of the distinct models; ``model_index``: index into it (-1 none);
    * ``cpu_capacity``, ``mem_capacity``, ``gpu_count``, ``cpu_free``, ``mem_free``;
    * ``gpu_free``: N x G milli-GPU free per GPU (0 past ``gpu_count``);
    * ``pod_classes``: N x (G+1) pods per GpuClustering class (column 0: GPU-sharing pods,
      column k: k-GPU pods).
    """

    __slots__ = (
        "names", "labels", "models", "model_vocab", "model_index", "cpu_capacity",
        "mem_capacity", "gpu_count", "cpu_free", "mem_free", "gpu_free", "pod_classes",
        "_cache", "_inherit", "_changed",
    )

    names: tuple[str, ...]
    labels: tuple[tuple[tuple[str, str], ...], ...]
    models: tuple[str, ...]
    model_vocab: tuple[str, ...]
    model_index: IntArray
    cpu_capacity: IntArray
    mem_capacity: IntArray
    gpu_count: IntArray
    cpu_free: IntArray
    mem_free: IntArray
    gpu_free: IntArray
    pod_classes: IntArray
    _cache: dict[Hashable, npt.NDArray[Any]]
    _inherit: dict[Hashable, npt.NDArray[Any]] | None
    _changed: IntArray | None

    @classmethod
    def from_nodes(cls, nodes: Sequence[NodeSpec]) -> ClusterSnapshot:
        """An empty cluster (nothing placed) with the given machines."""
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        width = max(1, max(n.gpu_count for n in nodes))
        vocab = tuple(sorted({n.gpu_model for n in nodes if n.gpu_count > 0 and n.gpu_model}))
        s = cls.__new__(cls)
        s.names = tuple(n.name for n in nodes)
        s.labels = tuple(tuple(n.labels) for n in nodes)
        s.models = tuple(n.gpu_model if n.gpu_count > 0 else "" for n in nodes)
        s.model_vocab = vocab
        s.model_index = _frozen([vocab.index(m) if m else -1 for m in s.models])
        s.cpu_capacity = _frozen([n.cpu_milli for n in nodes])
        s.mem_capacity = _frozen([n.memory_mib for n in nodes])
        s.gpu_count = _frozen([n.gpu_count for n in nodes])
        s.cpu_free = s.cpu_capacity
        s.mem_free = s.mem_capacity
        cols = np.arange(width)
        s.gpu_free = _frozen(np.where(cols[None, :] < s.gpu_count[:, None], MILLI, 0))
        s.pod_classes = _frozen(np.zeros((len(nodes), width + 1)))
        s._cache = {}
        s._inherit = None
        s._changed = None
        return s

    # ----------------------------------------------------------------- basic facts
    @property
    def num_nodes(self) -> int:
        return len(self.names)

    @property
    def total_gpus(self) -> int:
        return int(self.gpu_count.sum())

    @property
    def total_gpu_milli(self) -> int:
        return MILLI * self.total_gpus

    @property
    def used_gpu_milli(self) -> int:
        return self.total_gpu_milli - int(self.gpu_free.sum())

    def node_index(self, name: str) -> int:
        """Row of the node called ``name`` (KeyError if absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(name) from None

    def model_mask(self, request: Request) -> npt.NDArray[np.bool_]:
        """Nodes whose GPU model the request accepts (every node when it names none).

        A request that needs no GPU accepts every node; one that needs GPUs never accepts a
        CPU-only node.
        """
        if request.num_gpu == 0:
            return np.ones(self.num_nodes, dtype=bool)
        if not request.gpu_models:
            return self.model_index >= 0
        lut = np.array([m in request.gpu_models for m in self.model_vocab] + [False])
        return lut[self.model_index]  # index -1 hits the trailing False

    # ----------------------------------------------------------------- transitions
    def place(self, p: Placement) -> ClusterSnapshot:
        """A new snapshot with ``p`` applied.  Raises ValueError if it does not fit."""
        return self._apply(p, +1)

    def release(self, p: Placement) -> ClusterSnapshot:
        """A new snapshot with ``p`` undone (the inverse of :meth:`place`)."""
        return self._apply(p, -1)

    def _apply(self, p: Placement, sign: int) -> ClusterSnapshot:
        r, i = p.request, p.node
        if len(p.gpus) != r.num_gpu or len(set(p.gpus)) != len(p.gpus):
            raise ValueError(f"placement of {r.name!r}: needs {r.num_gpu} distinct GPU indices")
        if any(g < 0 or g >= self.gpu_count[i] for g in p.gpus):
            raise ValueError(f"placement of {r.name!r}: GPU index out of range on {p.node_name}")
        cpu = self.cpu_free.copy()
        mem = self.mem_free.copy()
        gpu = self.gpu_free.copy()
        cls = self.pod_classes.copy()
        cpu[i] -= sign * r.cpu_milli
        mem[i] -= sign * r.memory_mib
        for g in p.gpus:
            gpu[i, g] -= sign * r.gpu_milli
        tag = r.affinity_tag()
        if tag >= 0:
            cls[i, min(tag, cls.shape[1] - 1)] += sign
        if sign > 0 and r.num_gpu and not self.model_mask(r)[i]:
            raise ValueError(f"placement of {r.name!r}: GPU model {self.models[i]} not allowed")
        if (cpu[i] < 0 or mem[i] < 0 or (gpu[i] < 0).any() or cpu[i] > self.cpu_capacity[i]
                or mem[i] > self.mem_capacity[i] or (gpu[i] > MILLI).any()):
            verb = "does not fit on" if sign > 0 else "was not placed on"
            raise ValueError(f"request {r.name!r} {verb} node {self.names[i]}")
        return self._child(cpu, mem, gpu, cls, (i,))

    def _child(self, cpu: IntArray, mem: IntArray, gpu: IntArray, cls: IntArray,
               changed: tuple[int, ...]) -> ClusterSnapshot:
        s = ClusterSnapshot.__new__(ClusterSnapshot)
        for name in ("names", "labels", "models", "model_vocab", "model_index",
                     "cpu_capacity", "mem_capacity", "gpu_count"):
            setattr(s, name, getattr(self, name))
        for a in (cpu, mem, gpu, cls):
            a.setflags(write=False)
        s.cpu_free, s.mem_free, s.gpu_free, s.pod_classes = cpu, mem, gpu, cls
        s._cache = {}
        s._inherit = self._cache
        s._changed = np.array(changed, dtype=np.int64)
        return s

    # ----------------------------------------------------------------- memoized views
    def derived(self, key: Hashable, fn: RowFn) -> npt.NDArray[Any]:
        """Memoized per-node value ``fn(self, None)`` (first axis = node).

        ``fn(snapshot, rows)`` must return the value for the node indices ``rows`` only
        (all nodes when ``rows`` is None) and depend on nothing but the snapshot and ``key``.
        A snapshot made by ``place``/``release`` reuses its parent's value and recomputes the
        changed rows.  The result is read-only.
        """
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        parent = self._inherit.get(key) if self._inherit is not None else None
        if parent is not None and self._changed is not None:
            out = parent.copy()
            out[self._changed] = fn(self, self._changed)
        else:
            out = np.array(fn(self, None))
        out.setflags(write=False)
        self._cache[key] = out
        return out
