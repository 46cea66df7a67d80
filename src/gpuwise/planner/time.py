"""Step time of a training configuration (vectorized over candidates).

Per micro-batch and pipeline stage the GPU runs, for each of its ``L/p`` layers, the layer's
GEMMs (forward; backward = data-gradient + weight-gradient GEMMs), the attention core, the
memory-bound elementwise kernels and the tensor-/expert-/context-parallel collectives.  The
pipeline then takes ``(m + (p-1)/v)`` micro-batch slots (1F1B / interleaved bubble, Narayanan et
al. 2021 sec. 2.2), the data-parallel gradient reduction adds what it cannot hide behind the
last backward pass, tied embeddings split across pipeline stages all-reduce their gradient
between the first and last stage, and the optimizer streams its states once
(:mod:`gpuwise.planner.optimizer_step`: its passes, and the cost of apex's 320-block
multi-tensor launches).

Collectives are priced by :mod:`gpuwise.planner.collectives` (ring cost plus NCCL's latency
model, on the link the group actually spans; ranks are ordered TP, CP, EP, DP, PP as in
Megatron-LM).

Software behaviour comes from the :class:`~gpuwise.planner.parallel.Engine` preset: which
collectives overlap compute (the Megatron-LM presets charge every tensor-parallel collective
on the critical path; ``modern`` presets hide each one under the GEMM Transformer Engine runs
it with, :mod:`gpuwise.planner.tp_overlap`, and may overlap pipeline p2p and the distributed
optimizer's parameter all-gather), sequence parallelism (and its backward re-gather), fused
gradient accumulation, the flash-attention generation, the gradient precision.

Rates come from :class:`~gpuwise.planner.efficiency.Hardware`: with a device profile, a
measured rate replaces the modelled one of its kernel class (the fused attention core at the
measured SDPA forward/backward TFLOP/s instead of the published kernel rates of
:mod:`~gpuwise.planner.flash_rate`; forward dropout
bytes at the measured dropout-kernel GB/s; other memory-bound bytes at the elementwise-kernel
GB/s); what the profile did not measure is modelled exactly as without one.

Each layer's forward and backward also wait for the CPU to dispatch their ops where that is
slower than the GPU runs them (:mod:`gpuwise.planner.launch`: kernels per layer by engine, the
per-op cost published for eager PyTorch or measured by ``gpuwise calibrate``).
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.collectives import (
    LAT_BASE_S,
    gather_bytes,
    link,
    ring_allreduce,
    ring_gather,
)
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.flash_rate import first_generation_share, flash_tflops
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.fp8 import quantize_bytes_per_token, weight_cast_bytes
from gpuwise.planner.fsdp2_copies import (
    mean_gathers,
    sharded_copy_bytes,
    unsharded_copy_bytes,
)
from gpuwise.planner.fsdp_grad import flat_grad_pass_bytes
from gpuwise.planner.launch import layer_kernels, paced
from gpuwise.planner.memory import microbatches, stage_params
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.moe_comm import ep_alltoall_time
from gpuwise.planner.optimizer_step import optimizer_time
from gpuwise.planner.parallel import Candidates, Setup, stage_layers
from gpuwise.planner.pipeline import partitioned_p2p, pipeline_time, uncombined_p2p
from gpuwise.planner.recompute import op_sac_recompute_time
from gpuwise.planner.tp_overlap import gemm_roles, sp_block_comm
from gpuwise.planner.unfused_attention import unfused_attention

#: Flash-attention backward executes 2.5x the forward's FLOPs (it recomputes QK^T; Dao 2023).
FLASH_BWD_RATIO = 2.5
#: HBM bytes per logit of an fp32 softmax cross-entropy and its gradient (Megatron-LM's
#: vocab-parallel loss on ``logits.float()``; eager ``F.cross_entropy`` under autocast is the
#: same chain): cast to fp32 (2 + 4), max (4), subtract (8), exp (8), sum (4), normalize (8),
#: scale by the incoming gradient (8), cast back to 16 bits (4 + 2).
CE_BYTES_PER_LOGIT = 52.0
#: HBM bytes per hidden element of one RMSNorm run as separate eager fp32 ops, forward and
#: backward (torchtitan/models/norms.py ``RMSNorm``: ``self._norm(x.float()).type_as(x) *
#: self.weight`` with ``_norm`` = ``x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)``).
#: Forward: upcast 2+4, pow 4+4, mean 4, scale 4+4, downcast 4+2, weight 2+2 = 36.  Backward
#: (PyTorch derivatives.yaml): weight mul 2+2 and weight grad 2+2+2+2, upcast 2+4, scale's
#: input grad 4+4 and its rsqrt grad 4+4+4+4, mean's expand 4, pow_backward ``grad * (2 *
#: x.pow(1))`` 4+4+4+4+4+4+4, the two input grads summed 4+4+4, downcast 4+2 = 92.  A fused
#: norm kernel reads and writes 2 + 2 forward and twice that backward.
EAGER_NORM_BYTES = (36.0, 92.0)


def _elementwise_time(hw: Hardware, nbytes: np.ndarray, dropout_bytes: np.ndarray) -> np.ndarray:
    """Seconds for ``nbytes`` of memory-bound kernels, ``dropout_bytes`` of which are forward
    dropout (random numbers): at the measured dropout rate when the profile has one."""
    if "dropout" not in hw.kernel_gbs:
        return hw.stream_time(nbytes)
    return hw.stream_time(nbytes - dropout_bytes) + hw.kernel_time(dropout_bytes, "dropout")


def _measured_attention(
    hw: Hardware, flops_f: np.ndarray, q_len: np.ndarray, d_qk: float
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward seconds of the fused attention core at the profile's measured
    SDPA rates (backward runs ``FLASH_BWD_RATIO`` x the forward FLOPs, the FlashAttention-2
    convention the profile's rates use); the sequence length is the local query length."""
    fwd = hw.attention_time(flops_f, q_len, d_qk, "fwd")
    bwd = hw.attention_time(FLASH_BWD_RATIO * flops_f, q_len, d_qk, "bwd")
    return fwd, bwd


