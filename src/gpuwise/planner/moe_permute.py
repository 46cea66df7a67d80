"""Megatron-Core's MoE token permutation kernels: HBM bytes per token of one layer on one GPU.

What runs around the routed experts of a Megatron-Core MoE layer with ``moe_permute_fusion``
(Transformer Engine's Triton permutation kernels) and ``TEGroupedMLP``, per token that enters
the layer, ``h`` the hidden size, ``k`` the top-k, 16-bit activations:

* permute (``MoEAlltoAllTokenDispatcher.dispatch_preprocess`` -> ``moe_utils.permute``): one
  program per source token reads its row once and writes it to each of its ``k`` destinations
  (NVIDIA/TransformerEngine@04481874 ``transformer_engine/common/triton/permutation.py``
  ``_permute_kernel``): ``2h + 2hk``;
* unpermute (``combine_postprocess`` -> ``moe_utils.unpermute``): one program per token reads
  its ``k`` rows, sums them in fp32 and writes one (``_unpermute_kernel``): ``2hk + 2h``;
* with more than one local expert, the all-to-all dispatcher sorts the received chunks by local
  expert and restores them before the combine (NVIDIA/Megatron-LM@0014f137
  ``megatron/core/transformer/moe/token_dispatcher.py`` ``dispatch_postprocess`` /
  ``combine_preprocess``, ``sort_chunks_by_idxs`` whenever ``num_local_experts > 1``): one read
  and one write per routed row each (``_sort_chunks_by_map_kernel``), ``2 * 4hk``;
* FP8: ``TEGroupedMLP.forward`` pads every local expert's rows to a multiple of 16 for the FP8
  GEMMs (``quantization_padding``, Transformer Engine ``Fp8Padding``) and unpads the FC2
  output; ``Fp8Padding`` returns its input untouched only when every expert's count is
  already aligned (NVIDIA/TransformerEngine@001b2b1e ``pytorch/module/fp8_padding.py``),
  otherwise ``fused_multi_row_padding`` copies the whole input.  Megatron-Bridge's Qwen3 MoE
  recipes leave ``moe_router_padding_for_fp8`` off (NVIDIA-NeMo/Megatron-Bridge@2afd2d34
  ``src/megatron/bridge/recipes/qwen/qwen3_moe.py``) and the performance configs force
  random balanced routing, whose per-expert counts are almost never all aligned: pad and unpad
  copy every routed row, ``2 * 4hk``.

Each kernel's backward moves the same bytes (the permute's backward is the unpermute kernel on
the gradient and vice versa; the chunk sort runs again with the inverse map; unpadding and
padding swap).  The permute and unpermute run on the rank's own sequence shard; the chunk sort
and the padding on the rows the expert-TP all-gather collected (``etp / tp`` of the TP group's
tokens, ``planner.expert_tp``).

DeepEP (Megatron-Core's flex dispatcher): no chunk sort; the permute reads each token once per
EP rank it was sent to -- ``r`` of them on average, :func:`~gpuwise.planner.moe_comm.
nodes_per_token` over the EP ranks -- and writes its ``k`` expert rows; the unpermute the
reverse: ``2 * (2hr + 2hk)``.  Whether the FP8 padding runs after a DeepEP dispatch is not
charged (no evaluated row runs it).  The fp32 routing probabilities permuted beside the rows
(4 bytes per row) are left out.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.models import ModelConfig
from gpuwise.planner.moe_comm import nodes_per_token

#: bytes per element of a 16-bit row copy: one read and one write
COPY_B = 4.0


def mcore_permute_bytes(
    model: ModelConfig,
    tp: np.ndarray,
    ep: np.ndarray,
    etp: np.ndarray,
    fp8: np.ndarray,
    dispatch: str,
) -> np.ndarray:
    """HBM bytes per token (of the TP group's sequence) of one pass, forward or backward, of the
    permutation kernels around the routed experts on one GPU (module docstring).

    ``dispatch``: ``"nccl"`` = ``MoEAlltoAllTokenDispatcher``, ``"deepep"`` = the flex
    dispatcher over DeepEP; ``fp8``: 1 where the candidate runs FP8 (the expert padding)."""
    h, k = float(model.hidden), float(model.top_k)
    t = tp.astype(float)
    share = etp / t  # rows after the expert-TP all-gather, per token of the TP group
    if dispatch == "deepep":
        r = np.array([nodes_per_token(model.experts, model.top_k, int(e), "uniform") for e in ep])
        return 2.0 * (2.0 * h * r + 2.0 * h * k) * share
    local = 2.0 * (2.0 * h + 2.0 * h * k) / t  # permute + unpermute on the sequence shard
    sort = np.where(model.experts / ep > 1, 2.0 * COPY_B * h * k, 0.0) * share
    pad = np.where(fp8 == 1, 2.0 * COPY_B * h * k, 0.0) * share
    return local + sort + pad
