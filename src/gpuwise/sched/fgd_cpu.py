"""gpuwise's own policy: FGD plus a penalty for GPU capacity that CPU exhaustion will strand.

Where FGD still loses GPUs (openb default trace, 130 % load): about a third of the idle GPU
capacity at the end sits on nodes whose CPU is used up, so no GPU pod can start there even
though GPU capacity is free.  FGD sees CPU only through "this typical pod lacks CPU right now",
a one-step, all-or-nothing view.

This policy adds, to FGD's fragmentation growth ``dF``, the growth of the node's *expected
stranded GPU*: with ``rho`` the workload's CPU demand per milli-GPU of demand (from the same
typical-pod mix FGD uses: ``rho = sum_k p_k c_k / sum_k p_k n_k m_k`` over GPU pods), a node
with ``G`` milli-GPU and ``C`` CPU free can be expected to use only ``C / rho`` of its GPUs, so
``stranded = max(0, G - C / rho)``.  The score is FGD's, ``int(100 sigmoid(-(dF + dS) / 1000))``,
with the same GPU choice and tie-breaking.  It sees only what FGD sees: the pod in hand, the
cluster state and the typical-pod mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.sched.fgd import FloatArray, best_per_row, frag_delta, sigmoid_score
from gpuwise.sched.mix import WorkloadMix, nonzero_cpu
from gpuwise.sched.plugin import Context, ScoreOutput
from gpuwise.sched.snapshot import IntArray

STRANDING_WEIGHT = 1.0
"""Weight of the stranded-GPU growth relative to FGD's fragment growth (both milli-GPU).
Results on the default trace were flat for weights 0.3..3 (seeds 42-45)."""


def cpu_per_gpu_milli(mix: WorkloadMix) -> float:
    """Expected CPU (milli-cores) the GPU pods of the mix ask per milli-GPU they ask."""
    gpu = mix.num > 0
    demand = float((mix.prob * mix.num * mix.milli).sum())
    if demand <= 0:
        return float("inf")
    return float((mix.prob[gpu] * mix.cpu[gpu]).sum()) / demand


def stranded_gpu(gpu_free: FloatArray, cpu_free: FloatArray, rho: float) -> FloatArray:
    """Milli-GPU a node is expected to leave idle for lack of CPU: ``max(0, G - C / rho)``."""
    return np.maximum(0.0, gpu_free - cpu_free / rho)


@dataclass(frozen=True)
class FgdCpuScore:
    """FGD's fragmentation growth plus the stranded-GPU growth (see the module docstring)."""

    name: str = "fgd-cpu"
    weight: float = STRANDING_WEIGHT

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        if ctx.mix is None:
            raise ValueError("the fgd-cpu score needs the workload mix (typical pods)")
        delta, rows, gpus = frag_delta(ctx, ctx.mix, nodes)
        rho = cpu_per_gpu_milli(ctx.mix)
        snap, req = ctx.snapshot, ctx.request
        g0 = snap.gpu_free[nodes].sum(axis=1)[rows].astype(np.float64)
        c0 = snap.cpu_free[nodes][rows].astype(np.float64)
        before = stranded_gpu(g0, c0, rho)
        after = stranded_gpu(g0 - req.total_gpu_milli, c0 - nonzero_cpu(req.cpu_milli), rho)
        best, choice = best_per_row(sigmoid_score(delta + self.weight * (after - before)),
                                    rows, gpus, len(nodes))
        return ScoreOutput(best, choice)