def _vocab_comm(
    model: ModelConfig, c: Candidates, setup: Setup, hw: Hardware, tok: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-parallel collectives per micro-batch outside the layers, seconds, where the engine
    exposes them (``Engine.vocab_comm``): (last stage: output layer and loss, first stage: input
    embedding).

    Output layer (Megatron-LM ``parallel_lm_logits``, a column-parallel GEMM in the vocabulary):
    under SP its sequence-sharded input is all-gathered, and backward the input gradient is
    reduce-scattered and the input gathered again for the weight gradient, as in every
    column-parallel layer; without SP the input gradient is all-reduced.  The vocab-parallel
    cross-entropy all-reduces three fp32 values per token (max, target logit, sum of exps:
    ``megatron/mpu/cross_entropy.py``).  Input embedding: its output is all-reduced
    (``VocabParallelEmbedding``); under SP the backward of the split all-gathers the gradient.
    """
    if not setup.engine.vocab_comm:
        return np.zeros(len(c)), np.zeros(len(c))
    bw, lat = link(hw, setup, c.tp)
    act = 2.0 * model.hidden * tok
    gather, reduce = ring_gather(act, c.tp, bw, lat), ring_allreduce(act, c.tp, bw, lat)
    loss = 3.0 * ring_allreduce(4.0 * tok, c.tp, bw, lat)
    if not setup.engine.sequence_parallel:
        return reduce + loss, reduce
    return 3.0 * gather + loss, reduce + gather


def _gemms(
    model: ModelConfig, moe: bool, c: Candidates, tok: np.ndarray
) -> list[tuple[np.ndarray, ...]]:
    """Forward GEMMs of one layer on one GPU as (m, n, k, count)."""
    h, a, kv = model.hidden, model.heads, model.kv
    t = c.tp.astype(float)
    one = np.ones(len(c))
    g: list[tuple[np.ndarray, ...]] = []
    if model.mla is not None:
        m = model.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            g.append((tok, m.q_lora_rank * one, h * one, one))
            g.append((tok, a * qk / t, m.q_lora_rank * one, one))
        else:
            g.append((tok, a * qk / t, h * one, one))
        g.append((tok, (m.kv_lora_rank + m.qk_rope_head_dim) * one, h * one, one))
        g.append((tok, a * (m.qk_nope_head_dim + m.v_head_dim) / t, m.kv_lora_rank * one, one))
        g.append((tok, h * one, a * m.v_head_dim / t, one))
    else:
        d = model.hd
        g.append((tok, (a + 2 * kv) * d / t, h * one, one))
        g.append((tok, h * one, a * d / t, one))
    up = 2 if model.ffn_type == "swiglu" else 1
    if moe:
        local = model.experts / c.ep
        m_e = tok * model.top_k * c.ep / model.experts
        f = model.expert_ffn
        g.append((tok, model.experts * one, h * one, one))  # router
        g.append((m_e, up * f / t, h * one, local))
        g.append((m_e, h * one, f / t, local))
        if model.shared_experts:
            fs = f * model.shared_experts
            g.append((tok, up * fs / t, h * one, one))
            g.append((tok, h * one, fs / t, one))
    else:
        f = model.ffn_size
        g.append((tok, up * f / t, h * one, one))
        g.append((tok, h * one, f / t, one))
    return g


def _layer_times(
    model: ModelConfig, moe: bool, c: Candidates, setup: Setup, hw: Hardware
) -> dict[str, np.ndarray]:
    """Per-layer, per-micro-batch seconds: gemm/attn/elementwise/comm, forward and backward."""
    eng = setup.engine
    h, a, kv = model.hidden, model.heads, model.kv
    d_qk, d_v = attn_dims(model)
    t = c.tp.astype(float)
    s = float(setup.seq)
    tok = s * c.micro_batch / c.cp
    gemm_f = np.zeros(len(c))
    gemm_b = np.zeros(len(c))
    for prec_idx, prec in ((0, "bf16"), (1, "fp8")):
        sel = c.fp8 == prec_idx
        if not sel.any():
            continue
        for m_, n_, k_, cnt in _gemms(model, moe, c, tok):
            f = hw.gemm_time(m_[sel], n_[sel], k_[sel], prec, cnt[sel])
            b = hw.gemm_time(m_[sel], k_[sel], n_[sel], prec, cnt[sel])
            b = b + hw.gemm_time(n_[sel], k_[sel], m_[sel], prec, cnt[sel])
            gemm_f[sel] += f
            gemm_b[sel] += b
    # attention core (bf16 in every engine)
    heads_local = a / t * c.micro_batch
    q_len = s / c.cp
    drop_bytes_f = np.zeros(len(c))  # bytes of forward dropout kernels (random numbers)
    if eng.flash_attention:
        flops_f = 0.5 * 2.0 * q_len * s * (d_qk + d_v) * heads_local  # causal blocks skipped
        if hw.attention_measured:
            attn_f, attn_b = _measured_attention(hw, flops_f, q_len, d_qk)
            if eng.flash_generation < 2:  # the profile measured a FlashAttention-2-class SDPA
                share = first_generation_share(q_len)
                attn_f, attn_b = attn_f / share, attn_b / share
        else:
            # published kernel rates (flash_rate): one grid over every (batch, head) pair's
            # query tiles (Dao-AILab/flash-attention ``grid = (cdiv(seqlen_q, BLOCK_M), batch *
            # nheads)``), so wave quantization is judged on all of them together
            gen, native, keys = eng.flash_generation, eng.hopper_attention, s * np.ones(len(c))
            rate_f = flash_tflops(hw.acc, q_len, keys, d_qk, heads_local, "fwd", gen, native)
            rate_b = flash_tflops(hw.acc, q_len, keys, d_qk, heads_local, "bwd", gen, native)
            attn_f = flops_f / (rate_f * 1e12)
            attn_b = FLASH_BWD_RATIO * flops_f / (rate_b * 1e12)
        scores_bytes_f = scores_bytes_b = np.zeros(len(c))
    else:
        core = unfused_attention(hw, heads_local, q_len, s, d_qk, d_v, model.dropout)
        attn_f, attn_b = core.gemm_f, core.gemm_b
        scores_bytes_f, scores_bytes_b = core.scores_bytes_f, core.scores_bytes_b
        drop_bytes_f = drop_bytes_f + core.dropout_bytes_f
    # elementwise kernels: norms, residual adds, activation, dropout, rotary
    rep = 1.0 / t if eng.sequence_parallel else np.ones(len(c))
    drop_h = 2.0 * h if model.dropout else 0.0
    act = 6.0 if model.ffn_type == "swiglu" else 4.0
    ffn_tok = (model.expert_ffn * (model.top_k + model.shared_experts)) if moe else model.ffn_size
    per_tok = (8.0 * h + 12.0 * h + drop_h) * rep + act * ffn_tok / t
    if not model.learned_pos_emb:
        per_tok = per_tok + 4.0 * (a + kv) * d_qk / t  # rotary on q and k
    if not eng.fused_kernels:
        # eager PyTorch: q/k/v re-layout copies and an fp32 residual stream
        per_tok = per_tok + 4.0 * (a + 2 * kv) * d_qk / t + 8.0 * h * rep
    if moe:
        per_tok = per_tok + 8.0 * h * model.top_k  # token permute / unpermute
    # the layer's two norms as eager fp32 op chains instead of fused kernels
    norm_f = norm_b = np.zeros(len(c))
    if eng.eager_rmsnorm:
        norm_f = 2.0 * (EAGER_NORM_BYTES[0] - 4.0) * h * rep
        norm_b = 2.0 * (EAGER_NORM_BYTES[1] - 8.0) * h * rep
    scores_f = _elementwise_time(hw, scores_bytes_f, drop_bytes_f)
    # FP8 (Transformer Engine): quantizing and transposing the GEMM operands (planner.fp8)
    q_f, q_b = quantize_bytes_per_token(
        model, moe, c.tp, eng.sequence_parallel, eng.fp8_current_scaling
    )
    fp8_f = np.where(c.fp8 == 1, q_f, 0.0)
    fp8_b = np.where(c.fp8 == 1, q_b, 0.0)
    elem_f = _elementwise_time(hw, (per_tok + fp8_f + norm_f) * tok, drop_h * rep * tok)
    elem_f = elem_f + scores_f
    elem_b = hw.stream_time((2.0 * per_tok + fp8_b + norm_b) * tok + scores_bytes_b)
    # tensor-parallel collectives on activations of tok x h: 2 all-reduces per layer forward
    # and 2 backward (Megatron-LM).  With sequence parallelism each becomes an all-gather plus
    # a reduce-scatter (same bytes), and the backward pass gathers the sequence-sharded
    # inputs of the two column-parallel GEMMs once more for their weight gradients -- they
    # are not kept (Korthikanti et al. 2022 sec. 4.2.2): 6 gather-sized ops backward, not 4.
    bw, lat = link(hw, setup, c.tp)
    # the forward's all-gathers (SP) or all-reduces (no SP): what op-level SAC re-runs
    if eng.sequence_parallel:
        tp_gathers_f = 2.0 * ring_gather(2.0 * h * tok, c.tp, bw, lat)
    else:
        tp_gathers_f = 2.0 * ring_allreduce(2.0 * h * tok, c.tp, bw, lat)
    fp8_gather_saving = np.zeros(len(c))
    if eng.sequence_parallel and eng.fp8_gathers:
        # FP8 gathers carry 1-byte tensors: Transformer Engine all-gathers the FP8 norm output
        # for the column-parallel GEMMs (forward and the backward re-gather) and casts the output
        # gradient to FP8 before gathering it for the row-parallel GEMMs ("cast, transpose for
        # efficient gather"; NVIDIA/TransformerEngine@0004dbd0 pytorch/module/
        # layernorm_linear.py, base.py ``grad_output_preprocess``).  Reduce-scatters stay 16-bit.
        fp8_gather_saving = np.where(c.fp8 == 1, gather_bytes(h * tok, c.tp, bw), 0.0)
    if eng.sequence_parallel and (eng.overlap_tp or eng.tp_async_bwd):
        # each collective charged against the GEMM Transformer Engine runs it under
        gather = ring_gather(2.0 * h * tok, c.tp, bw, lat)
        gemms = _gemms(model, moe, c, tok)
        ag8 = gather - fp8_gather_saving
        coll = {"ag_in": ag8, "rs_out": gather, "ag_grad": ag8, "ag_re": ag8, "rs_grad": gather}
        comm_f, comm_b = sp_block_comm(hw, eng, c, gemms, gemm_roles(model, moe), coll)
    else:
        tp_one = ring_allreduce(2.0 * h * tok, c.tp, bw, lat)
        comm_f = 2.0 * tp_one - 2.0 * fp8_gather_saving
        redo = 2.0 * ring_gather(2.0 * h * tok, c.tp, bw, lat) if eng.sequence_parallel else 0.0
        comm_b = 2.0 * tp_one + redo - 4.0 * fp8_gather_saving
    if moe:
        # token dispatch + combine forward; backward the combine's gradient is dispatched and
        # the dispatch's gradient combined: the same traffic (planner.moe_comm)
        a2a = ep_alltoall_time(model, c, setup, *link(hw, setup, c.tp * c.cp * c.ep), tok)
        comm_f = comm_f + a2a
        comm_b = comm_b + a2a
    # context parallelism: ring exchange of K and V, overlapped with the attention core
    cbw, clat = link(hw, setup, c.tp * c.cp)
    kv_bytes = 2.0 * tok * kv * (d_qk + d_v) / t
    cp_comm = np.where(c.cp > 1, (c.cp - 1) * (kv_bytes / (cbw * 1e9) + clat), 0.0)
    comm_f = comm_f + np.maximum(0.0, cp_comm - attn_f)
    comm_b = comm_b + np.maximum(0.0, 2.0 * cp_comm - attn_b)
    # fixed per-op cost: the CPU's dispatch where it is slower than the GPU (planner.launch)
    n_gemm = np.sum([g[3] for g in _gemms(model, moe, c, tok)], axis=0)
    k_f, k_b = layer_kernels(model, eng, moe, c.tp, n_gemm)
    gpu_f, gpu_b = gemm_f + attn_f + elem_f + comm_f, gemm_b + attn_b + elem_b + comm_b
    return {
        "gemm_f": gemm_f,
        "gemm_b": gemm_b,
        "attn_f": attn_f,
        "attn_b": attn_b,
        "elem_f": elem_f,
        "elem_b": elem_b,
        "comm_f": comm_f,
        "comm_b": comm_b,
        "scores_f": scores_f,
        "tp_gathers_f": tp_gathers_f,
        "launch_f": paced(hw, gpu_f, k_f) - gpu_f,
        "launch_b": paced(hw, gpu_b, k_b) - gpu_b,
    }


def step_time(
    model: ModelConfig, c: Candidates, setup: Setup, hw: Hardware
) -> dict[str, np.ndarray]:
    """Seconds per optimizer step and its parts: ``step, compute, pipeline_bubble, dp_exposed,
    optimizer, tp_comm`` (arrays)."""
    eng = setup.engine
    frac_moe = model.moe_layers / model.layers
    lt = _layer_times(model, False, c, setup, hw)
    if model.is_moe:
        lm = _layer_times(model, True, c, setup, hw)
        lt = {k: (1 - frac_moe) * lt[k] + frac_moe * lm[k] for k in lt}
    per_stage = stage_layers(model.layers, c.pp, c.vpp)
    fwd = lt["gemm_f"] + lt["attn_f"] + lt["elem_f"] + lt["comm_f"] + lt["launch_f"]
    bwd = lt["gemm_b"] + lt["attn_b"] + lt["elem_b"] + lt["comm_b"] + lt["launch_b"]
    # full: the whole forward again (GEMMs, attention, kernels, TP collectives);
    # selective: the attention core and its softmax/dropout kernels (Korthikanti sec. 5), or
    # for an op-level engine (torchtitan) every second matmul and all non-matmul kernels
    if eng.selective == "op" and bool((c.recompute == 1).any()):
        selective = op_sac_recompute_time(model, c, setup, hw, lt)
    else:
        selective = lt["attn_f"] + lt["scores_f"]
    recompute = np.select([c.recompute == 2, c.recompute == 1], [fwd, selective], 0.0)
    layer_mb = per_stage * (fwd + bwd + recompute)
    # output layer + loss on the last stage (vocab-parallel GEMM, fp32 cross-entropy)
    tok = setup.seq * c.micro_batch / c.cp
    ones = np.ones(len(c))
    v_t = model.vocab / c.tp
    logits_f = hw.gemm_time(tok, v_t, model.hidden * ones, "bf16")
    logits_b = hw.gemm_time(tok, model.hidden * ones, v_t, "bf16") + hw.gemm_time(
        v_t, model.hidden * ones, tok, "bf16"
    )
    logits_e = hw.stream_time(CE_BYTES_PER_LOGIT * tok * v_t)
    vocab_last, vocab_first = _vocab_comm(model, c, setup, hw, tok)
    last_extra = logits_f + logits_b + logits_e + vocab_last
    # pipeline point-to-point: activations of tok x h (SP-sharded) forward and backward, once
    # per model chunk: interleaving multiplies the traffic by v (Narayanan et al. 2021 2.2.2)
    # Each tensor-parallel rank sends only its 1/t slice: sequence parallelism keeps it sliced;
    # without it the receiving stage all-gathers the slices over its intra-node link
    # (Narayanan et al. 2021 sec. 4.1, scatter/gather optimization).
    act = 2.0 * model.hidden * tok
    pbw, plat = link(hw, setup, np.where(c.pp > 1, setup.gpus // c.pp * 2, 1))
    hop = act / c.tp / (pbw * 1e9) + LAT_BASE_S + plat
    per_mb = np.zeros(len(c))
    if not eng.sequence_parallel:
        tp_gather = ring_gather(act, c.tp, *link(hw, setup, c.tp))
        hop = hop + tp_gather
        if eng.p2p_gather_copy:
            hop = hop + hw.stream_time(2.0 * act)  # list all-gather's copy-out (read + write)
        if eng.p2p_partitioned:  # DeepSpeed's PartitionedTensor messages (planner.pipeline)
            per_msg, per_mb = partitioned_p2p(
                hw, act, c.tp, tp_gather, LAT_BASE_S + plat, eng.p2p_gather_copy
            )
            hop = hop + per_msg
    p2p = np.where(c.pp > 1, 2.0 * c.vpp * hop + c.vpp * per_mb, 0.0)
    if eng.overlap_p2p:
        # overlap_p2p_comm (interleaved schedule only): a forward send/receive runs under the
        # backward of another model chunk, a backward one under the next chunk's forward
        hidden = np.maximum(0.0, hop - per_stage / c.vpp * bwd)
        hidden = hidden + np.maximum(0.0, hop - per_stage / c.vpp * fwd)
        p2p = np.where(c.vpp > 1, np.where(c.pp > 1, c.vpp * hidden, 0.0), p2p)
    # DeepSpeed's separately issued blocking sends/receives (planner.pipeline): exposed unless
    # the last stage's output layer and loss cover them; counted with the last stage's extra
    # work (so in every slot, outside the bubble)
    unc = np.where(c.pp > 1, uncombined_p2p(hop, last_extra, eng.p2p_uncombined), 0.0)
    last_extra = last_extra + unc
    # weight gradients are accumulated into the gradient buffer every micro-batch: read the
    # new gradient and read + write the buffer (``grad_bytes`` per element) for every local
    # parameter -- only the DP shard under ZeRO-2/3 (gradients are reduce-scattered first),
    # nothing extra when the wgrad GEMM accumulates into the buffer itself
    n_dp = (c.dp * c.cp).astype(float)
    # expert weights are sharded over the DP ranks that hold the same experts (dp * cp / ep),
    # as memory.py shards their states; the rest over dp * cp
    n_exp = np.maximum(n_dp / c.ep, 1.0)
    sp = stage_params(model, c)
    p_dense = sp["dense"] + np.maximum(sp["emb_first"], sp["emb_last"])
    p_stage = p_dense + sp["expert"]
    p_shard = p_dense / n_dp + sp["expert"] / n_exp
    moe = sp["expert"] > 0
    # FSDP2 under the pipeline schedule accumulates unsharded gradients (``zero3_per_step``)
    p_acc = np.where((c.zero >= 2) & (not eng.zero3_per_step), p_shard, p_stage)
    acc_bytes = 2.0 * eng.grad_bytes + (2.0 if eng.grad_hook_add else 0.0)
    if eng.hp_grad_cast_add:  # read 16-bit grad, write + read its fp32 cast, read + write sum
        acc_bytes = 2.0 + 2.0 * 4.0 + 2.0 * eng.grad_bytes
    grad_acc = 0.0 if eng.grad_acc_fusion else hw.stream_time(acc_bytes * p_acc)
    if eng.fsdp_grad_passes:  # FSDP's passes over each unit's unsharded gradient (fsdp_grad)
        flat = hw.stream_time(flat_grad_pass_bytes(eng.grad_bytes, n_dp) * p_stage)
        grad_acc = grad_acc + np.where(c.zero >= 2, flat, 0.0)
    if eng.fsdp2_copies:  # FSDP2's collective copy-in/out kernels (fsdp2_copies)
        gathers = mean_gathers(sp["dense"] + sp["expert"], per_stage, p_stage)
        gathers = np.where(c.zero == 3, gathers, 0.0)  # forward, backward re-gather
        copies = unsharded_copy_bytes(eng.grad_bytes, gathers) * p_stage
        copies = copies + sharded_copy_bytes(gathers, eng.fsdp2_shard_bytes) * p_shard
        grad_acc = grad_acc + np.where(c.zero >= 2, hw.stream_time(copies), 0.0)
    # the first stage's embedding collectives set the pace only when it is also the last stage
    mb_time = layer_mb + last_extra + np.where(c.pp == 1, vocab_first, 0.0) + p2p + grad_acc
    # ZeRO-2/3 collectives per micro-batch, hidden behind compute when they can be
    # the dense DP group: ranks tp * cp apart; the expert DP group: tp * cp * ep apart
    dbw, dlat = link(hw, setup, c.tp * c.cp * c.dp, c.tp * c.cp)
    xbw, xlat = link(hw, setup, c.tp * c.cp * c.dp, c.tp * c.cp * c.ep)

    def gather(bytes_per_param: float) -> np.ndarray:
        """All-gather / reduce-scatter of the stage's parameters over their DP groups."""
        exp = ring_gather(bytes_per_param * sp["expert"], n_exp, xbw, xlat)
        return ring_gather(bytes_per_param * p_dense, n_dp, dbw, dlat) + np.where(moe, exp, 0.0)

    z3 = np.where(c.zero == 3, 2.0 * gather(2.0) + gather(eng.grad_bytes), 0.0)
    if eng.zero3_per_step:
        z3 = np.zeros(len(c))
    z2 = np.where(c.zero == 2, gather(eng.grad_bytes), 0.0)
    mb_time = mb_time + np.maximum(0.0, z3 - layer_mb) + np.maximum(0.0, z2 - per_stage * bwd)
    m = microbatches(c, setup)
    # 1F1B / interleaved: m slots paced by the last stage plus a (p-1)/v bubble of the others
    # (planner.pipeline); each schedule run per step fills and drains the pipeline
    # (``Setup.pipeline_runs``)
    runs = float(setup.pipeline_runs)
    run_time, bubble = pipeline_time(m / runs, c.pp, c.vpp, mb_time, last_extra)
    pipe = runs * run_time
    # once-per-step data-parallel traffic
    grads = eng.grad_bytes * p_dense
    grads_exp = eng.grad_bytes * sp["expert"]
    reduce = ring_allreduce(grads, n_dp, dbw, dlat)
    reduce = reduce + np.where(moe, ring_allreduce(grads_exp, n_exp, xbw, xlat), 0.0)
    # ZeRO-1: reduce-scatter the gradients, all-gather the updated parameters; DeepSpeed's
    # BF16_Optimizer all-reduces the whole gradient instead (``zero1_grad_allreduce``)
    zero1 = (reduce if eng.zero1_grad_allreduce else gather(eng.grad_bytes)) + gather(2.0)
    dp_t = np.select([c.zero == 0, c.zero == 1, c.zero == 2], [reduce, zero1, gather(2.0)], 0.0)
    hidden = per_stage * bwd if eng.overlap_dp else 0.0
    dp_exposed = np.maximum(0.0, dp_t - hidden)
    if eng.overlap_param_gather:
        # distributed optimizer (ZeRO-1): the updated parameters are all-gathered bucket by
        # bucket under the next step's forward, not after the backward (Megatron-Core
        # ``overlap_param_gather``: dispatched from the forward pre-hook)
        ag = gather(2.0)
        split = np.maximum(0.0, dp_t - ag - hidden) + np.maximum(0.0, ag - per_stage * fwd)
        dp_exposed = np.where(c.zero == 1, split, dp_exposed)
    if eng.zero3_per_step:
        # per schedule run one all-gather, prefetched under the first micro-batch's forward,
        # and one reduce-scatter after the last backward, overlapped like the other DP
        # reductions (the stage is resharded after it, so the next run gathers again)
        step_z3 = np.maximum(0.0, gather(2.0) - per_stage * fwd)
        step_z3 = step_z3 + np.maximum(0.0, gather(eng.grad_bytes) - hidden)
        dp_exposed = np.where(c.zero == 3, runs * step_z3, dp_exposed)
    # optimizer step over the local parameters (planner.optimizer_step)
    p_local = np.where(c.zero >= 1, p_shard, p_stage)
    opt = optimizer_time(eng, hw, p_local, p_acc)
    # tied input/output embeddings on different pipeline stages: Megatron-LM all-reduces the
    # two copies' gradients between the first and last stage once per step, after the
    # backward pass (``train_step``, ``mpu.get_embedding_group()``)
    tied = model.tied_embeddings and model.vocab > 0
    ebw, elat = link(hw, setup, np.where(c.pp > 1, setup.gpus * ones, 1.0))
    emb_sync = ring_allreduce(
        eng.grad_bytes * model.vocab * model.hidden / c.tp, 2.0 * ones, ebw, elat
    )
    emb_sync = np.where((c.pp > 1) & tied, emb_sync, 0.0)
    # FP8: the local GEMM weights are cast to FP8 once per step (planner.fp8)
    w_cast = hw.stream_time(
        weight_cast_bytes(sp["dense"] + sp["expert"], eng.fp8_current_scaling)
    )
    fp8_weights = np.where(c.fp8 == 1, w_cast, 0.0)
    step = pipe + dp_exposed + opt + emb_sync + fp8_weights
    return {
        "step": step,
        "pipeline_bubble": runs * bubble,
        "dp_exposed": dp_exposed,
        "optimizer": opt,
        "tp_comm": per_stage * (lt["comm_f"] + lt["comm_b"]) * m,
        "vocab_comm": (vocab_last + np.where(c.pp == 1, vocab_first, 0.0)) * m,
        "embedding_sync": emb_sync,
        "microbatch": mb_time,
    }
