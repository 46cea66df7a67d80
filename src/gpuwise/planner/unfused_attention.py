"""The unfused attention core of Megatron-LM 2021-2022 (no flash attention).

Megatron-LM's ``CoreAttention`` (``megatron/model/transformer.py``) runs, per head, a
``baddbmm`` for ``Q K^T`` that writes the ``s x s`` scores, the fused scale-mask-softmax
kernel, ``torch.nn.Dropout`` on the probabilities and a ``bmm`` with ``V`` that reads them
back.  This module prices those kernels on a :class:`~gpuwise.planner.hardware.Hardware`:
the GEMMs at the GEMM model, except that the two whose time is writing the scores (``Q K^T``,
and ``dO V^T`` backward, k = head dim) move their bytes no faster than a store-bound cuBLAS
GEMM was measured to (:data:`STORE_BOUND_GEMM_FRACTION`); the softmax and dropout kernels as
bytes for the caller to stream -- Megatron-LM's fused softmax (:data:`SOFTMAX_BYTES`, what its
training runs use), or PyTorch's own ``torch.softmax`` on CUDA (:data:`TORCH_SOFTMAX_BYTES`),
which Megatron-LM falls back to without a mask and which eager attention calls: the unmasked
rows of the published microbenchmark ran it.  ``planner.time`` keeps the fused count for every
engine: Megatron-LM's training runs pass a mask, and the eager engine it is validated with
runs on a CPU, whose softmax backward is one kernel on the gradient and the output
(``aten/src/ATen/native/SoftMax.cpp`` ``softmax_backward_cpu_out``).
``benchmarks/bench_attention_core.py`` compares the result with the published
microbenchmark of this implementation (Dao et al. 2022, arXiv 2205.14135, appendix E.6) and
with Korthikanti et al. 2022's selective-recompute time (Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.planner.hardware import Hardware

#: HBM bytes per score element of the fused scale-mask-softmax: read and write 16 bits
#: forward; read the output gradient and the saved probabilities, write the input gradient
#: backward (Megatron-LM ``fused_kernels/scaled_masked_softmax.h``).  The causal kernel
#: (``scaled_upper_triang_masked_softmax.h``) loads only the unmasked lower triangle and
#: writes whole rows, 3 and 4 bytes; not charged so: with the unexplained rest of the measured
#: attention-core time (``benchmarks/bench_attention_core.py``) missing, it would move every
#: Megatron-LM row further from its published time.
SOFTMAX_BYTES = (4.0, 6.0)
#: The same for PyTorch's ``torch.softmax`` on CUDA.  Forward: one kernel reading and writing
#: 16 bits.  Backward: two kernels -- ``softmax_backward_cuda_out`` first forms
#: ``tmp = grad * output`` (read 2 + 2, write 2 bytes), then ``host_softmax_backward`` reads
#: that product and the output and writes the input gradient (2 + 2 + 2)
#: (pytorch/pytorch ``aten/src/ATen/native/cuda/SoftMax.cu`` @000cace5; the multiply has been
#: there since the TH port -- "gradOutput that we get here is really gradOutput * output" --
#: and is still described as running before ``cunn_SoftMaxBackward`` in pytorch/pytorch#145866,
#: 2025).  Megatron-LM's ``FusedScaleMaskSoftmax`` calls it whenever its fused kernel does not
#: apply, e.g. with no mask (``mask is not None`` is one of the kernel's conditions,
#: ``megatron/model/fused_softmax.py`` @aed2f75e).
TORCH_SOFTMAX_BYTES = (4.0, 12.0)
#: softmax implementations: Megatron-LM's fused kernel, or ``torch.softmax``
SOFTMAX_BYTES_BY_KERNEL = {"fused": SOFTMAX_BYTES, "torch": TORCH_SOFTMAX_BYTES}
#: HBM rate of a batched GEMM whose time is writing its 16-bit output -- the score GEMMs, whose
#: k is the head dimension -- as a fraction of the datasheet bandwidth.  Measured (NVIDIA's
#: reproduction in jax-ml/jax#11705, 2022-09-01): cuBLAS's batched ``einsum('bqc,bkc->bqk')`` of
#: 1536 x (384 x 16) @ (16 x 384) in FP16 on an A100-SXM4-40GB takes 566 us for 37.7 MB of
#: operands and 453 MB of output: 0.87 TB/s, 56 % of 1555 GB/s, where a STREAM copy reaches
#: 90 % (``efficiency.MEM_BW_FRACTION``).  Applied as a fraction on every chip, as that one is.
STORE_BOUND_GEMM_FRACTION = (37.7e6 + 453.0e6) / 566e-6 / 1555e9
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
    softmax: str = "fused",
) -> AttentionCore:
    """The attention core of ``heads`` (local heads x micro-batch) query blocks of ``q_len``
    rows against ``kv_len`` keys: GEMM seconds and score-kernel bytes, forward and backward.
    ``softmax`` names the softmax kernel (a key of :data:`SOFTMAX_BYTES_BY_KERNEL`)."""
    soft_f, soft_b = SOFTMAX_BYTES_BY_KERNEL[softmax]
    ones = np.ones(np.shape(heads))
    kv = kv_len * ones
    # forward: S = Q K^T (baddbmm), O = P V (bmm)
    gemm_f = _score_gemm(hw, q_len, kv, d_qk * ones, heads)
    gemm_f = gemm_f + hw.gemm_time(q_len, d_v * ones, kv, "bf16", heads)
    # backward (PyTorch's bmm/baddbmm derivatives): dP = dO V^T writes scores; dV = P^T dO,
    # dQ = dS K and dK^T = Q^T dS read them
    gemm_b = _score_gemm(hw, q_len, kv, d_v * ones, heads)
    gemm_b = gemm_b + hw.gemm_time(kv, d_v * ones, q_len, "bf16", heads)
    gemm_b = gemm_b + hw.gemm_time(q_len, d_qk * ones, kv, "bf16", heads)
    gemm_b = gemm_b + hw.gemm_time(d_qk * ones, kv, q_len, "bf16", heads)
    elems = heads * q_len * kv_len
    drop = DROPOUT_BYTES if dropout else 0.0
    return AttentionCore(
        gemm_f=gemm_f,
        gemm_b=gemm_b,
        scores_bytes_f=(soft_f + drop) * elems,
        scores_bytes_b=(soft_b + drop) * elems,
        dropout_bytes_f=drop * elems,
    )


def _score_gemm(
    hw: Hardware, m: np.ndarray, n: np.ndarray, k: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """Seconds of ``count`` 16-bit GEMMs writing an ``m x n`` score matrix over a short ``k``:
    the GEMM model, but no faster than moving its bytes at the store-bound GEMM rate (a
    device profile's measured GEMM rate stands as measured)."""
    t = hw.gemm_time(m, n, k, "bf16", count)
    if hw.measured:
        return t
    nbytes = 2.0 * (m * k + k * n + m * n) * count
    return np.maximum(t, nbytes / (hw.acc.mem_bw_gbs * STORE_BOUND_GEMM_FRACTION * 1e9))
