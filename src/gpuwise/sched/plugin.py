"""Plugin interfaces of the scheduling pipeline: filter -> score -> select -> reserve.

A *score plugin* rates every feasible node for one request (higher is better) and may also
say which GPU it would use on each node (FGD and DotProd pick the GPU while scoring).  A *GPU
selector* turns the chosen node into exact GPU indices.  Both are pure functions of the
:class:`Context` (snapshot, request, workload mix, random generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from gpuwise.sched.mix import WorkloadMix
from gpuwise.sched.snapshot import ClusterSnapshot, IntArray
from gpuwise.sched.types import Request

FloatArray = npt.NDArray[np.float64]

MAX_NODE_SCORE = 100
"""Kubernetes' framework.MaxNodeScore; the reference plugins score on 0..100 integers."""


@dataclass(frozen=True)
class Context:
    """Everything a plugin may look at for one decision."""

    snapshot: ClusterSnapshot
    request: Request
    mix: WorkloadMix | None
    rng: np.random.Generator


class ScoreOutput(NamedTuple):
    """Scores of the candidate nodes, and optionally the GPU each would use (-1: no opinion)."""

    scores: FloatArray
    gpu_choice: IntArray | None = None


class ScorePlugin(Protocol):
    """Rates candidate nodes ``nodes`` (indices into the snapshot) for ``ctx.request``."""

    @property
    def name(self) -> str: ...

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput: ...


class GpuSelector(Protocol):
    """Picks the GPU indices on node ``node``; ``hint`` is a scorer's choice (-1 if none)."""

    def __call__(self, ctx: Context, node: int, hint: int) -> tuple[int, ...]: ...


def normalize_min_max(scores: FloatArray) -> FloatArray:
    """Kubernetes-style NormalizeScore used by the artifact's BestFit plugin:
    ``(s - lo) * 100 // (hi - lo)`` in integers, all zero when every score is equal."""
    lo, hi = scores.min(), scores.max()
    if hi == lo:
        return np.zeros_like(scores)
    return np.floor_divide((scores - lo) * MAX_NODE_SCORE, hi - lo)
