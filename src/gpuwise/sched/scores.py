"""The reference score plugins of the FGD paper's evaluation (§6.1), vectorized over nodes.

Each follows the artifact's plugin of the same name (``pkg/simulator/plugin/*_score.go``),
including its integer 0..100 scale, because truncation decides ties and ties are broken at
random, which shapes the packing curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.sched.mix import nonzero_cpu
from gpuwise.sched.plugin import (
    MAX_NODE_SCORE,
    Context,
    FloatArray,
    ScoreOutput,
    normalize_min_max,
)
from gpuwise.sched.snapshot import IntArray
from gpuwise.sched.types import MILLI

MAX_SPEC_CPU = 128_000
"""Largest node CPU (milli-cores) in the artifact's normalization (``MaxSpecCpu``)."""
MAX_SPEC_GPU = 8_000
"""Largest node GPU capacity (milli-GPU) in the artifact's normalization (``MaxSpecGpu``)."""


@dataclass(frozen=True)
class RandomScore:
    """Random: one feasible node drawn uniformly scores 100, the others 0."""

    name: str = "random"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        out = np.zeros(len(nodes))
        out[int(ctx.rng.integers(len(nodes)))] = MAX_NODE_SCORE
        return ScoreOutput(out)


def _free_and_request(ctx: Context, nodes: IntArray) -> tuple[FloatArray, FloatArray,
                                                                 float, float]:
    snap, req = ctx.snapshot, ctx.request
    cpu_free = snap.cpu_free[nodes].astype(np.float64)
    gpu_free = snap.gpu_free[nodes].sum(axis=1).astype(np.float64)
    return cpu_free, gpu_free, float(nonzero_cpu(req.cpu_milli)), float(req.total_gpu_milli)


@dataclass(frozen=True)
class DotProductScore:
    """Tetris (Grandl et al., SIGCOMM'14) as the artifact runs it ("merge" dims, "max" norm):
    ``100 * (1 - <free, request> / 2)`` with CPU and total GPU scaled by the largest node."""

    name: str = "dotprod"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        cpu, gpu, rc, rg = _free_and_request(ctx, nodes)
        dot = (cpu / MAX_SPEC_CPU) * (rc / MAX_SPEC_CPU) + (gpu / MAX_SPEC_GPU) * (
            rg / MAX_SPEC_GPU)
        return ScoreOutput(np.trunc(MAX_NODE_SCORE * (1.0 - dot / 2.0)))


@dataclass(frozen=True)
class BestFitScore:
    """Best fit: least leftover ``0.5 (cpu_free - cpu)/128000 + 0.5 (gpu_free - gpu)/8000``,
    turned into ``100 (1 - leftover)`` and min-max normalized over the candidates."""

    name: str = "best-fit"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        cpu, gpu, rc, rg = _free_and_request(ctx, nodes)
        left = 0.5 * (cpu - rc) / MAX_SPEC_CPU + 0.5 * (gpu - rg) / MAX_SPEC_GPU
        return ScoreOutput(normalize_min_max(np.trunc((1.0 - left) * MAX_NODE_SCORE)))


@dataclass(frozen=True)
class GpuClusteringScore:
    """GPU clustering: prefer nodes already running pods of the same GPU class (sharing,
    1-GPU, 2-GPU, ...): 75..100 when it is the only class there, 50..75 when mixed, 25..50 on an
    unused node, 0..25 otherwise; within a band, fuller nodes score higher."""

    name: str = "gpu-clustering"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        snap, tag = ctx.snapshot, ctx.request.affinity_tag()
        if tag < 0:
            return ScoreOutput(np.zeros(len(nodes)))
        classes = snap.pod_classes[nodes]
        same = classes[:, min(tag, classes.shape[1] - 1)] > 0
        kinds = (classes > 0).sum(axis=1)
        band = np.where(same, np.where(kinds == 1, 3, 2), np.where(kinds == 0, 1, 0))
        quarter = MAX_NODE_SCORE // 4
        left = snap.gpu_free[nodes].sum(axis=1)
        fill = quarter * (MAX_SPEC_GPU - left) // MAX_SPEC_GPU
        return ScoreOutput((fill + band * quarter).astype(np.float64))


@dataclass(frozen=True)
class GpuPackingScore:
    """GPU packing: shared GPUs first (50..100, tighter is better), then free GPUs on a used
    node (33..50), then a fully idle node (0..33, smaller is better)."""

    name: str = "gpu-packing"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        snap, req = ctx.snapshot, ctx.request
        if req.num_gpu == 0:
            return ScoreOutput(np.zeros(len(nodes)))
        gf = snap.gpu_free[nodes]
        count = snap.gpu_count[nodes]
        fully = (gf >= MILLI).sum(axis=1)
        idle_node = np.maximum(MAX_NODE_SCORE // 3 - fully, fully)
        used_free = np.maximum(MAX_NODE_SCORE // 2 - req.num_gpu, MAX_NODE_SCORE // 3)
        if req.is_share:
            tight = np.where(gf >= req.gpu_milli, gf, MILLI + 1).min(axis=1)
            ratio = tight * 100 // MILLI
            shared = np.maximum(MAX_NODE_SCORE - ratio // 10, MAX_NODE_SCORE // 2)
            partial = np.where(tight >= MILLI, np.maximum(MAX_NODE_SCORE // 2 - 1,
                                                          MAX_NODE_SCORE // 3), shared)
        else:
            partial = np.full(len(nodes), used_free)
        return ScoreOutput(np.where(fully == count, idle_node, partial).astype(np.float64))
