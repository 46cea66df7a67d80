"""The memory-bound kernels of torchtitan's Llama block: the fp32 complex rotary embeddings
(``Engine.complex_rotary``, eager and compiled) and, in eager PyTorch, the rest of the block
other than its two RMSNorms (``Engine.eager_llama_ops``; the norms are
``layer_time.EAGER_NORM_BYTES``).

Read in ``torchtitan/models/llama/model.py`` (pytorch/torchtitan@0199cbc1; the same block
code as the 2024 releases the torchtitan rows ran): separate ``wq``/``wk``/``wv`` and
``w1``/``w3`` linears, rotary embeddings as fp32 complex products, ``repeat_kv`` for GQA, SwiGLU
as ``F.silu(w1(x)) * w3(x)``; activations are bf16 under FSDP2's
``MixedPrecisionPolicy(param_dtype=bfloat16)``, so the residual stream is bf16.  Bytes per token
of one micro-batch, each kernel one read of its inputs and one write of its output (``d``
head dimension, ``a``/``kv`` query/KV heads, ``f`` FFN width, ``h`` hidden; TP shards heads and
FFN, sequence parallelism the residual stream).

torch.compile does not fuse the rotary: Inductor generates no code for complex operators -- it
falls back to ATen kernels with the warning "Torchinductor does not support code generation for
complex operators" (``torch/_inductor/lowering.py``, seen on torchtitan's own Llama in
pytorch/torchtitan#15, 2024-01, and still in 2024-05, pytorch/pytorch#125718), registers
``aten.view_as_complex`` as a fallback that needs a contiguous input (``make_fallback(aten.
view_as_complex, require_contiguous)``) and decomposes only complex addition
(pytorch/pytorch#110740).  So the upcast must be written out in fp32, the complex product runs
in ATen, and the downcast for SDPA (itself an extern kernel) is written again: the same three
passes as in eager mode.

forward
  * ``apply_rotary_emb`` on q and k: ``x.float()`` (2 + 4), the complex product with
    ``freqs_cis`` (4 + 4; the table is small and shared), ``type_as`` back (4 + 2): 20 per
    element of q and k;
  * ``repeat_kv`` (``a > kv``): ``expand(...).reshape(...)`` of a non-contiguous view copies K
    and V to every query head: read 2 kv d, write 2 a d, each;
  * the two residual adds (2 + 2 + 2 each);
  * ``F.silu`` (2 + 2) and the product with w3's output (2 + 2 + 2) per FFN element.
  The attention output's ``transpose(1, 2).contiguous()`` copies nothing: PyTorch's flash SDPA
  already returns it in (batch, seq, head, dim) memory order.

backward (PyTorch ``tools/autograd/derivatives.yaml``)
  * rotary: the casts' backward casts (2 + 4, 4 + 2) and the complex product's
    ``grad * other.conj()`` (4 + 4): 20 per element again;
  * ``repeat_kv``: the expand's backward sums the copies back (read 2 a d, write 2 kv d, each);
  * SwiGLU: the product's two gradients (2 + 2 + 2 each) and ``silu_backward`` (2 + 2 + 2);
  * gradients of a tensor that feeds several ops are summed by autograd (one add, 2 + 2 + 2):
    the residual stream into each norm and its residual add (2 per block, sequence-sharded
    under SP), the attention norm's output into wq, wk and wv (2 adds) and the FFN norm's
    output into w1 and w3 (1 add), full width.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.models import ModelConfig

#: bytes per element of q and k through ``apply_rotary_emb`` (forward, and its backward)
ROTARY_BYTES = 20.0


def covers(model: ModelConfig, moe: bool) -> bool:
    """Whether ``model``'s block is the one this module counts: a dense SwiGLU block with
    rotary MHA/GQA attention (torchtitan's Llama); other blocks keep the generic charges."""
    return (
        not moe
        and model.mla is None
        and model.ffn_type == "swiglu"
        and not model.learned_pos_emb
    )


def complex_rotary_bytes(model: ModelConfig, t: np.ndarray) -> np.ndarray:
    """HBM bytes per token of ``apply_rotary_emb`` on one GPU, forward (and again backward):
    :data:`ROTARY_BYTES` per element of q and k (``t`` the TP size)."""
    return np.asarray(ROTARY_BYTES * (model.heads + model.kv) * model.hd / t)


def eager_block_bytes(
    model: ModelConfig, t: np.ndarray, rep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) HBM bytes per token of one eager block's memory-bound kernels other
    than its norms and its rotary (:func:`complex_rotary_bytes`) on one GPU: ``t`` the TP size,
    ``rep`` the residual stream's share per GPU (1/t under sequence parallelism, else 1)."""
    h, d, a, kv, f = model.hidden, model.hd, model.heads, model.kv, model.ffn_size
    repeat = 2.0 * (2.0 * kv + 2.0 * a) * d / t if a > kv else 0.0 * t
    residual = 2.0 * 6.0 * h * rep
    fwd = repeat + residual + (4.0 + 6.0) * f / t
    grad_sums = (2.0 + 1.0) * 6.0 * h  # wq/wk/wv and w1/w3 share their inputs
    bwd = repeat + residual + (2.0 * 6.0 + 6.0) * f / t + grad_sums
    return fwd, bwd
