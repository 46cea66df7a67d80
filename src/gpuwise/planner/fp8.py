"""FP8 training with Transformer Engine: the HBM traffic of quantizing GEMM operands.

Transformer Engine (TE) runs all three GEMMs of a linear layer in FP8 -- forward, data gradient
and weight gradient -- and Hopper's FP8 tensor cores take only the "TN" layout, so every FP8
operand is needed both as is and transposed.  What TE's PyTorch modules do per GEMM
(NVIDIA/TransformerEngine@0004dbd0, ``transformer_engine/pytorch/module/``), in bytes per element
beyond what the BF16 time model already charges:

* input of a norm-fed GEMM (QKV, FC1: ``layernorm_linear.py``): the norm kernel writes its output
  in FP8 itself (1 byte instead of 2: -1); the backward transposes the gathered FP8 copy for the
  weight gradient (``fp8_transpose``: read 1 + write 1);
* input of a plain GEMM (attention output, FC2, MoE expert inputs: ``linear.py``): one fused
  cast-transpose (read 2, write 1 + 1 = 4); with sequence parallelism only the cast in the
  forward (3) and the transpose in the backward (2);
* output gradient (``base.py`` ``grad_output_preprocess``): fused cast-transpose (+ bias
  gradient), 4; before the row-parallel GEMMs under sequence parallelism the cast on the local
  shard (3) and, after the FP8 all-gather, the transpose of the full tensor (2);
* weights: cast-transposed once per optimizer step, not per micro-batch (4 per GEMM weight):
  Megatron-Core marks the first micro-batch (``model.set_is_first_microbatch()`` in
  ``megatron/core/pipeline_parallel/schedules.py`` ``forward_step``) and TE keeps the FP8
  weights for the others (``is_first_microbatch`` in ``linear.py``).

The attention core and the output layer stay in BF16 (TE's FP8 recipe covers its linear
layers; FP8 attention is a separate, off-by-default switch), as the time model has them.  The
delayed-scaling amax reduction and scale update are one small all-reduce and one fused kernel
per pass -- microseconds, not charged.

Delayed scaling takes each tensor's scale from earlier iterations, so the cast kernels quantize
in one pass and record the amax on the way.  Per-tensor *current* scaling
(``Float8CurrentScalingQuantizer``, the FP8 recipe of Megatron-Bridge's performance configs)
needs the tensor's own amax before it can cast: ``quantize_impl`` runs ``nvte_compute_amax``
over the 16-bit input, (under sequence parallelism) all-reduces the amax, computes the scale and
only then quantizes (NVIDIA/TransformerEngine@ad3f651f
``transformer_engine/pytorch/csrc/quantizer.cpp``) -- one more read of every tensor it casts
(:data:`AMAX_READ_B`), weights included.  Its norms cannot write FP8 directly: ``rmsnorm_fwd``
/ ``layernorm_fwd`` force the unfused path for it, write the 16-bit output with its amax and
cast that afterwards (``quantize_with_amax``; ``transformer_engine/pytorch/csrc/extensions/
normalization.cpp``): the norm's write is 2 B instead of 1, then a cast reads 2 B and writes
1 B (:data:`CS_NORM_B` more than delayed scaling's fused FP8 write).  Under sequence parallelism
the column-parallel input quantizer and the row-parallel output-gradient quantizer all-reduce
their amax over the TP group (``_customize_quantizers_float8_current_scaling`` in
``pytorch/module/layernorm_linear.py`` / ``linear.py``), so the casts still run on the local
shard and the gathers stay FP8.  Those amax all-reduces (4 per layer and micro-batch, a few
bytes each, NVLink latency) are not charged.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.flops import attn_dims
from gpuwise.planner.models import ModelConfig

#: Bytes per element: fused cast-transpose (read 16-bit, write FP8 and its transpose), cast
#: alone, FP8 transpose alone.
CAST_TRANSPOSE_B = 4.0
CAST_B = 3.0
TRANSPOSE_B = 2.0
#: Per-tensor current scaling: the amax pass reads each 16-bit tensor once more before its cast;
#: a norm-fed input costs the 16-bit norm output (+1 over the fused FP8 write) and its cast
#: (read 2, write 1).
AMAX_READ_B = 2.0
CS_NORM_B = 1.0 + 2.0 + 1.0


def quantize_bytes_per_token(
    model: ModelConfig,
    moe: bool,
    tp: np.ndarray,
    sequence_parallel: bool,
    current_scaling: bool = False,
    expert_share: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) extra HBM bytes per token of one layer on one GPU in FP8 (TE).

    Dimensions as the time model's GEMM list has them: QKV and FC1 column-parallel, proj and
    FC2 row-parallel over ``tp``; in a routed MoE layer the experts' GEMMs take the permuted
    tokens (``top_k`` copies) through plain grouped linears.  ``current_scaling`` adds the
    per-tensor current-scaling recipe's amax passes and unfused norm casts (module docstring).
    ``expert_share``: the share of the TP group's tokens the routed experts take on this GPU
    (1 at the default expert TP, ``1 / tp`` at expert TP 1: planner.expert_tp)."""
    h, a, kv = float(model.hidden), float(model.heads), float(model.kv)
    d_qk, d_v = attn_dims(model)
    t = tp.astype(float)
    rep = 1.0 / t if sequence_parallel else np.ones(len(t))  # sequence-sharded share
    up = 2.0 if model.ffn_type == "swiglu" else 1.0
    ffn_in = model.expert_ffn * model.top_k if moe else float(model.ffn_size)
    norm_fed = h if moe else 2.0 * h  # QKV, and FC1 unless routed experts follow the norm
    # expert FC1 inputs and FC2 output gradients
    expert = h * model.top_k * np.asarray(expert_share, dtype=float) if moe else 0.0
    plain_in = (a * d_v + ffn_in) / t  # attention output -> proj, activation -> FC2
    col_out = ((a + 2.0 * kv) * d_qk + up * ffn_in) / t  # output gradients of QKV / FC1
    row_out = h if moe else 2.0 * h  # output gradients of proj (and FC2)
    fwd = -1.0 * norm_fed * rep + CAST_TRANSPOSE_B * expert
    bwd = TRANSPOSE_B * norm_fed + CAST_TRANSPOSE_B * (col_out + expert)
    if sequence_parallel:
        fwd = fwd + CAST_B * plain_in
        bwd = bwd + TRANSPOSE_B * plain_in + (CAST_B * rep + TRANSPOSE_B) * row_out
    else:
        fwd = fwd + CAST_TRANSPOSE_B * plain_in
        bwd = bwd + CAST_TRANSPOSE_B * row_out
    if current_scaling:
        # each cast of a 16-bit tensor reads it once more for its amax, on the shard it runs on
        # (the row-parallel output gradients on the sequence shard, before the FP8 gather)
        fwd = fwd + CS_NORM_B * norm_fed * rep + AMAX_READ_B * (plain_in + expert)
        bwd = bwd + AMAX_READ_B * (col_out + expert + row_out * rep)
    return fwd * np.ones(len(t)), bwd * np.ones(len(t))


def weight_cast_bytes(gemm_params: np.ndarray, current_scaling: bool = False) -> np.ndarray:
    """HBM bytes per optimizer step to cast-transpose the local GEMM weights to FP8 once (and,
    with current scaling, read them first for their amax)."""
    per_elem = CAST_TRANSPOSE_B + (AMAX_READ_B if current_scaling else 0.0)
    return per_elem * gemm_params
