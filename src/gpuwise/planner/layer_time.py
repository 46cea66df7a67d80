"""Per-layer, per-micro-batch time of one transformer layer (vectorized over candidates).

For each candidate, one layer on one GPU runs its GEMMs (forward; backward = data-gradient +
weight-gradient GEMMs, :func:`layer_gemms`), the attention core (fused: published kernel rates
of :mod:`~gpuwise.planner.flash_rate` or a profile's measured SDPA rates; unfused:
:mod:`~gpuwise.planner.unfused_attention`), the memory-bound elementwise kernels (norms,
residual adds, activation, dropout, rotary; FP8 casts from :mod:`~gpuwise.planner.fp8`), and
its tensor-/expert-/context-parallel collectives (:mod:`~gpuwise.planner.collectives`,
:mod:`~gpuwise.planner.tp_overlap`, :mod:`~gpuwise.planner.moe_comm`); where the CPU dispatches
its ops slower than the GPU runs them, the difference (:mod:`~gpuwise.planner.launch`).
:func:`gpuwise.planner.time.step_time` assembles these into a step.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner import llama_block
from gpuwise.planner.collectives import (
    gather_bytes,
    link,
    node_links,
    ring_allreduce,
    ring_gather,
)
from gpuwise.planner.cp_comm import cp_comm_times, local_kv_bytes
from gpuwise.planner.dropout_rng import BIAS_DROPOUT_ADD_BYTES, rng_excess
from gpuwise.planner.efficiency import nccl_ctas, sm_count
from gpuwise.planner.expert_tp import ep_span, expert_tp
from gpuwise.planner.flash_rate import first_generation_share, flash_tflops
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.fp8 import quantize_bytes_per_token
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.launch import layer_kernels, paced
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.moe_comm import a2a_sm_share, ep_alltoall_time
from gpuwise.planner.moe_overlap import a2a_hidden
from gpuwise.planner.moe_permute import mcore_permute_bytes
from gpuwise.planner.parallel import Candidates, Setup
from gpuwise.planner.recompute import block_linears
from gpuwise.planner.torch_cp import pass_bytes, torch_cp_comm_times, torch_cp_kv_bytes
from gpuwise.planner.tp_overlap import gemm_roles, sp_block_comm
from gpuwise.planner.unfused_attention import DROPOUT_BYTES, unfused_attention

#: Flash-attention backward executes 2.5x the forward's FLOPs (it recomputes QK^T; Dao 2023).
FLASH_BWD_RATIO = 2.5
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


def _bf16_extra(
    hw: Hardware, m: np.ndarray, n: np.ndarray, k: np.ndarray, cnt: np.ndarray
) -> np.ndarray:
    """Seconds a GEMM takes in BF16 beyond its FP8 time."""
    return hw.gemm_time(m, n, k, "bf16", cnt) - hw.gemm_time(m, n, k, "fp8", cnt)


def _measured_attention(
    hw: Hardware, flops_f: np.ndarray, q_len: np.ndarray, d_qk: float
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward seconds of the fused attention core at the profile's measured
    SDPA rates (backward runs ``FLASH_BWD_RATIO`` x the forward FLOPs, the FlashAttention-2
    convention the profile's rates use); the sequence length is the local query length."""
    fwd = hw.attention_time(flops_f, q_len, d_qk, "fwd")
    bwd = hw.attention_time(FLASH_BWD_RATIO * flops_f, q_len, d_qk, "bwd")
    return fwd, bwd


def layer_gemms(
    model: ModelConfig,
    moe: bool,
    c: Candidates,
    tok: np.ndarray,
    etp: np.ndarray | None = None,
) -> list[tuple[np.ndarray, ...]]:
    """Forward GEMMs of one layer on one GPU as (m, n, k, count).  ``etp``: the expert TP size
    (:mod:`~gpuwise.planner.expert_tp`; default the TP size): the routed experts see the
    tokens of ``etp / tp`` of the TP group's sequence and hold ``1 / etp`` of each expert."""
    h, a, kv = model.hidden, model.heads, model.kv
    t = c.tp.astype(float)
    et = t if etp is None else etp
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
        g.append(router_gemm(model, c, tok, et))
        g += expert_gemms(model, c, tok, et)
        if model.shared_experts:
            fs = model.expert_ffn * model.shared_experts
            g.append((tok, up * fs / t, h * one, one))
            g.append((tok, h * one, fs / t, one))
    else:
        f = model.ffn_size
        g.append((tok, up * f / t, h * one, one))
        g.append((tok, h * one, f / t, one))
    return g


