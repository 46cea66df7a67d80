"""Megatron-Core's 1F1B expert-parallel all-to-all overlap (``Engine.ep_a2a_overlap``).

With ``overlap_moe_expert_parallel_comm`` (Megatron-Bridge ``moe_a2a_overlap``, which also sets
``delay_wgrad_compute``) the schedule runs one micro-batch's forward of a layer together with
another micro-batch's backward of a layer, communication on its own stream, in four phases
(NVIDIA/Megatron-LM ``megatron/core/models/common/model_chunk_schedule_plan.py``
``schedule_layer_1f1b``): the forward attention block beside the backward combine, the forward
dispatch beside the backward expert MLP, the forward expert MLP beside the backward dispatch
(with the delayed expert weight gradients), the forward combine beside the backward attention
block.  Each phase takes the longer of its compute and its all-to-all; what the compute covers
is hidden -- less the share of the SMs the communication kernel holds while it runs: the compute
beside it has ``k`` of the GPU's ``S`` SMs fewer, so a phase ends at ``max(a2a, compute + a2a *
k / S)`` (the form of ``tp_overlap.nccl_beside_gemm``).  The Megatron-Core MoE report (arXiv
2603.07685 sec. 4.2.3) measures this carve-out: DeepEP on 20 SMs of an H100 costs the GEMMs
beside it about a fifth of their efficiency.  ``k`` is DeepEP's 20
(:data:`gpuwise.planner.moe_comm.DEEPEP_SMS`) or, for NCCL's all-to-all, the thread blocks
NCCL keeps per GPU (``efficiency.nccl_ctas``, measured on its collectives).
Full recomputation is refused with this overlap (Megatron-Bridge ``comm_overlap.py``
asserts ``recompute_granularity != "full"``), so it is not applied there.  Warm-up and
cool-down passes of the pipeline schedule have no partner; the planner prices every pass of
the steady state as paired.
"""

from __future__ import annotations

import numpy as np


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
