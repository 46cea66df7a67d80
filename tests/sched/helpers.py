"""Small hand-built clusters for the scheduling-core tests."""

from __future__ import annotations

import numpy as np

from gpuwise.sched import ClusterSnapshot, NodeSpec, Placement, Request


def node(name: str, gpus: int = 8, model: str = "V100M32", cpu: int = 96_000,
         mem: int = 393_216) -> NodeSpec:
    return NodeSpec(name, cpu, mem, gpus, model if gpus else "")


def share(milli: int, cpu: int = 4_000, models: frozenset[str] = frozenset(),
          name: str = "s") -> Request:
    return Request(cpu, 1_024, 1, milli, models, name)


def whole(n: int, cpu: int = 8_000, models: frozenset[str] = frozenset(),
          name: str = "w") -> Request:
    return Request(cpu, 1_024, n, 1_000 if n else 0, models, name)


def occupy(snap: ClusterSnapshot, node_idx: int, gpu: int, milli: int,
           cpu: int = 0) -> ClusterSnapshot:
    """Place a filler share of ``milli`` on one GPU (``milli`` 1000 = a whole GPU)."""
    req = Request(cpu, 0, 1, milli, frozenset(), "filler")
    return snap.place(Placement(req, node_idx, snap.names[node_idx], (gpu,)))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
