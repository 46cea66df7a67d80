"""Megatron-Core's 1F1B expert-parallel all-to-all overlap (``Engine.ep_a2a_overlap``).

With ``overlap_moe_expert_parallel_comm`` (Megatron-Bridge ``moe_a2a_overlap``, which also sets
``delay_wgrad_compute``) the schedule runs one micro-batch's forward of a layer together with
another micro-batch's backward of a layer, communication on its own stream, in four phases
(NVIDIA/Megatron-LM ``megatron/core/models/common/model_chunk_schedule_plan.py``
``schedule_layer_1f1b``): the forward attention block beside the backward combine, the forward
dispatch beside the backward expert MLP, the forward expert MLP beside the backward dispatch
(with the delayed expert weight gradients), the forward combine beside the backward attention
block.  Why these pairs: each micro-batch's schedule plan has its own CUDA event, and every
node waits on its plan's event and records it when done (``pipeline_parallel/utils.py``
``stream_acquire_context``), so the forward nodes run in order, the backward nodes run in order,
and the two chains meet only through the two streams' issue order (compute: forward attention,
backward expert MLP, its delayed weight gradients, forward expert MLP, backward attention;
communication: backward combine, forward dispatch, backward dispatch, forward combine); the
delayed weight gradients (``TransformerLayerNode.backward_dw``, ``models/gpt/
fine_grained_callables.py``) run on the compute stream without recording the event, so the
backward dispatch waits only for the data gradient and runs beside them and the forward expert
MLP.  Each phase takes the longer of its compute and its all-to-all; what the compute covers
is hidden -- less the share of the SMs the communication kernel holds while it runs: the compute
beside it has ``k`` of the GPU's ``S`` SMs fewer, so a phase ends at ``max(a2a, compute + a2a *
k / S)`` (the form of ``tp_overlap.nccl_beside_gemm``).  The Megatron-Core MoE report (arXiv
2603.07685 sec. 4.2.3) measures this carve-out: DeepEP on 20 SMs of an H100 costs the GEMMs
beside it about a fifth of their efficiency.  ``k`` is DeepEP's 20
(:data:`gpuwise.planner.moe_comm.DEEPEP_SMS`) or, for NCCL's all-to-all, the thread blocks
NCCL keeps per GPU (``efficiency.nccl_ctas``, measured on its collectives).
Full recomputation is refused with this overlap (Megatron-Bridge ``comm_overlap.py``
asserts ``recompute_granularity != "full"``), so it is not applied there.

Only the steady state pairs passes (:func:`paired_share`): the warm-up forwards and the
cool-down backwards of a pipeline rank run alone, their all-to-all exposed (the report's
"the first FWD and last BWD remain on the end-to-end critical path"; its list of limits names
the "proportion of overlapped batches"); ``time.step_time`` takes the hidden seconds off the paired
passes only and prices the pipeline bubble, which waits on other ranks' unpaired passes, without
them.
"""

from __future__ import annotations

import numpy as np


def paired_share(m: np.ndarray, pp: np.ndarray, vpp: np.ndarray) -> np.ndarray:
    """Share of a pipeline rank's ``m * vpp`` chunk passes each way that run paired with a pass
    of the other direction, on the first rank (the one whose last backward ends the step).

    No pipeline: the first forward and the last backward run alone (NVIDIA/Megatron-LM@00caa53a
    ``megatron/core/pipeline_parallel/combined_1f1b.py``
    ``combined_1f1b_schedule_for_no_pipelining``): ``(m - 1) / m``.  Interleaved: the
    ``2 (pp - 1) + (vpp - 1) pp`` warm-up forwards of the first rank, plus the one more the
    overlap schedules "to ensure the forward and backward computations are independent in all
    1f1b steps", run alone, and as many cool-down backwards (NVIDIA/Megatron-LM@00611e6e
    ``megatron/core/pipeline_parallel/schedules.py`` ``get_pp_rank_microbatches``, with the
    default ``microbatch_group_size_per_vp_stage`` = ``pp``; the Megatron-Core MoE report,
    arXiv 2603.07685 sec. 4.2.3, names the extra warm-up micro-batch).  A pipeline without
    virtual stages cannot run the overlap (``TransformerConfig`` asserts
    ``virtual_pipeline_model_parallel_size`` when ``pipeline_model_parallel_size > 1``): 0."""
    total = (m * vpp).astype(float)
    warmup = np.where(pp > 1, 2.0 * (pp - 1) + (vpp - 1) * pp + 1.0, 1.0)
    share = np.clip(total - warmup, 0.0, None) / np.maximum(total, 1.0)
    return np.where((pp > 1) & (vpp <= 1), 0.0, share)


def a2a_hidden(
    fwd: np.ndarray,
    bwd: np.ndarray,
    a2a: np.ndarray,
    exp_f: np.ndarray,
    exp_dgrad: np.ndarray,
    exp_wgrad: np.ndarray,
    sm_share: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Seconds of one layer's forward + backward pass the overlap hides.

    ``fwd``/``bwd``: the layer's GPU seconds each way, ``a2a`` included (dispatch + combine,
    the same traffic both ways, each half of it); ``exp_*``: the routed experts' GEMM seconds
    (forward, data gradient, weight gradient).  The rest of each pass is its attention block.
    ``sm_share``: the fraction of the SMs the all-to-all kernel holds while it runs."""
    half = 0.5 * a2a
    attn_f = np.maximum(0.0, fwd - a2a - exp_f)
    attn_b = np.maximum(0.0, bwd - a2a - exp_dgrad - exp_wgrad)

    def exposed(compute: np.ndarray) -> np.ndarray:
        return np.maximum(half - compute, half * sm_share)

    return 2.0 * a2a - (
        exposed(attn_f)  # backward combine | forward attention
        + exposed(exp_dgrad)  # forward dispatch | backward expert MLP
        + exposed(exp_f + exp_wgrad)  # backward dispatch | forward experts
        + exposed(attn_b)  # forward combine | backward attention
    )
