"""Expert tensor parallelism: how a MoE layer's experts are laid out over the TP ranks.

Megatron-Core builds the expert layers' process groups with their own ``RankGenerator`` (NVIDIA/
Megatron-LM ``megatron/core/parallel_state.py`` ``initialize_model_parallel``: ``tp =
expert_tensor_parallel_size`` -- the attention TP size unless set --, ``ep =
expert_model_parallel_size``, ``dp = world / (ETP x EP x PP)``, the same rank order as the
dense layers, TP fastest).  With the default ETP = TP each expert's weights are split over the TP
ranks like a dense MLP; with ETP = 1 (``Engine.expert_tp1``, e.g. Megatron-Bridge's Qwen3 MoE
performance presets, ``expert_tensor_parallel_size=1``) every rank holds whole experts, keeps
its own sequence-parallel shard of the tokens (the all-to-all dispatcher gathers over the expert
TP group only, here of one rank: ``MoEAlltoAllTokenDispatcher``, ``megatron/core/transformer/
moe/token_dispatcher.py``), so the MoE block has no TP all-gather / reduce-scatter, and the EP
group is ``ep`` consecutive ranks with an expert data-parallel group of ``tp * dp * cp / ep``.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.engines import Engine
from gpuwise.planner.parallel import Candidates


def expert_tp(c: Candidates, engine: Engine) -> np.ndarray:
    """The expert TP size per candidate: 1 under ``Engine.expert_tp1``, else the TP size."""
    return np.ones(len(c)) if engine.expert_tp1 else c.tp.astype(float)


def expert_dp(c: Candidates, engine: Engine) -> np.ndarray:
    """Ranks holding the same experts (their gradients reduce and their optimizer states
    shard over them): ``tp * dp * cp / (etp * ep)``, at least 1."""
    return np.maximum(c.tp * c.dp * c.cp / (expert_tp(c, engine) * c.ep), 1.0)


def ep_span(c: Candidates, engine: Engine) -> np.ndarray:
    """Consecutive ranks one EP group spans: ``etp * cp * ep`` (the planner's layout for the
    default ETP = TP; ``ep`` under ETP = 1 with CP 1)."""
    return expert_tp(c, engine) * c.cp * c.ep
