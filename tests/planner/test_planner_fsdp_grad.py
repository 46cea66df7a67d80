"""PyTorch FSDP's passes over each unit's unsharded gradient (``Engine.fsdp_grad_passes``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.fsdp_grad import flat_grad_pass_bytes
from gpuwise.planner.models import get_model

FOUNDRY = ENGINES["llm-foundry-2023"]
MPT_13B = get_model("mpt-13b")
A100_STREAM = 2039e9 * 0.9  # A100-80GB HBM at the planner's streaming fraction


def test_bytes_per_parameter_follow_the_four_passes() -> None:
    """concat of the views' grads (2 + 2), cast to the reduce dtype (2 + r, only when it
    differs), ``F.pad``'s copy (r + r) and the pre-division (r + r, only with 2+ ranks)."""
    eight, one = np.array([8.0]), np.array([1.0])
    assert flat_grad_pass_bytes(4, eight)[0] == 4 + 6 + 8 + 8  # an fp32 reduce_dtype
    assert flat_grad_pass_bytes(2, eight)[0] == 4 + 0 + 4 + 4  # PURE: bf16 reduce, no cast
    assert flat_grad_pass_bytes(4, one)[0] == 4 + 6 + 8


def _foundry_13b(engine: Any, zero: int = 3) -> dict[str, Any]:
    """llm-foundry's MPT-13B A100-80GB row without checkpointing: 8 GPUs, 3 x micro-batch 2."""
    kw: dict[str, Any] = {"seq": 2048, "global_batch": 48, "gpus": 8, "micro_batch": 2}
    return evaluate_config(MPT_13B, "A100-80GB", engine=engine, zero=zero, **kw)


def test_every_micro_batch_streams_the_whole_unsharded_gradient() -> None:
    """Each GPU runs the passes over all the model's parameters (not its 1/8 shard), once per
    micro-batch: 3 x 26 B per parameter with an fp32 reduction."""
    on = replace(FOUNDRY, grad_bytes=4)
    off = replace(on, fsdp_grad_passes=False)
    added = _foundry_13b(on)["time_s"]["step"] - _foundry_13b(off)["time_s"]["step"]
    assert added == pytest.approx(3 * 26 * MPT_13B.num_params() / A100_STREAM, rel=0.01)


def test_only_sharded_gradients_take_the_passes() -> None:
    """ZeRO-1 (no FSDP gradient sharding) is not charged; the flag is llm-foundry's only."""
    off = replace(FOUNDRY, fsdp_grad_passes=False)
    assert _foundry_13b(FOUNDRY, zero=1)["time_s"]["step"] == pytest.approx(
        _foundry_13b(off, zero=1)["time_s"]["step"], rel=1e-12
    )
    assert [n for n, e in ENGINES.items() if e.fsdp_grad_passes] == ["llm-foundry-2023"]
