"""GPU fragmentation of a node against a workload mix (FGD paper §3-4, artifact ``utils/frag.go``).

For a node with free milli-GPU ``f_g`` per GPU and free CPU ``cpu``, and a typical pod ``k``
(``c_k`` CPU, ``m_k`` milli-GPU on each of ``n_k`` GPUs, allowed models), the fragment the
pod sees is

* every free milli-GPU of the node (``sum_g f_g``) when the pod cannot run there: it needs no
  GPU (a CPU-only pod leaves the GPUs idle), its model is not allowed, the node lacks CPU, or
  fewer than ``n_k`` GPUs have ``m_k`` free;
* otherwise only the GPUs too small for it: ``sum_g f_g [f_g < m_k]``.

The node's fragmentation is the expectation over the mix, ``F = sum_k p_k frag_k``.  FGD
places a pod where ``F`` grows least.  ``cnt_k`` (GPUs with ``f_g >= m_k``) and ``small_k``
(``sum f_g [f_g < m_k]``) are kept per node so a hypothetical placement is an O(K) update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gpuwise.sched.mix import WorkloadMix
from gpuwise.sched.snapshot import ClusterSnapshot, IntArray

FloatArray = npt.NDArray[np.float64]


def _stats_rows(mix: WorkloadMix) -> Any:
    def fn(snap: ClusterSnapshot, rows: IntArray | None) -> IntArray:
        gf = snap.gpu_free if rows is None else snap.gpu_free[rows]
        m = mix.milli[None, :, None]
        big = gf[:, None, :] >= m
        cnt = big.sum(axis=2)
        small = np.where(big, 0, gf[:, None, :]).sum(axis=2)
        return np.stack([cnt, small], axis=1)
    return fn


def node_stats(snap: ClusterSnapshot, mix: WorkloadMix) -> IntArray:
    """``N x 2 x K``: per node and typical pod, ``cnt_k`` and ``small_k`` (memoized)."""
    return snap.derived(("frag-stats", mix.key), _stats_rows(mix))


def node_access(snap: ClusterSnapshot, mix: WorkloadMix) -> npt.NDArray[np.bool_]:
    """``N x K``: may typical pod k use node n's GPU model?"""
    def fn(s: ClusterSnapshot, rows: IntArray | None) -> npt.NDArray[np.bool_]:
        idx = s.model_index if rows is None else s.model_index[rows]
        return mix.access(s.model_vocab)[idx]
    return snap.derived(("frag-access", mix.key), fn)


def frag_amount(mix: WorkloadMix, cnt: IntArray, small: IntArray, total: IntArray,
                cpu: IntArray, access: npt.NDArray[np.bool_]) -> FloatArray:
    """Expected fragment (milli-GPU) of each row's node state; see the module docstring."""
    satisfied = ((mix.milli > 0) & access & (cnt >= mix.num)
                 & (cpu[:, None] >= mix.cpu[None, :]))
    per_pod = np.where(satisfied, small, total[:, None])
    return np.asarray(per_pod @ mix.prob, dtype=np.float64)


def node_frag(snap: ClusterSnapshot, mix: WorkloadMix) -> FloatArray:
    """Fragment amount of every node now, in milli-GPU (memoized)."""
    stats = node_stats(snap, mix)
    access = node_access(snap, mix)

    def fn(s: ClusterSnapshot, rows: IntArray | None) -> FloatArray:
        sl = slice(None) if rows is None else rows
        return frag_amount(mix, stats[sl, 0], stats[sl, 1], s.gpu_free[sl].sum(axis=1),
                           s.cpu_free[sl], access[sl])
    return snap.derived(("frag-node", mix.key), fn)


def cluster_frag_milli(snap: ClusterSnapshot, mix: WorkloadMix) -> float:
    """Fragment amount of the whole cluster, in milli-GPU."""
    return float(node_frag(snap, mix).sum())
