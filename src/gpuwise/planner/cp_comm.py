"""Context-parallel (CP) attention traffic: the ring exchange of K and V, or Llama 3's all-gather.

Each CP rank holds ``s / cp`` tokens of a sequence, split load-balanced into two chunks of
``c = s / (2 cp)`` tokens, rank ``r`` holding chunks ``r`` and ``2 cp - 1 - r`` (Llama Team,
"The Llama 3 Herd of Models", arXiv 2407.21783 sec. 3.3.2; Transformer Engine's "DualChunkSwap").

* Ring (the default; Liu et al. 2023, Megatron-Core ``cp_comm_type="p2p"``): ``cp - 1`` steps,
  each passing the rank's K and V on to the next rank while the attention core runs on the
  block received before, so only what the core does not cover is exposed.
* All-gather (``Engine.cp_allgather``): the K and V tensors -- of the key/value heads only,
  so small under GQA -- are all-gathered first, then the local query chunks attend to them;
  the paper states the all-gather latency "is exposed in the critical path".  Transformer
  Engine's implementation of that design (``AttnFuncWithCPAndKVAllGather``, which cites sec.
  3.3.2; NVIDIA/TransformerEngine@9c61cd7e transformer_engine/pytorch/attention/
  dot_product_attention/context_parallel.py) gathers K and V with blocking collectives before
  the two chunk kernels forward, saves only the local K and V, gathers them again in backward,
  accumulates dK and dV over the full length and reduce-scatters them after the kernels: one
  exposed all-gather forward, an all-gather and a reduce-scatter backward, each of the full
  K and V of the rank's key/value heads, K and V by separate calls
  (``gather_along_first_dim(k, ...)``, then ``(v, ...)``).  (PyTorch's ``_AllGatherRotater``,
  torch/distributed/tensor/experimental/_attention.py @f2127dbd, issues the gather
  asynchronously under the local block instead: not this preset.)

The load-balanced split gives every rank the same causal work (:func:`balanced_causal_pairs`),
so the attention core's FLOPs per rank are the planner's ``s^2 / (2 cp)`` (query, key) pairs
whichever method moves K and V.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.collectives import link, ring_gather
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates, Setup

#: Full-length K/V-sized tensors the all-gather backward holds at once, in units of the
#: gathered K plus V: the re-gathered ``k_ag``/``v_ag``, the zeroed full-length ``dk``/``dv``
#: accumulators and the two chunk kernels' ``dk``/``dv`` outputs, whose key ranges
#: ``(r + 1) c`` and ``(2 cp - r) c`` together span ``s + c`` (TE ``AttnFuncWithCPAndKVAllGather
#: .backward``; the ``c`` beyond ``s`` is not counted)
ALLGATHER_BWD_COPIES = 3.0


def balanced_causal_pairs(seq: float, cp: int, rank: int) -> float:
    """(query, key) pairs a causal mask leaves to CP rank ``rank`` of ``cp`` under the load
    balanced split: chunk ``j`` of ``c = seq / (2 cp)`` queries sees the ``j c`` keys before
    it and half its own ``c x c`` block (TE ``get_kv_seq_info_after_all_gather``: keys up to
    ``(j + 1) c``, causal bottom-right).  Equal to ``seq^2 / (2 cp)`` for every rank."""
    c = seq / (2.0 * cp)
    return sum(c * (j * c + 0.5 * c) for j in (rank, 2 * cp - 1 - rank))


def local_kv_bytes(model: ModelConfig, c: Candidates, setup: Setup) -> np.ndarray:
    """16-bit K and V of one rank's ``s b / cp`` tokens and ``kv / tp`` key/value heads."""
    d_qk, d_v = attn_dims(model)
    tok = float(setup.seq) * c.micro_batch / c.cp
    return 2.0 * tok * model.kv * (d_qk + d_v) / c.tp.astype(float)


def cp_comm_times(
    hw: Hardware,
    setup: Setup,
    c: Candidates,
    kv_bytes: np.ndarray,
    attn_f: np.ndarray,
    attn_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Exposed CP seconds per layer and micro-batch, forward and backward; ``kv_bytes`` is the
    rank's own K and V (its ``s / cp`` tokens, its key/value heads), ``attn_f``/``attn_b`` the
    attention core's time.  Zero where ``cp`` is 1."""
    if setup.engine.cp_allgather:
        # ranks are ordered TP, CP, ...: the group's members lie ``tp`` ranks apart
        bw, lat = link(hw, setup, c.tp * c.cp, c.tp, gather=True)
        # K and V are gathered (dK and dV reduce-scattered) by separate collectives
        gather = 2.0 * ring_gather(0.5 * kv_bytes * c.cp, c.cp, bw, lat)
        return gather, 2.0 * gather  # all-gather; backward all-gather + reduce-scatter
    # ring: cp - 1 steps of the rank's K and V, overlapped with the attention core
    bw, lat = link(hw, setup, c.tp * c.cp)
    ring = np.where(c.cp > 1, (c.cp - 1) * (kv_bytes / (bw * 1e9) + lat), 0.0)
    return np.maximum(0.0, ring - attn_f), np.maximum(0.0, 2.0 * ring - attn_b)


def allgather_transient_bytes(kv_bytes: np.ndarray, c: Candidates, setup: Setup) -> np.ndarray:
    """Bytes the all-gather CP backward holds beside the saved activations (full-length K/V
    copies, :data:`ALLGATHER_BWD_COPIES`); zero for the ring or where ``cp`` is 1."""
    if not setup.engine.cp_allgather:
        return np.zeros(len(c))
    return np.where(c.cp > 1, ALLGATHER_BWD_COPIES * kv_bytes * c.cp, 0.0)
