"""Transformer layers and in-flight activations of the first, a middle and the last pipeline rank.

In flight at a rank's peak under Megatron-LM's schedules: 1F1B warms up with ``p - r - 1``
forwards on rank ``r`` and runs one more before its first backward, so rank ``r`` holds
``min(p - r, m)`` micro-batches; the interleaved schedule warms up with
``2 (p - r - 1) + (v - 1) p`` model-chunk forwards (NVIDIA/Megatron-LM
``megatron/core/pipeline_parallel/schedules.py`` ``forward_backward_pipelining_with_interleaving``
``num_warmup_microbatches``), so rank ``r`` holds ``min(m v, 2 (p - r - 1) + (v - 1) p + 1)``
chunk-micro-batches (Korthikanti et al. 2022 eq. 5 for rank 0).  With every chunk holding the
same layers the first rank peaks highest; the last rank also holds the loss's logits.
Megatron-Core's EP all-to-all overlap (``overlap_moe_expert_parallel_comm``,
``Engine.ep_a2a_overlap``) warms up with one forward more (``get_pp_rank_microbatches``,
NVIDIA/Megatron-LM@60e039626 ``schedules.py``) and then runs each forward beside a backward,
layer ``i`` of the one with layer ``n - 1 - i`` of the other
(``TransformerModelChunkSchedulePlan.run``), which frees a layer as the forward adds one: the
same count, plus at most part of one layer, so it is not counted apart.

``Engine.pipeline_split_embedding_loss`` counts the embedding and the loss as one layer slot each
when the layers are split over the ``p v`` model chunks (Megatron-Core
``account_for_embedding_in_pipeline_split`` / ``account_for_loss_in_pipeline_split``:
``get_transformer_layer_offset`` adds a layer for each before dividing, NVIDIA/Megatron-LM
``megatron/core/transformer/transformer_layer.py``), the layout of Llama 3 405B's pre-training
(Llama Team 2024, arXiv 2407.21783 sec. 3.3.2: one Transformer layer fewer on the first and the
last stage, whose first / last model chunk holds only the embedding / the output projection and
loss).  The first and last ranks then hold one layer fewer than the middle ones, and each of the
first rank's chunk-0 micro-batches in flight one layer fewer: ``min(2p - 1, m)`` of them at its
peak interleaved (the first group's ``p`` and the ``p - 1`` of the next group its warm-up
reaches), all ``min(p, m)`` under 1F1B; the second rank, with the full share, can peak higher.
``tests/planner/test_planner_pipeline_memory.py`` checks these counts against an op-by-op replay
of the interleaved schedule.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates, Setup, stage_layers


def microbatches(c: Candidates, setup: Setup) -> np.ndarray:
    """Micro-batches per optimizer step per pipeline: ``global_batch / (dp * b)``."""
    return setup.global_batch // (c.dp * c.micro_batch)


def _in_flight_chunks(c: Candidates, m: np.ndarray, rank: np.ndarray | int) -> np.ndarray:
    """Chunk-micro-batches (micro-batches under 1F1B) rank ``rank`` holds at its peak."""
    p, v = c.pp, c.vpp
    interleaved = np.minimum(m * v, 2 * (p - rank - 1) + (v - 1) * p + 1)
    return np.where(v > 1, interleaved, np.minimum(p - rank, m)).astype(float)


def rank_loads(model: ModelConfig, c: Candidates, setup: Setup) -> dict[str, np.ndarray]:
    """Transformer layers (``layers_*``) and layer-micro-batches of activations in flight at the
    peak (``inflight_*``) on the first, a middle (rank 1, zero where the split gives it nothing
    over the first rank) and the last pipeline rank."""
    m = microbatches(c, setup)
    p, v = c.pp, c.vpp
    even = stage_layers(model.layers, p, v).astype(float)
    zero = np.zeros(len(c))
    first = _in_flight_chunks(c, m, 0) * even / v
    last = _in_flight_chunks(c, m, p - 1) * even / v
    if not setup.engine.pipeline_split_embedding_loss:
        return {
            "layers_first": even,
            "layers_mid": even,
            "layers_last": even,
            "inflight_first": first,
            "inflight_mid": zero,
            "inflight_last": last,
        }
    split = p > 1
    slots = stage_layers(model.layers + 2, p, v).astype(float)  # + embedding + loss
    k = slots / v  # layer slots per model chunk
    short = np.where(v > 1, np.minimum(2 * p - 1, m), np.minimum(p, m))
    f_split = _in_flight_chunks(c, m, 0) * k - short
    mid = np.where(p >= 3, _in_flight_chunks(c, m, 1) * k, 0.0)
    # interleaved: the loss-only chunk's micro-batch is not yet in flight at the last rank's
    # peak when the step has a single group of p micro-batches
    l_split = _in_flight_chunks(c, m, p - 1) * k - np.where((v > 1) & (m <= p), 1.0, 0.0)
    l_split = np.where(v > 1, l_split, slots - 1)
    return {
        "layers_first": np.where(split, slots - 1, even),
        "layers_mid": np.where(split, slots, even),
        "layers_last": np.where(split, slots - 1, even),
        "inflight_first": np.where(split, f_split, first),
        "inflight_mid": np.where(split, mid, zero),
        "inflight_last": np.where(split, l_split, last),
    }
