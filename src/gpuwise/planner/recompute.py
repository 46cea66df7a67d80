"""torchtitan's op-level selective activation checkpointing ("op SAC").

An engine whose ``Engine.selective`` is ``"op"`` means torchtitan's policy by
``--recompute selective`` (``activation_checkpoint.mode = "selective"``,
``selective_ac_option = "op"``), not Korthikanti's attention-core recompute.  The policy
(pytorch/torchtitan ``torchtitan/parallelisms/parallelize_llama.py`` at commit
004b3148a92b565ef0ce7a7bcc61e0159c7ec930: ``_save_list`` and ``_apply_ac_to_transformer_block``)
wraps every transformer block in a checkpoint whose policy keeps (``MUST_SAVE``) the outputs of
``aten.mm``, the SDPA flash/efficient kernels and ``_c10d_functional.reduce_scatter_tensor``,
except every second ``mm`` of the block (a per-block counter, reset at each block's forward
and again for its recompute), and re-runs everything else in the backward pass.

In torchtitan's Llama block (``torchtitan/models/llama/model.py``: ``Attention.forward`` calls
``self.wq(x), self.wk(x), self.wv(x)`` then ``self.wo``; ``FeedForward.forward`` is
``self.w2(F.silu(self.w1(x)) * self.w3(x))``) the ``mm`` calls are wq, wk, wv, wo, w1, w3, w2:
wk, wo and w3 are recomputed, wq, wv, w1 and w2 kept.  The recompute also re-runs every
memory-bound kernel of the forward (norms, rotary, SiLU, products, residual adds) and, with
tensor parallelism, the all-gathers (reduce-scatters are kept).  The checkpoint keeps the
block input; the attention core itself is kept, not recomputed.  A kept output is held whether
or not the backward pass reads it (PyTorch ``torch/utils/checkpoint.py``:
``_CachingTorchDispatchMode`` stores every ``MUST_SAVE`` output; the ``CheckpointPolicy``
docstring notes that saving policies also keep tensors the gradients never use), so w2's
output counts too -- in eager mode.  In a torch.compile'd block the tags steer AOTAutograd's
min-cut partitioner, which saves only what the backward graph reads, so w2's output (and its
reduce-scatter under TP) is dropped (``Engine.sac_min_cut``, :func:`saved_bytes_per_token`).

Only dense blocks with MHA/GQA attention are modelled: MLA and MoE blocks issue a different
sequence of ``mm`` and grouped GEMMs (see :func:`op_sac_supported`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuwise.errors import GpuwiseError
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates, Setup


@dataclass(frozen=True)
class Linear:
    """One ``nn.Linear`` of a block: ``out x inp`` weight; ``row_parallel`` when tensor
    parallelism shards its input dimension (its ``mm`` output is a full-width partial sum)."""

    name: str
    out: int
    inp: int
    row_parallel: bool = False


def op_sac_supported(model: ModelConfig) -> bool:
    """Whether the op-SAC model covers ``model``: dense blocks with MHA/GQA attention."""
    return model.mla is None and not model.is_moe


def block_linears(model: ModelConfig) -> list[Linear]:
    """The ``mm`` calls of one dense block in the order torchtitan's Llama issues them."""
    h, d = model.hidden, model.hd
    q, kv = model.heads * d, model.kv * d
    seq = [Linear("wq", q, h), Linear("wk", kv, h), Linear("wv", kv, h), Linear("wo", h, q, True)]
    f = model.ffn_size
    if model.ffn_type == "swiglu":
        seq += [Linear("w1", f, h), Linear("w3", f, h)]
    else:
        seq += [Linear("w1", f, h)]
    return [*seq, Linear("w2", h, f, True)]


def recomputed_linears(model: ModelConfig) -> list[Linear]:
    """Every second ``mm`` of the block (the 2nd, 4th, ...): the ones op SAC re-runs."""
    return block_linears(model)[1::2]


def saved_linears(model: ModelConfig) -> list[Linear]:
    """The 1st, 3rd, ... ``mm`` of the block: outputs op SAC keeps."""
    return block_linears(model)[0::2]


def recomputed_params(model: ModelConfig) -> int:
    """GEMM weights per layer whose forward op SAC re-runs (2 FLOPs per weight per token)."""
    return sum(lin.out * lin.inp for lin in recomputed_linears(model))


def backward_read_linears(model: ModelConfig) -> list[Linear]:
    """The kept ``mm`` outputs a backward pass reads: all but the block's last ``mm`` (w2),
    whose output (and, with TP, its reduce-scatter) only feeds the residual add."""
    last = block_linears(model)[-1]
    return [lin for lin in saved_linears(model) if lin != last]


def saved_bytes_per_token(
    model: ModelConfig,
    tp: np.ndarray,
    sp_shard: np.ndarray,
    act_bytes: float = 2.0,
    backward_only: bool = False,
) -> np.ndarray:
    """Bytes one block keeps per token of a micro-batch on one GPU under op SAC.

    The block input (sequence-sharded by ``sp_shard`` = 1/t under sequence parallelism), the
    kept ``mm`` outputs (a column-parallel output is 1/t of its width; a row-parallel one is
    the full-width partial sum), the attention output and its fp32 log-sum-exp per head
    (flash SDPA's saved outputs), and with TP > 1 the two reduce-scatter outputs (1/t).

    ``backward_only``: a torch.compile'd block (``Engine.sac_min_cut``) keeps only the kept
    outputs its backward graph reads -- not w2's output nor, with TP, the reduce-scatter
    after it, which only feed the block's output (see ``Engine.sac_min_cut``).
    """
    h = model.hidden
    lins = backward_read_linears(model) if backward_only else saved_linears(model)
    kept = sum(lin.out if lin.row_parallel else lin.out / tp for lin in lins)
    attn = (model.heads * model.hd * act_bytes + 4.0 * model.heads) / tp
    n_rs = 1.0 if backward_only else 2.0
    rs = np.where(tp > 1, n_rs * h / tp, 0.0)
    return act_bytes * (h * sp_shard + kept + rs) + attn


def op_sac_recompute_time(
    model: ModelConfig, c: Candidates, setup: Setup, hw: Hardware, lt: dict[str, np.ndarray]
) -> np.ndarray:
    """Seconds per layer and micro-batch that op SAC re-runs in the backward pass: the forward
    GEMMs of every second matmul, every forward memory-bound kernel (``lt["elem_f"]``) and the
    forward TP all-gathers (``lt["tp_gathers_f"]``); the attention core is kept.  ``lt`` is the
    time model's per-layer times (``gpuwise.planner.time``)."""
    if not op_sac_supported(model):
        raise GpuwiseError(f"recompute selective: {setup.engine.name}'s op-level policy is "
                           f"modelled for dense MHA/GQA models only, not {model.name}; use "
                           "--recompute none or full")
    tok = setup.seq * c.micro_batch / c.cp
    t = c.tp.astype(float)
    ones = np.ones(len(c))
    gemm = np.zeros(len(c))
    for prec_idx, prec in ((0, "bf16"), (1, "fp8")):
        sel = c.fp8 == prec_idx
        for lin in recomputed_linears(model) if sel.any() else []:
            n = lin.out * ones if lin.row_parallel else lin.out / t
            k = lin.inp / t if lin.row_parallel else lin.inp * ones
            gemm[sel] += hw.gemm_time(tok[sel], n[sel], k[sel], prec)
    return np.asarray(gemm + lt["elem_f"] + lt["tp_gathers_f"])
