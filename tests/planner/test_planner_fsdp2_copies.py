"""FSDP2's collective copy-in/copy-out kernels (``Engine.fsdp2_copies``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.fsdp2_copies import mean_gathers, sharded_copy_bytes, unsharded_copy_bytes
from gpuwise.planner.models import get_model

TITAN = ENGINES["torchtitan"]
LLAMA3_8B = get_model("llama-3-8b")
A100_STREAM = 2039e9 * 0.9  # A100-80GB HBM at the planner's streaming fraction


def test_bytes_per_parameter_follow_the_copies() -> None:
    """Per unsharded parameter: each gather's ``split_with_sizes_copy`` (2 + 2) and the
    ``_chunk_cat`` copy-in cast to the reduce dtype (2 + r); per sharded parameter: each
    gather's cast of the fp32 shard (4 + 2) and its copy into the all-gather input (2 + 2)."""
    two, none = np.array([2.0]), np.array([0.0])
    assert unsharded_copy_bytes(4, two)[0] == 2 * 4 + 6  # torchtitan: fp32 reduce
    assert unsharded_copy_bytes(2, two)[0] == 2 * 4 + 4  # bf16 reduce
    assert unsharded_copy_bytes(4, none)[0] == 6  # reduce-scatter only
    assert sharded_copy_bytes(two, 4)[0] == 2 * 10  # fp32 shards: cast, then pack
    assert sharded_copy_bytes(two, 2)[0] == 2 * 4  # a bf16 model: pack only


def _titan_8b(engine: Any, zero: int = 3, gpus: int = 64) -> dict[str, Any]:
    """torchtitan's Llama 3 8B A100 row: FSDP over 64 GPUs, one micro-batch of 8192 tokens."""
    kw: dict[str, Any] = {"seq": 8192, "global_batch": gpus, "gpus": gpus, "micro_batch": 1}
    return evaluate_config(
        LLAMA3_8B, "A100-80GB", engine=engine, zero=zero, recompute="selective", **kw
    )


def test_root_and_last_block_are_gathered_once() -> None:
    """3 blocks of 10 parameters and a root of 10: blocks 1-2 twice, block 3 and the root once."""
    assert mean_gathers(np.array([30.0]), np.array([3.0]), np.array([40.0]))[0] == 60 / 40


def _gathered(model: Any) -> float:
    """Parameter-gathers per micro-batch of one GPU under ZeRO-3 (no TP, no PP)."""
    blocks = model.layers * model.layer_params(False)
    return float(model.num_params() + blocks * (model.layers - 1) / model.layers)


def test_each_micro_batch_copies_the_whole_gathered_model() -> None:
    """ZeRO-3: the gathers' copy-outs and one reduce-scatter copy-in over every parameter the
    GPU gathers (the whole model), plus the gathers' copy-ins of its 1/64 shard."""
    off = replace(TITAN, fsdp2_copies=False)
    added = _titan_8b(TITAN)["time_s"]["step"] - _titan_8b(off)["time_s"]["step"]
    nbytes = 4 * _gathered(LLAMA3_8B) + 6 * LLAMA3_8B.num_params() + 10 * _gathered(LLAMA3_8B) / 64
    assert added == pytest.approx(nbytes / A100_STREAM, rel=0.01)


def test_flag_is_on_the_fsdp2_engines_only() -> None:
    """Replicated parameters (ZeRO-1) take no FSDP copies; the flag marks the FSDP2 presets
    whose runs gather and reduce every micro-batch (not AutoModel's pipelined MoE preset)."""
    off = replace(TITAN, fsdp2_copies=False)
    assert _titan_8b(TITAN, zero=1)["time_s"]["step"] == pytest.approx(
        _titan_8b(off, zero=1)["time_s"]["step"], rel=1e-12
    )
    flagged = sorted(n for n, e in ENGINES.items() if e.fsdp2_copies)
    assert flagged == ["fsdp", "torchtitan", "torchtitan-compile"]
    assert ENGINES["fsdp"].fsdp2_shard_bytes == 2 and TITAN.fsdp2_shard_bytes == 4


def test_a_bf16_model_skips_the_shard_cast() -> None:
    """Shards stored in bf16 (AutoModel's ``torch_dtype: bf16``) are packed without the cast of
    each gather: 4 + 2 fewer bytes per gathered sharded parameter."""
    bf16 = replace(TITAN, fsdp2_shard_bytes=2)
    saved = _titan_8b(TITAN)["time_s"]["step"] - _titan_8b(bf16)["time_s"]["step"]
    assert saved == pytest.approx(6 / 64 * _gathered(LLAMA3_8B) / A100_STREAM, rel=0.01)


def _titan_8b_m(engine: Any, m: int) -> float:
    """Step seconds of the A100 Llama 3 8B row with ``m`` micro-batches per step."""
    kw: dict[str, Any] = {"seq": 8192, "global_batch": 64 * m, "gpus": 64, "micro_batch": 1}
    r = evaluate_config(LLAMA3_8B, "A100-80GB", engine=engine, zero=3, recompute="selective", **kw)
    return float(r["time_s"]["step"])


def test_first_reduced_shard_is_assigned_not_added() -> None:
    """FSDP2 sets the first micro-batch's reduced shard as ``.grad``: the accumulation pass
    (the time model's 2 x ``grad_bytes`` = 8 B per fp32 sharded parameter) runs for the later
    micro-batches only, so a step saves one pass whatever its micro-batch count."""
    off = replace(TITAN, fsdp2_grad_assign=False)
    acc = 8 * LLAMA3_8B.num_params() / 64 / A100_STREAM
    for m in (1, 2):
        saved = _titan_8b_m(off, m) - _titan_8b_m(TITAN, m)
        assert saved == pytest.approx(acc, rel=0.01)
    assert sorted(n for n, e in ENGINES.items() if e.fsdp2_grad_assign) == [
        "torchtitan", "torchtitan-compile"
    ]
