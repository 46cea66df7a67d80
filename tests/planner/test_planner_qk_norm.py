"""Per-head RMSNorm on queries and keys (``ModelConfig.qk_norm``: Qwen3's ``q_norm``/``k_norm``,
Megatron-Core ``qk_layernorm``): its weights, saved inputs, bytes and kernels."""

from __future__ import annotations

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.launch import layer_kernels
from gpuwise.planner.memory import layer_activation_bytes
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

QWEN = get_model("qwen3-30b-a3b")
PLAIN = QWEN.model_copy(update={"qk_norm": False})
ENG = ENGINES["modern"]


def test_qwen3_presets_carry_the_qk_norm_weights() -> None:
    assert QWEN.qk_norm and get_model("qwen3-235b-a22b").qk_norm
    assert not get_model("llama-3-8b").qk_norm
    assert QWEN.num_params() - PLAIN.num_params() == QWEN.layers * 2 * QWEN.hd


def test_qk_norm_keeps_its_inputs_for_backward() -> None:
    c = single(dp=2, tp=2, pp=1, ep=1, zero=1)
    setup = Setup(4096, 64, 4, engine=ENG)
    extra = layer_activation_bytes(QWEN, True, c, setup) - layer_activation_bytes(
        PLAIN, True, c, setup
    )
    per_tok = (2.0 * QWEN.hd + 4.0) * (QWEN.heads + QWEN.kv) / 2.0  # TP 2 splits the heads
    assert extra[0] == pytest.approx(4096 * per_tok)


def test_qk_norm_launches_one_kernel_each_forward_and_two_backward() -> None:
    tp, gemms = np.array([1.0]), np.array([8.0])
    f1, b1 = layer_kernels(QWEN, ENG, True, tp, gemms)
    f0, b0 = layer_kernels(PLAIN, ENG, True, tp, gemms)
    assert (f1 - f0)[0] == 2 and (b1 - b0)[0] == 4
