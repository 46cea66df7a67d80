"""The unfused attention core of Megatron-LM 2021-2022 (no flash attention).

Megatron-LM's ``CoreAttention`` (``megatron/model/transformer.py``) runs, per head, a
``baddbmm`` for ``Q K^T`` that writes the ``s x s`` scores, the fused scale-mask-softmax
kernel, ``torch.nn.Dropout`` on the probabilities and a ``bmm`` with ``V`` that reads them
back.  This module prices those kernels on a :class:`~gpuwise.planner.efficiency.Hardware`;
``benchmarks/bench_attention_core.py`` compares the result with the published
microbenchmark of this implementation (Dao et al. 2022, arXiv 2205.14135, appendix E.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.planner.efficiency import Hardware

#: HBM bytes per score element of the fused scale-mask-softmax: read and write 16 bits
#: forward; read the output gradient and the saved probabilities, write the input gradient
#: backward (Megatron-LM ``fused_kernels/scaled_upper_triang_masked_softmax.h``).
SOFTMAX_BYTES = (4.0, 6.0)
#: HBM bytes per element of PyTorch's fused dropout on 16-bit data: forward reads the input
#: and writes the output and a 1-byte keep mask; backward reads the gradient and the mask and
#: writes the input gradient (``aten/src/ATen/native/cuda/Dropout.cu``).
DROPOUT_BYTES = 5.0


@dataclass(frozen=True)
class AttentionCore:
    """Seconds of one layer's unfused attention core and the bytes of its score kernels."""

    gemm_f: np.ndarray  # Q K^T and P V (batched over heads)
    gemm_b: np.ndarray  # their data- and weight-side gradients
    scores_bytes_f: np.ndarray  # softmax (+ dropout) bytes, forward
    scores_bytes_b: np.ndarray  # softmax (+ dropout) gradient bytes
    dropout_bytes_f: np.ndarray  # the forward dropout's share of ``scores_bytes_f``


def unfused_attention(
    hw: Hardware,
    heads: np.ndarray,
    q_len: np.ndarray,
    kv_len: float,
    d_qk: float,
    d_v: float,
    dropout: bool,
) -> AttentionCore:
    """The attention core of ``heads`` (local heads x micro-batch) query blocks of ``q_len``
    rows against ``kv_len`` keys: GEMM seconds and score-kernel bytes, forward and backward."""
    ones = np.ones(np.shape(heads))
    gemm_f = hw.gemm_time(q_len, kv_len * ones, d_qk * ones, "bf16", heads)
    gemm_f = gemm_f + hw.gemm_time(q_len, d_v * ones, kv_len * ones, "bf16", heads)
    elems = heads * q_len * kv_len
    drop = DROPOUT_BYTES if dropout else 0.0
    return AttentionCore(
        gemm_f=gemm_f,
        gemm_b=2.0 * gemm_f,
        scores_bytes_f=(SOFTMAX_BYTES[0] + drop) * elems,
        scores_bytes_b=(SOFTMAX_BYTES[1] + drop) * elems,
        dropout_bytes_f=drop * elems,
    )
