"""FGD score plugin: Fragmentation Gradient Descent (Weng et al., USENIX ATC'23, Alg. 1).

For each feasible node (and, for a GPU-sharing pod, each GPU that fits), FGD computes the
growth of the node's expected fragmentation ``dF = F(after) - F(before)`` (see
:mod:`gpuwise.sched.frag`) and scores ``int(100 * sigmoid(-dF / 1000))`` (the artifact's
``fgd_score.go``); the GPU with the best score on the chosen node is the one used (lowest index
on ties).  Hypothetical placements are evaluated with O(K) updates of the per-node statistics,
so a decision costs O(candidates x K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.sched.frag import FloatArray, frag_amount, node_access, node_frag, node_stats
from gpuwise.sched.mix import WorkloadMix, nonzero_cpu
from gpuwise.sched.plugin import MAX_NODE_SCORE, Context, ScoreOutput
from gpuwise.sched.snapshot import IntArray


def sigmoid_score(delta_milli: FloatArray) -> FloatArray:
    """``int(100 * sigmoid(-dF / 1000))``, truncated like the artifact's int64 conversion."""
    return np.trunc(MAX_NODE_SCORE / (1.0 + np.exp(delta_milli / 1000.0)))


def share_candidates(gf: IntArray, count: IntArray, milli: int) -> tuple[IntArray, IntArray]:
    """Row and GPU index of every GPU that fits a share of ``milli``, keeping only the first
    GPU of each distinct free value on a row (equal GPUs give equal outcomes)."""
    width = gf.shape[1]
    cols = np.arange(width)
    ok = (gf >= milli) & (cols[None, :] < count[:, None])
    tagged = np.where(ok, gf, -1 - cols[None, :])  # GPUs that do not fit never match
    dup = np.zeros_like(ok)
    for g in range(1, width):
        dup[:, g] = (tagged[:, :g] == tagged[:, g:g + 1]).any(axis=1)
    rows, gpus = np.nonzero(ok & ~dup)
    return rows.astype(np.int64), gpus.astype(np.int64)


def frag_delta(ctx: Context, mix: WorkloadMix, nodes: IntArray
               ) -> tuple[FloatArray, IntArray, IntArray]:
    """``(dF, row, gpu)`` for every candidate placement of ``ctx.request`` on ``nodes``:
    ``row`` indexes ``nodes``, ``gpu`` is the GPU for a share (-1 otherwise)."""
    snap, req = ctx.snapshot, ctx.request
    stats = node_stats(snap, mix)[nodes]
    cnt, small = stats[:, 0], stats[:, 1]
    before = node_frag(snap, mix)[nodes]
    access = node_access(snap, mix)[nodes]
    total = snap.gpu_free[nodes].sum(axis=1)
    cpu = snap.cpu_free[nodes] - nonzero_cpu(req.cpu_milli)
    mk = mix.milli[None, :]
    if req.is_share:
        rows, gpus = share_candidates(snap.gpu_free[nodes], snap.gpu_count[nodes], req.gpu_milli)
        f = snap.gpu_free[nodes[rows], gpus][:, None]
        f2 = f - req.gpu_milli
        # typical pods with f2 < m_k <= f lose this GPU and see f2 as fragment; those with
        # m_k > f already saw it as fragment, now m less
        crossed = (mk > f2) & (mk <= f)
        cnt2 = cnt[rows] - crossed
        small2 = small[rows] + crossed * f2 - (mk > f) * req.gpu_milli
        after = frag_amount(mix, cnt2, small2, total[rows] - req.gpu_milli, cpu[rows],
                            access[rows])
        return after - before[rows], rows, gpus
    rows = np.arange(len(nodes), dtype=np.int64)
    taken = req.total_gpu_milli
    cnt2 = cnt - req.num_gpu * (mk > 0) if req.num_gpu else cnt
    after = frag_amount(mix, cnt2, small, total - taken, cpu, access)
    return after - before, rows, np.full(len(nodes), -1, dtype=np.int64)


def best_per_row(score: FloatArray, rows: IntArray, gpus: IntArray, n: int
                 ) -> tuple[FloatArray, IntArray]:
    """Per row: the highest score and the lowest GPU index reaching it."""
    order = np.lexsort((gpus, -score, rows))
    first = np.ones(len(order), dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    pick = order[first]
    best = np.full(n, -np.inf)
    choice = np.full(n, -1, dtype=np.int64)
    best[rows[pick]] = score[pick]
    choice[rows[pick]] = gpus[pick]
    return best, choice


@dataclass(frozen=True)
class FgdScore:
    """The FGD plugin; needs the workload mix in the context."""

    name: str = "fgd"

    def score(self, ctx: Context, nodes: IntArray) -> ScoreOutput:
        if ctx.mix is None:
            raise ValueError("the fgd score needs the workload mix (typical pods)")
        delta, rows, gpus = frag_delta(ctx, ctx.mix, nodes)
        best, choice = best_per_row(sigmoid_score(delta), rows, gpus, len(nodes))
        return ScoreOutput(best, choice)