def router_gemm(
    model: ModelConfig, c: Candidates, tok: np.ndarray, etp: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The router's forward GEMM (logits over all experts) on one GPU as (m, n, k, count): the
    tokens the routed experts take here (``etp / tp`` of the TP group's)."""
    one = np.ones(len(c))
    return (tok * etp / c.tp, model.experts * one, model.hidden * one, one)


def expert_gemms(
    model: ModelConfig, c: Candidates, tok: np.ndarray, etp: np.ndarray
) -> list[tuple[np.ndarray, ...]]:
    """The routed experts' forward GEMMs (FC1, FC2) on one GPU as (m, n, k, count): ``experts
    / ep`` local experts, each taking ``top_k`` copies of ``etp / tp`` of the TP group's tokens
    split evenly over the experts, and holding ``1 / etp`` of each expert's weights."""
    t = c.tp.astype(float)
    one = np.ones(len(c))
    up = 2 if model.ffn_type == "swiglu" else 1
    local = model.experts / c.ep
    m_e = tok * (etp / t) * model.top_k * c.ep / model.experts
    f = model.expert_ffn
    h = model.hidden * one
    return [(m_e, up * f / etp, h, local), (m_e, h, f / etp, local)]


def _timed_gemms(
    model: ModelConfig,
    moe: bool,
    c: Candidates,
    tok: np.ndarray,
    separate: bool,
    etp: np.ndarray | None = None,
) -> list[tuple[np.ndarray, ...]]:
    """The forward GEMMs to time: :func:`layer_gemms`, or with ``separate`` (torchtitan's Llama
    block) one GEMM per ``nn.Linear`` in the order the block calls them -- wq, wk, wv, wo, w1,
    w3, w2 (``planner.recompute.block_linears``) -- each at its own shape and wave count."""
    if not (separate and llama_block.covers(model, moe)):
        return layer_gemms(model, moe, c, tok, etp)
    t = c.tp.astype(float)
    one = np.ones(len(c))
    return [
        (tok, lin.out * one if lin.row_parallel else lin.out / t,
         lin.inp / t if lin.row_parallel else lin.inp * one, one)
        for lin in block_linears(model)
    ]


def layer_times(
    model: ModelConfig, moe: bool, c: Candidates, setup: Setup, hw: Hardware
) -> dict[str, np.ndarray]:
    """Per-layer, per-micro-batch seconds: gemm/attn/elementwise/comm, forward and backward."""
    eng = setup.engine
    h, a, kv = model.hidden, model.heads, model.kv
    d_qk, d_v = attn_dims(model)
    t = c.tp.astype(float)
    s = float(setup.seq)
    tok = s * c.micro_batch / c.cp
    # expert TP (planner.expert_tp): under ETP 1 the routed experts take this rank's own
    # sequence shard and the MoE block runs no TP collective (shared experts keep the TP MLP)
    etp = expert_tp(c, eng)
    etp1_block = moe and eng.expert_tp1 and not model.shared_experts
    gemm_f = np.zeros(len(c))
    gemm_b = np.zeros(len(c))
    exp_t = [np.zeros(len(c)) for _ in range(3)]  # routed experts: forward, dgrad, wgrad
    overlap_a2a = moe and eng.ep_a2a_overlap
    for prec_idx, prec in ((0, "bf16"), (1, "fp8")):
        sel = c.fp8 == prec_idx
        if not sel.any():
            continue
        for m_, n_, k_, cnt in _timed_gemms(model, moe, c, tok, eng.separate_linears, etp):
            f = hw.gemm_time(m_[sel], n_[sel], k_[sel], prec, cnt[sel])
            b = hw.gemm_time(m_[sel], k_[sel], n_[sel], prec, cnt[sel])
            b = b + hw.gemm_time(n_[sel], k_[sel], m_[sel], prec, cnt[sel], eng.wgrad_out_bytes)
            gemm_f[sel] += f
            gemm_b[sel] += b
        if moe and prec == "fp8":
            # the router GEMM stays 16-bit under FP8: Megatron-Core's ``router_gating_linear``
            # runs torch.mm / te_general_gemm in the router dtype, outside TE's FP8 modules
            # (NVIDIA/Megatron-LM@00611e6e megatron/core/transformer/moe/moe_utils.py
            # ``RouterGatingLinearFunction``); retime it from FP8 to BF16
            m_, n_, k_, cnt = (x[sel] for x in router_gemm(model, c, tok, etp))
            gemm_f[sel] += _bf16_extra(hw, m_, n_, k_, cnt)
            gemm_b[sel] += _bf16_extra(hw, m_, k_, n_, cnt) + _bf16_extra(hw, n_, k_, m_, cnt)
        # the routed experts' share, which only the EP all-to-all overlap needs
        for m_, n_, k_, cnt in expert_gemms(model, c, tok, etp) if overlap_a2a else []:
            exp_t[0][sel] += hw.gemm_time(m_[sel], n_[sel], k_[sel], prec, cnt[sel])
            exp_t[1][sel] += hw.gemm_time(m_[sel], k_[sel], n_[sel], prec, cnt[sel])
            exp_t[2][sel] += hw.gemm_time(
                n_[sel], k_[sel], m_[sel], prec, cnt[sel], eng.wgrad_out_bytes
            )
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
    # rotary on q and k: one fused read + write of each element
    rot = 0.0 * t if model.learned_pos_emb else 4.0 * (a + kv) * d_qk / t
    per_tok = per_tok + rot
    if model.qk_norm:  # the per-head q and k norms: a read + write of each element
        per_tok = per_tok + 4.0 * (a + kv) * d_qk / t
    if not eng.fused_kernels:
        # eager PyTorch: q/k/v re-layout copies and an fp32 residual stream
        per_tok = per_tok + 4.0 * (a + 2 * kv) * d_qk / t + 8.0 * h * rep
    if moe and not eng.mcore_moe:
        per_tok = per_tok + 8.0 * h * model.top_k * etp / t  # token permute / unpermute
    per_tok_b = 2.0 * per_tok
    if llama_block.covers(model, moe):
        # torchtitan's Llama block kernel by kernel (planner.llama_block): in eager mode the
        # whole block (the norms' fused 2 + 2 bytes stay here for the eager-norm correction
        # below to replace); eager or compiled, the fp32 complex rotary
        if eng.eager_llama_ops:
            blk_f, blk_b = llama_block.eager_block_bytes(model, t, rep)
            per_tok, per_tok_b = 8.0 * h * rep + rot + blk_f, 16.0 * h * rep + 2.0 * rot + blk_b
        if eng.complex_rotary:
            cplx = llama_block.complex_rotary_bytes(model, t)
            per_tok, per_tok_b = per_tok + cplx - rot, per_tok_b + cplx - 2.0 * rot
    if moe and eng.mcore_moe:
        # Megatron-Core's permute, chunk sort and FP8 padding: the same bytes each pass
        perm = mcore_permute_bytes(model, c.tp, c.ep, etp, c.fp8, eng.ep_dispatch)
        per_tok, per_tok_b = per_tok + perm, per_tok_b + perm
    # the layer's two norms as eager fp32 op chains instead of fused kernels
    norm_f = norm_b = np.zeros(len(c))
    if eng.eager_rmsnorm:
        norm_f = 2.0 * (EAGER_NORM_BYTES[0] - 4.0) * h * rep
        norm_b = 2.0 * (EAGER_NORM_BYTES[1] - 8.0) * h * rep
    # forward dropout paced by its random numbers where the chip's rate is measured
    # (planner.dropout_rng): the attention probabilities' dropout and the hidden dropouts of
    # the fused bias-dropout-add
    scores_f = _elementwise_time(hw, scores_bytes_f, drop_bytes_f)
    scores_f = scores_f + rng_excess(hw, drop_bytes_f / DROPOUT_BYTES, DROPOUT_BYTES)
    hidden_rng = rng_excess(hw, drop_h * rep * tok, BIAS_DROPOUT_ADD_BYTES)
    # FP8 (Transformer Engine): quantizing and transposing the GEMM operands (planner.fp8)
    q_f, q_b = quantize_bytes_per_token(
        model, moe, c.tp, eng.sequence_parallel, eng.fp8_current_scaling, etp / t
    )
    fp8_f = np.where(c.fp8 == 1, q_f, 0.0)
    fp8_b = np.where(c.fp8 == 1, q_b, 0.0)
    elem_f = _elementwise_time(hw, (per_tok + fp8_f + norm_f) * tok, drop_h * rep * tok)
    elem_f = elem_f + scores_f + hidden_rng
    elem_b = hw.stream_time((per_tok_b + fp8_b + norm_b) * tok + scores_bytes_b)
    # tensor-parallel collectives on activations of tok x h: 2 all-reduces per layer forward
    # and 2 backward (Megatron-LM).  With sequence parallelism each becomes an all-gather plus
    # a reduce-scatter (same bytes), and the backward pass gathers the sequence-sharded
    # inputs of the two column-parallel GEMMs once more for their weight gradients -- they
    # are not kept (Korthikanti et al. 2022 sec. 4.2.2): 6 gather-sized ops backward, not 4.
    base_gemms = layer_gemms(model, moe, c, tok)  # the layer's GEMMs at the default expert TP
    bw, lat = link(hw, setup, c.tp)
    gbw = link(hw, setup, c.tp, gather=True)[0]  # all-gathers and reduce-scatters
    # the forward's all-gathers (SP) or all-reduces (no SP): what op-level SAC re-runs
    blocks = 1.0 if etp1_block else 2.0  # blocks with TP collectives: attention (and MLP)
    if eng.sequence_parallel:
        tp_gathers_f = blocks * ring_gather(2.0 * h * tok, c.tp, gbw, lat)
    else:
        tp_gathers_f = blocks * ring_allreduce(2.0 * h * tok, c.tp, bw, lat)
    fp8_gather_saving = np.zeros(len(c))
    if eng.sequence_parallel and eng.fp8_gathers:
        # FP8 gathers carry 1-byte tensors: Transformer Engine all-gathers the FP8 norm output
        # for the column-parallel GEMMs (forward and the backward re-gather) and casts the output
        # gradient to FP8 before gathering it for the row-parallel GEMMs ("cast, transpose for
        # efficient gather"; NVIDIA/TransformerEngine@0004dbd0 pytorch/module/
        # layernorm_linear.py, base.py ``grad_output_preprocess``).  Reduce-scatters stay 16-bit.
        fp8_gather_saving = np.where(c.fp8 == 1, gather_bytes(h * tok, c.tp, gbw), 0.0)
    if eng.sequence_parallel and (eng.overlap_tp or eng.tp_async_bwd):
        # each collective charged against the GEMM Transformer Engine runs it under
        gather = ring_gather(2.0 * h * tok, c.tp, gbw, lat)
        ag8 = gather - fp8_gather_saving
        coll = {"ag_in": ag8, "rs_out": gather, "ag_grad": ag8, "ag_re": ag8, "rs_grad": gather}
        names = ("attn",) if etp1_block else ("attn", "mlp")
        comm_f, comm_b = sp_block_comm(
            hw, eng, c, base_gemms, gemm_roles(model, moe), coll, names
        )
    else:
        # each all-reduce, or under SP its all-gather + reduce-scatter: two NCCL calls, each
        # with its own launch latency (NVIDIA/Megatron-LM@00caa53a core/tensor_parallel/mappings.py
        # ``_gather_along_first_dim``, ``_reduce_scatter_along_first_dim``)
        sp_pair = 2.0 * ring_gather(2.0 * h * tok, c.tp, gbw, lat)
        ar = ring_allreduce(2.0 * h * tok, c.tp, bw, lat)
        tp_one = sp_pair if eng.sequence_parallel else ar
        comm_f = blocks * (tp_one - fp8_gather_saving)
        redo = sp_pair if eng.sequence_parallel else 0.0
        comm_b = blocks * (tp_one + 0.5 * redo - 2.0 * fp8_gather_saving)
    if moe:
        # token dispatch + combine forward; backward the combine's gradient is dispatched and
        # the dispatch's gradient combined: the same traffic (planner.moe_comm)
        span = ep_span(c, eng)
        a2a = ep_alltoall_time(model, c, setup, *node_links(hw, setup, len(c)), tok * etp / t, span)
    else:
        a2a = np.zeros(len(c))
    comm_f = comm_f + a2a
    comm_b = comm_b + a2a
    # context parallelism: K and V by ring under the core, or all-gathered (planner.cp_comm)
    if eng.torch_cp:
        # PyTorch's context_parallel (planner.torch_cp): its exchanges, and its fp32 merge and
        # gradient-accumulation passes over the rank's attention output
        kv_q = torch_cp_kv_bytes(model, c, setup)
        # the torchtitan presets fuse kernels exactly where their blocks are torch.compile'd
        cp_f, cp_b = torch_cp_comm_times(hw, setup, c, kv_q, attn_f, attn_b, eng.fused_kernels)
        pass_f, pass_b = pass_bytes(tok * heads_local / c.micro_batch * d_v, c.cp,
                                    eng.fused_kernels)
        elem_f, elem_b = elem_f + hw.stream_time(pass_f), elem_b + hw.stream_time(pass_b)
    else:
        cp_f, cp_b = cp_comm_times(hw, setup, c, local_kv_bytes(model, c, setup), attn_f, attn_b)
    comm_f = comm_f + cp_f
    comm_b = comm_b + cp_b
    # fixed per-op cost: the CPU's dispatch where it is slower than the GPU (planner.launch)
    n_gemm = np.sum([g[3] for g in base_gemms], axis=0)
    k_f, k_b = layer_kernels(model, eng, moe, c.tp, n_gemm)
    gpu_f, gpu_b = gemm_f + attn_f + elem_f + comm_f, gemm_b + attn_b + elem_b + comm_b
    # the all-to-all hidden by Megatron-Core's 1F1B EP overlap (planner.moe_overlap), taken off
    # the paired forward + backward in time.step_time; none under full recompute
    hidden = np.zeros(len(c))
    if overlap_a2a:
        share = a2a_sm_share(
            sm_count(hw.acc), nccl_ctas(hw.acc), ep_span(c, eng), setup.gpus_per_node,
            eng.ep_dispatch,
        )
        hidden = a2a_hidden(gpu_f, gpu_b, a2a, exp_t[0], exp_t[1], exp_t[2], sm_share=share)
        hidden = np.where(c.recompute == 2, 0.0, hidden)
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
        "a2a_hidden": hidden,
    }
