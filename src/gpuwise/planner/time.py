"""Step time of a training configuration (vectorized over candidates).

Per micro-batch and pipeline stage the GPU runs, for each of its ``L/p`` layers, the layer's
GEMMs (forward; backward = data-gradient + weight-gradient GEMMs), the attention core, the
memory-bound elementwise kernels and the tensor-/expert-/context-parallel collectives
(:mod:`gpuwise.planner.layer_time`), then the output layer and loss on the last stage.  The
pipeline then takes ``(m + (p-1)/v)`` micro-batch slots (1F1B / interleaved bubble, Narayanan et
al. 2021 sec. 2.2), the data-parallel gradient reduction adds what it cannot hide behind the
last backward pass, tied embeddings split across pipeline stages all-reduce their gradient
between the first and last stage, and the optimizer streams its states once
(:mod:`gpuwise.planner.optimizer_step`: its passes, and the cost of apex's 320-block
multi-tensor launches).

Collectives are priced by :mod:`gpuwise.planner.collectives` (ring cost plus NCCL's latency
model, on the link the group actually spans; ranks are ordered TP, CP, EP, DP, PP as in
Megatron-LM).

Software behaviour comes from the :class:`~gpuwise.planner.engines.Engine` preset: which
collectives overlap compute (the Megatron-LM presets charge every tensor-parallel collective
on the critical path; ``modern`` presets hide each one under the GEMM Transformer Engine runs
it with, :mod:`gpuwise.planner.tp_overlap`, and may overlap pipeline p2p and the distributed
optimizer's parameter all-gather), sequence parallelism (and its backward re-gather), fused
gradient accumulation, the flash-attention generation, the gradient precision.

Rates come from :class:`~gpuwise.planner.hardware.Hardware`: with a device profile, a
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
    link,
    ring_allreduce,
    ring_gather,
)
from gpuwise.planner.expert_tp import ep_span, expert_dp, expert_tp
from gpuwise.planner.fp8 import weight_cast_bytes
from gpuwise.planner.fsdp2_copies import (
    mean_gathers,
    sharded_copy_bytes,
    unsharded_copy_bytes,
)
from gpuwise.planner.fsdp2_edges import edge_params
from gpuwise.planner.fsdp_grad import flat_grad_pass_bytes
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.memory import microbatches, stage_params
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.moe_overlap import paired_share
from gpuwise.planner.optimizer_step import optimizer_time
from gpuwise.planner.parallel import Candidates, Setup, stage_layers
from gpuwise.planner.pipeline import partitioned_p2p, pipeline_time, uncombined_p2p
from gpuwise.planner.recompute import op_sac_recompute_time

#: HBM bytes per logit of an fp32 softmax cross-entropy and its gradient (Megatron-LM's
#: vocab-parallel loss on ``logits.float()``; eager ``F.cross_entropy`` under autocast is the
#: same chain): cast to fp32 (2 + 4), max (4), subtract (8), exp (8), sum (4), normalize (8),
#: scale by the incoming gradient (8), cast back to 16 bits (4 + 2).
CE_BYTES_PER_LOGIT = 52.0
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
    gbw = link(hw, setup, c.tp, gather=True)[0]
    act = 2.0 * model.hidden * tok
    gather, reduce = ring_gather(act, c.tp, gbw, lat), ring_allreduce(act, c.tp, bw, lat)
    loss = 3.0 * ring_allreduce(4.0 * tok, c.tp, bw, lat)
    if not setup.engine.sequence_parallel:
        return reduce + loss, reduce
    return 3.0 * gather + loss, reduce + gather


def step_time(
    model: ModelConfig, c: Candidates, setup: Setup, hw: Hardware
) -> dict[str, np.ndarray]:
    """Seconds per optimizer step and its parts: ``step, compute, pipeline_bubble, dp_exposed,
    optimizer, tp_comm`` (arrays)."""
    eng = setup.engine
    frac_moe = model.moe_layers / model.layers
    lt = layer_times(model, False, c, setup, hw)
    if model.is_moe:
        lm = layer_times(model, True, c, setup, hw)
        lt = {k: (1 - frac_moe) * lt[k] + frac_moe * lm[k] for k in lt}
    per_stage = stage_layers(model.layers, c.pp, c.vpp)
    fwd = lt["gemm_f"] + lt["attn_f"] + lt["elem_f"] + lt["comm_f"] + lt["launch_f"]
    bwd = lt["gemm_b"] + lt["attn_b"] + lt["elem_b"] + lt["comm_b"] + lt["launch_b"]
    # MoE all-to-all hidden under the paired forward/backward (planner.moe_overlap), on the
    # passes the schedule pairs: not the warm-up forwards and cool-down backwards
    m_pairs = microbatches(c, setup) // max(int(setup.pipeline_runs), 1)
    a2a_paired = lt["a2a_hidden"] * paired_share(m_pairs, c.pp, c.vpp)
    bwd = bwd - a2a_paired
    # full: the whole forward again (GEMMs, attention, kernels, TP collectives);
    # selective: the attention core and its softmax/dropout kernels (Korthikanti sec. 5), or
    # for an op-level engine (torchtitan) every second matmul and all non-matmul kernels
    if eng.selective == "op" and bool((c.recompute == 1).any()):
        selective = op_sac_recompute_time(model, c, setup, hw, lt)
    else:
        selective = lt["attn_f"] + lt["scores_f"]
    recompute = np.select([c.recompute == 2, c.recompute == 1], [fwd, selective], 0.0)
    unit = fwd + bwd + recompute  # one layer's micro-batch
    layer_mb = per_stage * unit
    slot_layers = per_stage.astype(float)  # layer slots in one micro-batch's slot
    # output layer + loss on the last stage (vocab-parallel GEMM, fp32 cross-entropy)
    tok = setup.seq * c.micro_batch / c.cp
    ones = np.ones(len(c))
    v_t = model.vocab / c.tp
    logits_f = hw.gemm_time(tok, v_t, model.hidden * ones, "bf16")
    logits_b = hw.gemm_time(tok, model.hidden * ones, v_t, "bf16") + hw.gemm_time(
        v_t, model.hidden * ones, tok, "bf16", out_bytes=eng.wgrad_out_bytes
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
        tp_gather = ring_gather(act, c.tp, *link(hw, setup, c.tp, gather=True))
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
    if eng.pipeline_split_embedding_loss:
        # the embedding and the loss take a layer slot each of the split (planner.
        # pipeline_memory): the middle ranks run one layer more than the even split, the last
        # rank one layer fewer besides its output layer and loss; the heavier of the two sets
        # the pace, and the bubble is the middle ranks' micro-batch
        split = c.pp > 1
        slots = stage_layers(model.layers + 2, c.pp, c.vpp)
        layer_mb = np.where(split, slots * unit, layer_mb)
        slot_layers = np.where(split, slots, slot_layers)
        last_extra = np.where(split, np.maximum(0.0, last_extra - unit), last_extra)
    # weight gradients are accumulated into the gradient buffer every micro-batch: read the
    # new gradient and read + write the buffer (``grad_bytes`` per element) for every local
    # parameter -- only the DP shard under ZeRO-2/3 (gradients are reduce-scattered first),
    # nothing extra when the wgrad GEMM accumulates into the buffer itself
    n_dp = (c.dp * c.cp).astype(float)
    # expert weights are sharded over the DP ranks that hold the same experts (dp * cp / ep),
    # as memory.py shards their states; the rest over dp * cp
    n_exp = expert_dp(c, eng)
    sp = stage_params(model, c, etp=expert_tp(c, eng))
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
    if eng.fsdp2_grad_assign:
        # FSDP2 sets a step's first reduced shard as ``.grad`` (``zero_grad`` left it None)
        # and adds only the later micro-batches' (``foreach_reduce``: ``to_accumulate_grad =
        # sharded_param.grad is not None``, pytorch/pytorch@01d66d21 torch/distributed/
        # _composable/fsdp/_fsdp_collectives.py)
        m_acc = microbatches(c, setup).astype(float)
        grad_acc = grad_acc * np.where(c.zero >= 2, (m_acc - 1.0) / m_acc, 1.0)
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
    # the dense DP group: ranks tp * cp apart; the expert DP group: one EP span apart
    # (planner.expert_tp)
    dbw, dlat = link(hw, setup, c.tp * c.cp * c.dp, c.tp * c.cp)
    xbw, xlat = link(hw, setup, c.tp * c.cp * c.dp, ep_span(c, eng))
    dgbw = link(hw, setup, c.tp * c.cp * c.dp, c.tp * c.cp, gather=True)[0]
    xgbw = link(hw, setup, c.tp * c.cp * c.dp, ep_span(c, eng), gather=True)[0]

    def gather(
        bytes_per_param: float, dense: np.ndarray = p_dense, expert: np.ndarray = sp["expert"]
    ) -> np.ndarray:
        """All-gather / reduce-scatter of the stage's parameters over their DP groups."""
        exp = ring_gather(bytes_per_param * expert, n_exp, xgbw, xlat)
        return ring_gather(bytes_per_param * dense, n_dp, dgbw, dlat) + np.where(moe, exp, 0.0)

    z3 = np.where(c.zero == 3, 2.0 * gather(2.0) + gather(eng.grad_bytes), 0.0)
    if eng.zero3_per_step:
        z3 = np.zeros(len(c))
    # FSDP2's root and first-block collectives at each forward's start and the backward's end
    # run with nothing beside them (planner.fsdp2_edges)
    edge_ag, edge_rs = np.zeros(len(c)), np.zeros(len(c))
    if eng.fsdp2_exposed_edges and not eng.zero3_per_step:
        e_dense, e_exp = edge_params(sp, per_stage)
        edge_ag = np.where(c.zero == 3, gather(2.0, e_dense, e_exp), 0.0)
        edge_rs = np.where(c.zero == 3, gather(eng.grad_bytes, e_dense, e_exp), 0.0)
    z2 = np.where(c.zero == 2, gather(eng.grad_bytes), 0.0)
    z3_hidden = np.maximum(0.0, z3 - edge_ag - edge_rs - layer_mb)
    mb_time = mb_time + edge_ag + z3_hidden + np.maximum(0.0, z2 - per_stage * bwd)
    m = microbatches(c, setup)
    # 1F1B / interleaved: m slots paced by the last stage plus a (p-1)/v bubble of the others
    # (planner.pipeline); each schedule run per step fills and drains the pipeline
    # (``Setup.pipeline_runs``)
    runs = float(setup.pipeline_runs)
    run_time, bubble = pipeline_time(m / runs, c.pp, c.vpp, mb_time, last_extra)
    # the bubble waits on other ranks' warm-up forwards and cool-down backwards, which run
    # unpaired: none of their all-to-all is hidden (planner.moe_overlap)
    unpaired = np.where(c.pp > 1, (c.pp - 1) / c.vpp * slot_layers * a2a_paired, 0.0)
    run_time, bubble = run_time + unpaired, bubble + unpaired
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
    dp_exposed = np.maximum(0.0, dp_t - hidden) + edge_rs
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
