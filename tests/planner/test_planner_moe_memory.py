"""What a Megatron-Core MoE layer keeps for backward (planner.moe_memory): FP8 grouped GEMMs save
1-byte inputs, and the routed rows a GPU keeps follow the expert TP size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.memory import layer_activation_bytes
from gpuwise.planner.models import get_model
from gpuwise.planner.moe_memory import moe_mlp_saved_bytes
from gpuwise.planner.parallel import Setup, single

QWEN = get_model("qwen3-30b-a3b")
H, K, F = float(QWEN.hidden), float(QWEN.top_k), float(QWEN.expert_ffn)
MODERN = ENGINES["modern"]


def _setup(engine=MODERN) -> Setup:  # type: ignore[no-untyped-def]
    return Setup(seq=4096, global_batch=64, gpus=16, engine=engine)


def test_bf16_terms_per_token() -> None:
    """BF16, no shared experts: norm input + output (2 h, 2 B), fp32 router scores (4 E),
    FC1 output (2 f) + FC2 input (f) per routed row, the routed row itself (h) per copy."""
    two = np.array([2.0])
    rep, tp, routed = moe_mlp_saved_bytes(QWEN, 2.0, 1.0, two, np.zeros(1))
    assert rep[0] == pytest.approx(4.0 * H + 4.0 * QWEN.experts)
    assert tp[0] == pytest.approx(2.0 * 3.0 * F * K)
    assert routed[0] == pytest.approx(2.0 * K * H)


def test_fp8_grouped_gemms_keep_one_byte_inputs() -> None:
    """TE ``GroupedLinear`` keeps the column-wise FP8 cast of FC1's and FC2's inputs: 1 byte
    instead of 2 for the k routed rows and the k FC2 inputs; FC1's output stays 16-bit."""
    _, tp16, r16 = moe_mlp_saved_bytes(QWEN, 2.0, 1.0, np.array([2.0]), np.zeros(1))
    _, tp8, r8 = moe_mlp_saved_bytes(QWEN, 2.0, 1.0, np.array([1.0]), np.ones(1))
    assert (r16 - r8)[0] == pytest.approx(K * H)
    assert (tp16 - tp8)[0] == pytest.approx(K * F)
    # through the layer: the flag off keeps 16-bit saves everywhere; on, the MoE block saves
    # k (h + f) bytes less per token and the attention block its own FP8 difference
    # (-h for the QKV input, + a d_v for the projection's FP8 cast beside the core's output)
    c = single(tp=1, ep=8, precision="fp8")
    on = layer_activation_bytes(QWEN, True, c, _setup())[0]
    plain = replace(MODERN, fp8_saved_inputs=False)
    off = layer_activation_bytes(QWEN, True, c, _setup(plain))[0]
    a, (_, d_v) = QWEN.heads, attn_dims(QWEN)
    assert off - on == pytest.approx(4096 * (K * (H + F) + H - a * d_v))


def test_routed_rows_follow_the_expert_tp_size() -> None:
    """With sequence parallelism each rank routes its own shard; the default expert TP (= TP)
    all-gathers the routed rows over the TP group, so a GPU keeps FC1's input for all of the
    group's tokens, ETP 1 for its own shard only: at TP 2, k h bytes (BF16) per token more."""
    c = single(tp=2, ep=8, dp=1)
    default = layer_activation_bytes(QWEN, True, c, _setup())[0]
    etp1 = layer_activation_bytes(QWEN, True, c, _setup(replace(MODERN, expert_tp1=True)))[0]
    assert default - etp1 == pytest.approx(4096 * K * H)
