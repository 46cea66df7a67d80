"""Per-GPU memory of a training configuration, term by term (vectorized over candidates).

* Model states (Rajbhandari et al. 2020, ZeRO): mixed-precision Adam keeps a 16-bit weight
  (2 B), a gradient (2 B, or 4 B for Megatron's fp32 main grads -> 18 B/param as Megatron
  counts) and fp32 master weight + two moments (12 B).  ZeRO stage 1/2/3 shards optimizer,
  + gradients, + weights over the data-parallel group: 16 Psi, 4 Psi + 12 Psi/N,
  2 Psi + 14 Psi/N, 16 Psi/N.  apex's DistributedFusedAdam with 16-bit master remainders
  (``Engine.master_weight_bytes`` = 2, NeMo 1.0) keeps 10 optimizer bytes instead of 12; FP8
  training adds a 1-byte copy of the transformer layers' weights (not the embeddings/output),
  or, with ``Engine.fp8_params``, stores them as FP8 + cached FP8 transpose only (2 B).
* Activations (Korthikanti et al. 2022, sec. 4): per layer and micro-batch of ``b`` sequences
  of length ``s``, ``sbh(34 + 5as/h)`` bytes without parallelism; tensor parallelism divides
  the 24sbh + 5as^2b inside TP regions by ``t``, sequence parallelism divides the other
  10sbh too; selective recompute drops the 5as^2b softmax/dropout term; full recompute keeps
  only the 2sbh layer input.  We derive the same sum term by term so that GQA (smaller K, V),
  SwiGLU (gate + up + product = 6 s b f instead of GeLU's 4 s b f), no-dropout models,
  flash attention (no s^2 term, a 4-byte log-sum-exp per head), MoE (top-k routed copies, read
  term by term in Megatron-Core's code: :mod:`gpuwise.planner.moe_memory`)
  and context parallelism (s/cp tokens per GPU) follow from the same derivation.  Transformer
  Engine FP8 layers save their GEMM inputs as 1-byte FP8 casts (``Engine.fp8_saved_inputs``).
* Pipelines: the first stage holds ``min(p, m)`` micro-batches in flight under 1F1B and
  ``L (1 + (p-1)/(p v))`` layers' worth with ``v`` interleaved chunks (Korthikanti eq. 5), the
  last stage one micro-batch under 1F1B and ``(v - 1) p + 1`` chunks' worth interleaved; a
  middle stage counts where the split gives the first and last stages fewer layers
  (:mod:`gpuwise.planner.pipeline_memory`).
* Overhead: the CUDA context and the GEMM libraries' workspaces (:mod:`gpuwise.planner.overhead`,
  only where the caller names an NVIDIA accelerator), ZeRO-3's gathered layers and, under
  FSDP2, the root unit's unsharded embedding/norm/output parameters
  (``Engine.fsdp2_root_unsharded``).  NCCL's
  buffers and allocator fragmentation are not modelled: ``Setup.mem_margin`` keeps that share
  of HBM free for them.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.cp_comm import allgather_transient_bytes, local_kv_bytes
from gpuwise.planner.expert_tp import expert_dp, expert_tp
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.moe_memory import moe_mlp_saved_bytes
from gpuwise.planner.overhead import RuntimeOverhead
from gpuwise.planner.parallel import Candidates, Setup, stage_layers
from gpuwise.planner.pipeline_memory import microbatches as microbatches
from gpuwise.planner.pipeline_memory import rank_loads
from gpuwise.planner.recompute import op_sac_supported, saved_bytes_per_token

GIB = float(2**30)
#: Adam's two fp32 moments, bytes per parameter.
ADAM_MOMENT_BYTES = 8
#: bytes per element of an FP8 weight buffer (TE ``Float8Tensor._data`` / ``_transpose``: uint8)
FP8_WEIGHT_B = 1.0
#: Optimizer bytes per parameter: fp32 master weight + Adam's two fp32 moments.
OPTIMIZER_BYTES = 4 + ADAM_MOMENT_BYTES


def zero_model_state_bytes(
    psi: float,
    n: int,
    stage: int,
    weight_bytes: float = 2,
    grad_bytes: float = 2,
    opt_bytes: float = OPTIMIZER_BYTES,
) -> float:
    """Per-GPU model-state bytes for ``psi`` parameters under ZeRO ``stage`` over ``n`` ranks."""
    w = weight_bytes * psi / (n if stage >= 3 else 1)
    g = grad_bytes * psi / (n if stage >= 2 else 1)
    o = opt_bytes * psi / (n if stage >= 1 else 1)
    return float(w + g + o)


def _sp(c: Candidates, setup: Setup) -> np.ndarray:
    """1/t for tensors that sequence parallelism shards, else 1."""
    rep = np.ones(len(c))
    if setup.engine.sequence_parallel:
        rep = 1.0 / c.tp
    return rep


def gemm_weight_bytes(c: Candidates, setup: Setup) -> np.ndarray:
    """Bytes per transformer-layer GEMM weight element resident across the step.

    16-bit: the weight (2).  FP8 keeps, beside it, the 1-byte FP8 copy that Transformer Engine
    caches from the first micro-batch on (``is_first_microbatch``: ``get_fp8_workspace`` with
    ``cache_name`` in TE 1.x ``module/linear.py`` / ``layernorm_mlp.py``).  With
    ``Engine.fp8_params`` the parameter *is* that FP8 tensor (``Float8Tensor`` from
    ``fp8_model_init``): 1 byte and no 16-bit copy, plus the transpose TE caches for the
    backward's data-gradient GEMM (Hopper FP8 GEMMs take only the TN layout;
    ``Float8Tensor.transpose_2d(fill_cache=True)`` at the first micro-batch, and
    ``_reset_caches`` after the optimizer's in-place update only marks it stale, TE 1.x
    ``float8_tensor.py``): 1 + 1.
    """
    fp8 = c.fp8.astype(float)
    if setup.engine.fp8_params:
        return np.where(fp8 > 0, FP8_WEIGHT_B + FP8_WEIGHT_B, 2.0)
    return 2.0 + FP8_WEIGHT_B * fp8


def fp8_saved_input(c: Candidates, setup: Setup) -> np.ndarray:
    """1 for candidates whose FP8 GEMMs save 1-byte inputs (``Engine.fp8_saved_inputs``)."""
    return c.fp8.astype(float) * (1.0 if setup.engine.fp8_saved_inputs else 0.0)


def layer_activation_bytes(
    model: ModelConfig,
    moe: bool,
    c: Candidates,
    setup: Setup,
    recompute: np.ndarray | None = None,
    act_bytes: float = 2.0,
    mask_bytes: float = 1.0,
) -> np.ndarray:
    """Bytes saved for backward by one layer for one micro-batch on one GPU.

    ``act_bytes`` per saved activation element (2: 16-bit mixed precision as Korthikanti et
    al. count; 4: fp32 training) and ``mask_bytes`` per dropout-mask element (1: a bool mask);
    fp32 statistics (flash attention's log-sum-exp, MoE router logits) stay 4 bytes.
    """
    rc = c.recompute if recompute is None else recompute
    h, a, kv = model.hidden, model.heads, model.kv
    d_qk, d_v = attn_dims(model)
    drop = 1.0 if model.dropout else 0.0
    tok = setup.seq * c.micro_batch / c.cp  # tokens per GPU per micro-batch
    t = c.tp.astype(float)
    rep = _sp(c, setup)
    # bytes per saved GEMM-input element: 1 where FP8 layers keep their FP8 cast
    f8 = fp8_saved_input(c, setup)
    gemm_in = act_bytes - f8 * (act_bytes - 1.0)
    # attention block: norm input, QKV input, output dropout mask (replicated or SP-sharded)
    attn_rep = (act_bytes + gemm_in + drop * mask_bytes) * h
    if model.mla is not None:
        kv_heads_stored = a  # keys/values are decompressed per head
        attn_rep += act_bytes * (
            model.mla.q_lora_rank + model.mla.kv_lora_rank + model.mla.qk_rope_head_dim
        )
    else:
        kv_heads_stored = kv
    # selective recompute of a flash core runs it under a checkpoint that keeps only its inputs
    # (Megatron-Core ``SelfAttention._checkpointed_attention_forward``, NVIDIA/Megatron-LM
    # ``megatron/core/transformer/attention.py``): its log-sum-exp and 16-bit output are not
    # saved by the core, though the output projection still saves the output where it keeps
    # no FP8 cast of its own
    flash_sel = (
        (rc == 1) & (setup.engine.selective == "attention")
        if setup.engine.flash_attention
        else np.zeros(len(c), dtype=bool)
    )
    # the core keeps its 16-bit output; an FP8 output projection saves its own 1-byte cast
    core_out = act_bytes * np.where(flash_sel, 1.0 - f8, 1.0) + f8
    attn_tp = (
        act_bytes * (a * d_qk + kv_heads_stored * d_qk + kv_heads_stored * d_v)
        + core_out * a * d_v
    )
    if model.qk_norm:
        # the q and k norms keep their 16-bit inputs and an fp32 1/rms per head row
        # (Transformer Engine ``RMSNorm`` saves input and ``rsigma``)
        attn_tp = attn_tp + (act_bytes * d_qk + 4.0) * (a + kv)
    if setup.engine.flash_attention:
        core = np.where(flash_sel, 0.0, 4.0 * a)  # fp32 log-sum-exp per head
    else:
        # softmax output (+ dropout mask and output)
        core_b = act_bytes + drop * (mask_bytes + act_bytes)
        core = np.where(rc == 1, 0.0, a * setup.seq * core_b)
    # MLP block
    n_act = 3.0 if model.ffn_type == "swiglu" else 2.0
    mlp_rep: float | np.ndarray
    mlp_tp: float | np.ndarray
    routed: float | np.ndarray = 0.0
    if moe:
        # norm input and output, fp32 router scores, expert FC1 outputs and FC2 inputs, and the
        # routed rows FC1 keeps, on the rows this GPU's experts take (planner.moe_memory)
        mlp_rep, mlp_tp, routed = moe_mlp_saved_bytes(model, act_bytes, mask_bytes, gemm_in, f8)
        if setup.engine.sequence_parallel:
            routed = routed * expert_tp(c, setup.engine) / t
    else:
        # norm input + FC1 input; FC1 output(s) for the activation's backward + FC2 input
        # (expert GEMMs keep 16-bit here: Transformer Engine's grouped GEMM was not read)
        mlp_rep = (act_bytes + gemm_in + drop * mask_bytes) * h
        mlp_tp = ((n_act - 1.0) * act_bytes + gemm_in) * model.ffn_size
    full = tok * ((attn_rep + mlp_rep) * rep + (attn_tp + core + mlp_tp) / t + routed)
    only_input = tok * act_bytes * h * rep
    if setup.engine.selective == "op" and not moe and op_sac_supported(model):
        # torchtitan's op-level selective AC keeps the block input and selected op outputs
        op_kept = tok * saved_bytes_per_token(
            model, t, rep, act_bytes, backward_only=setup.engine.sac_min_cut
        )
        return np.select([rc == 2, rc == 1], [only_input, op_kept], full)
    return np.where(rc == 2, only_input, full)


def stage_params(
    model: ModelConfig,
    c: Candidates,
    layers: np.ndarray | None = None,
    etp: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Parameters per GPU: the transformer-layer share of a stage holding ``layers`` layers (by
    default the heaviest stage's, :func:`stage_layers`), embeddings, expert share (experts split
    over ``etp * ep`` ranks, ``etp`` the expert TP size, by default the TP size)."""
    t = c.tp.astype(float)
    et = t if etp is None else etp
    dense = model.layer_params(False)
    expert = model.mlp_params(model.expert_ffn) if model.is_moe else 0
    moe_nonexp = model.layer_params(True) - model.experts * expert if model.is_moe else 0
    if layers is None:
        layers = stage_layers(model.layers, c.pp, c.vpp)
    share = layers / model.layers
    layers_dense = (model.dense_layers * dense + model.moe_layers * moe_nonexp) * share / t
    layers_expert = model.moe_layers * model.experts * expert * share / (et * c.ep)
    emb_in = (
        model.vocab * model.hidden + (model.seq_len * model.hidden if model.learned_pos_emb else 0)
    ) / t
    emb_out = model.vocab * model.hidden / t
    # pp = 1: one stage holds both (an untied output adds V*h); pp > 1: the last stage holds
    # the output projection (Megatron keeps a synchronized copy even when tied).
    norm = model.norm_params()  # the final norm lives with the output layer
    first = emb_in + np.where(c.pp == 1, norm + (0.0 if model.tied_embeddings else emb_out), 0.0)
    last = np.where(c.pp > 1, emb_out + norm, first)
    return {"dense": layers_dense, "expert": layers_expert, "emb_first": first, "emb_last": last}


def root_unsharded_bytes(p_root: np.ndarray, c: Candidates, setup: Setup) -> np.ndarray:
    """16-bit bytes of the FSDP2 root unit's parameters, unsharded through forward and backward.

    ``p_root``: the stage's parameters outside its transformer blocks (embedding, final norm,
    output layer; :func:`stage_params`).  FSDP2 never reshards the root after its forward
    (``Engine.fsdp2_root_unsharded``), so under ZeRO-3 this full copy is live at the loss's
    peak; torchtitan gathers it in ``param_dtype`` bf16 (2 bytes).
    """
    on = setup.engine.fsdp2_root_unsharded
    return np.where((c.zero == 3) & on, 2.0 * p_root, 0.0)


def memory_breakdown(
    model: ModelConfig,
    c: Candidates,
    setup: Setup,
    hbm_gib: float,
    act_bytes: float = 2.0,
    mask_bytes: float = 1.0,
    runtime: RuntimeOverhead | None = None,
) -> dict[str, np.ndarray]:
    """Per-GPU bytes of each term on the heaviest pipeline stage, plus ``fits``.

    ``act_bytes`` / ``mask_bytes``: bytes per saved activation / dropout-mask element (see
    :func:`layer_activation_bytes`); the defaults are 16-bit mixed precision.  ``runtime``:
    the CUDA context and workspaces (:func:`gpuwise.planner.overhead.runtime_overhead`); None
    counts the training state alone.

    Keys: ``weights, gradients, optimizer, activations, logits, overhead, total`` (bytes),
    ``model_state_mean`` (mean over pipeline stages, bytes), ``layer_activation`` (one layer,
    one micro-batch), ``inflight_layers``, ``fits`` (bool).
    """
    eng = setup.engine
    etp = expert_tp(c, eng)
    sp = stage_params(model, c, etp=etp)
    n_dense = (c.dp * c.cp).astype(float)
    n_exp = expert_dp(c, eng)
    # transformer-layer weights (``gemm_weight_bytes``); the embedding and the output layer stay
    # 16-bit: Megatron-Core builds its output layer as its own
    # ``tensor_parallel.ColumnParallelLinear``, not a Transformer Engine module (NVIDIA/Megatron-LM
    # ``megatron/core/models/gpt/gpt_model.py`` @e914fb78), and an embedding is no GEMM
    wb = gemm_weight_bytes(c, setup)
    # master weight (``Engine.master_weight_bytes``: 2 with apex's 16-bit remainders) + moments
    ob = float(eng.master_weight_bytes + ADAM_MOMENT_BYTES)
    # embedding/output-layer gradients: fp32 buckets under NeMo 1.0's apex optimizer
    # (``Engine.emb_grad_bytes``), else as the other gradients
    emb_gb = float(eng.emb_grad_bytes or eng.grad_bytes)

    def states(
        sl: dict[str, np.ndarray], p_emb: np.ndarray, p_norm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def shard(p: np.ndarray, n: np.ndarray, stage_min: int) -> np.ndarray:
            return np.where(c.zero >= stage_min, p / n, p)

        p_layers, p_exp = sl["dense"], sl["expert"]
        p_dense = p_layers + p_emb
        w = wb * (shard(p_layers, n_dense, 3) + shard(p_exp, n_exp, 3))
        w = w + 2.0 * shard(p_emb, n_dense, 3)
        # ``p_emb`` holds the final norm where it lives with the output layer: not an embedding
        g_16 = shard(p_layers + p_norm, n_dense, 2) + shard(p_exp, n_exp, 2)
        g = eng.grad_bytes * g_16 + emb_gb * shard(p_emb - p_norm, n_dense, 2)
        o = ob * (shard(p_dense, n_dense, 1) + shard(p_exp, n_exp, 1))
        return w, g, o

    # layers and in-flight activations of the first, a middle and the last rank
    # (planner.pipeline_memory)
    loads = rank_loads(model, c, setup)
    norm = float(model.norm_params())
    sp_first = stage_params(model, c, loads["layers_first"], etp)
    sp_last = stage_params(model, c, loads["layers_last"], etp)
    w1, g1, o1 = states(sp_first, sp["emb_first"], np.where(c.pp == 1, norm, 0.0))
    wl, gl, ol = states(sp_last, sp["emb_last"], np.full(len(c), norm))
    zero = np.zeros(len(c))
    wm, gm, om = states(stage_params(model, c, loads["layers_mid"], etp), zero, zero)
    frac_moe = model.moe_layers / model.layers
    def layer_act(moe: bool, recompute: np.ndarray | None = None) -> np.ndarray:
        return layer_activation_bytes(model, moe, c, setup, recompute, act_bytes, mask_bytes)

    per_layer = (1 - frac_moe) * layer_act(False)
    if model.is_moe:
        per_layer = per_layer + frac_moe * layer_act(True)
    nin = loads["inflight_first"]
    act_first = per_layer * nin
    # full recompute re-materializes one layer's activations during its backward; op-level
    # selective recompute the part of them it did not keep
    no_rc = layer_act(False, np.zeros_like(c.recompute))
    work = np.select(
        [c.recompute == 2, (c.recompute == 1) & (eng.selective == "op")],
        [no_rc, np.maximum(no_rc - layer_act(False), 0.0)],
        0.0,
    )
    # all-gather CP's backward holds full-length K/V copies of one layer (planner.cp_comm)
    work = work + allgather_transient_bytes(local_kv_bytes(model, c, setup), c, setup)
    act_first = act_first + work
    tok = setup.seq * c.micro_batch / c.cp
    # the loss's logit tensors (whatever the training precision: one fp32 copy, Megatron-Core's
    # fp32 copy beside the 16-bit logits, or three fp32 copies at the backward peak of an eager
    # cross-entropy -- ``Engine.loss_bytes_per_logit``) and the final norm's and output layer's
    # inputs
    ce = np.full(len(c), float(eng.loss_bytes_per_logit))
    if eng.loss_parallel_bytes_per_logit:  # PyTorch loss parallel over the TP vocab shards
        ce = np.where(c.tp > 1, float(eng.loss_parallel_bytes_per_logit), ce)
    # the final norm keeps its 16-bit input, or an eager fp32 RMSNorm its fp32 copy and 16-bit
    # output (``Engine.eager_final_norm``); the output layer keeps its input
    norm_saved = 4.0 + act_bytes if eng.eager_final_norm else act_bytes
    logits = tok * (
        ce * model.vocab / c.tp + (norm_saved + act_bytes) * model.hidden * _sp(c, setup)
    )
    act_last = per_layer * loads["inflight_last"] + work + logits
    act_mid = per_layer * loads["inflight_mid"] + work
    # ZeRO-3 gathers (and prefetches) two layers' full weights at a time
    gather = np.where(
        c.zero == 3,
        2 * 2.0 * model.layer_params(model.is_moe) / (c.tp * np.where(model.is_moe, c.ep, 1)),
        0.0,
    )
    root_first = root_unsharded_bytes(sp["emb_first"], c, setup)
    root_last = root_unsharded_bytes(sp["emb_last"], c, setup)
    first_total = w1 + g1 + o1 + act_first + gather + root_first
    last_total = wl + gl + ol + act_last + gather + root_last
    # a middle rank (no embedding, output layer or root unit) only where its in-flight layers
    # are counted (``Engine.pipeline_split_embedding_loss``)
    mid_total = np.where(loads["inflight_mid"] > 0, wm + gm + om + act_mid + gather, 0.0)
    use_last = (last_total > first_total) & (last_total >= mid_total)
    use_mid = (mid_total > first_total) & (mid_total > last_total)

    def pick(first: np.ndarray, mid: np.ndarray, last: np.ndarray) -> np.ndarray:
        return np.select([use_last, use_mid], [last, mid], first)

    act_stage = pick(act_first, act_mid, act_last - logits)
    root = pick(root_first, zero, root_last)
    overhead = (runtime.total if runtime is not None else 0.0) + gather + root
    out = {
        "weights": pick(w1, wm, wl),
        "gradients": pick(g1, gm, gl),
        "optimizer": pick(o1, om, ol),
        "activations": act_stage,
        "logits": np.where(use_last | (c.pp == 1), logits, 0.0),
    }
    out["overhead"] = overhead
    out["total"] = (
        out["weights"]
        + out["gradients"]
        + out["optimizer"]
        + out["activations"]
        + out["logits"]
        + overhead
    )
    total_params = model.num_params()
    fp8_copy = (wb - 2.0) * (total_params - model.embedding_params() - model.norm_params())
    emb_grad_extra = (emb_gb - eng.grad_bytes) * model.embedding_params()
    out["model_state_mean"] = (
        (2.0 + eng.grad_bytes + ob) * total_params + fp8_copy + emb_grad_extra
    ) / (c.tp * c.pp) + 0.0 * c.dp
    out["layer_activation"] = per_layer
    out["inflight_layers"] = np.where(use_mid, loads["inflight_mid"], nin)
    out["fits"] = out["total"] <= hbm_gib * GIB * (1.0 - setup.mem_margin)
    return out
