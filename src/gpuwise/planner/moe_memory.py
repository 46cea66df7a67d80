"""What one MoE layer's MLP block keeps from forward to backward, bytes per token, one GPU.

Read in the code a late-2025 Megatron-Core MoE layer runs (``MoELayer`` -> ``TopKRouter`` ->
``MoEAlltoAllTokenDispatcher`` / flex dispatcher -> ``TEGroupedMLP``, ``moe_permute_fusion``;
the 2025 versions in which the experts apply the routing weights and the combine's unpermute
takes none, read in the stored copies the code index holds, not pinned to one commit),
``h`` the hidden size, ``k`` the top-k, ``f`` one expert's inner size, ``E`` the experts:

* the pre-MLP norm keeps its 16-bit input (``h``); the router's gating GEMM
  (``router_gating_linear``, NVIDIA/Megatron-LM ``megatron/core/transformer/moe/moe_utils.py``)
  keeps the norm's 16-bit output (``h``), the same tensor the dispatcher permutes;
* the router's softmax keeps fp32 scores over all experts for the load-balancing loss
  (``compute_routing_scores_for_aux_loss``): ``4 E``;
* the permutations keep only their index maps (Transformer Engine's fused ``moe_permute`` /
  ``moe_sort_chunks_by_index`` autograd functions, ``transformer_engine/pytorch/permutation.py``)
  and the all-to-all / expert-TP all-gather nothing; the routed rows are kept once, as the
  first grouped GEMM's input: ``k h`` for each token whose copies land on this GPU;
* ``TEGroupedMLP`` (``megatron/core/transformer/moe/experts.py``): the fused weighted SwiGLU
  keeps FC1's 16-bit output and the routing weight per row (``WeightedSwiGLUFunction``,
  ``megatron/core/fusions/fused_bias_swiglu.py``: ``2 f`` per routed row; the activation's
  ``fp8_input_store`` is off by default) and FC2 keeps its input (``f`` per routed row);
* FP8: Transformer Engine's ``GroupedLinear`` saves the FP8 cast of each GEMM input and, once
  the forward GEMM has run, keeps only its column-wise (transposed) data for the weight-gradient
  GEMM (``_GroupedLinear.forward``: ``inputmat.update_usage(rowwise_usage=False,
  columnwise_usage=True)`` unless ``save_original_input``, NVIDIA/TransformerEngine
  ``transformer_engine/pytorch/module/grouped_linear.py`` of the TE 2.x versions that carry
  ``save_original_input``; Megatron-Core sets that only for a recomputed pre-MLP norm): 1 byte
  per FC1 and FC2 input element, as ``Engine.fp8_saved_inputs`` already counts for the dense
  ``Linear``/``LayerNormLinear``.  TE 2.0's grouped GEMM still kept row-wise + column-wise
  FP8 data (2 bytes, NVIDIA/TransformerEngine@0069563f), so this holds for TE releases of 2025
  from the ``update_usage`` change on;
* where the routed rows live: each rank routes its own sequence-parallel shard; with expert
  TP ``etp`` (:mod:`~gpuwise.planner.expert_tp`) the dispatcher all-gathers the rows over the
  expert-TP group (``gather_from_sequence_parallel_region`` in
  ``MoEAlltoAllTokenDispatcher``), so a GPU keeps the FC1 input of ``etp / tp`` of the TP
  group's tokens and ``1 / etp`` of each expert's FC1 output and FC2 input;
* shared experts run as a TP-split MLP on the norm output: FC1 output and FC2 input as the
  routed ones, plus, in FP8, FC1's own 1-byte cast of its (sequence-sharded) input.

Not counted (under 2 % of the Qwen3 MoE layers): the permutations' int32 index maps, the fp32
routing weight per routed row, the router's top-k indices, and the fused router's extra saves
(TE ``FusedTopkScoreFunction`` keeps a bool routing map and fp32 scores over all experts, for
the top-k and again for the aux-loss scores, ``moe_router_fusion``: about ``10 E`` instead of
``4 E``).
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.models import ModelConfig


def moe_mlp_saved_bytes(
    model: ModelConfig,
    act_bytes: float,
    mask_bytes: float,
    gemm_in: np.ndarray,
    f8: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes per token one MoE MLP block keeps for backward, split by how they shard.

    Returns ``(rep, tp, routed)``: ``rep`` scales like the layer input (divided by TP under
    sequence parallelism), ``tp`` is divided by TP, ``routed`` (the first grouped GEMM's saved
    input) scales with the routed rows a GPU holds (``etp / tp`` of the TP group's tokens under
    sequence parallelism).  ``gemm_in``: bytes per saved GEMM-input element (1 where FP8 layers
    keep their FP8 cast); ``f8``: 1 for such candidates.
    """
    h, k, f = float(model.hidden), float(model.top_k), float(model.expert_ffn)
    drop = 1.0 if model.dropout else 0.0
    shared = float(model.shared_experts)
    rep = (2.0 * act_bytes + drop * mask_bytes) * h + 4.0 * model.experts + f8 * h * (shared > 0)
    # FC1 output(s) for the activation's backward (16-bit) + FC2's saved input, per expert row
    n_out = 2.0 if model.ffn_type == "swiglu" else 1.0
    tp = (n_out * act_bytes + gemm_in) * f * (k + shared)
    routed = gemm_in * k * h
    return rep + 0.0 * gemm_in, tp, routed
