"""The optimizer passes of one step (planner.optimizer_step), GPT 22B on 8 A100s at TP 8."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import MEM_BW_FRACTION
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import get_model
from gpuwise.planner.optimizer_step import (
    SPLIT_LAUNCH_MS,
    foreach_adamw_bytes,
    foreach_clip_bytes,
    optimizer_time,
    split_launch_slowdown,
)

HW = Hardware.from_catalog(get_accelerator("A100-80GB"))
LOCAL = np.array([get_model("gpt-22b").num_params() / 8])  # TP 8 shards every weight
STREAM = 2039e9 * 0.9


def test_split_launch_slowdown_is_the_measured_ratio() -> None:
    """PyTorch's fused Adam/AdamW over a 0.54e9-parameter bf16 shard (14 B each): 320-block
    launches vs one launch.  The single launch runs at the modelled streaming fraction, so the
    ratio is what the launch shape adds."""
    assert split_launch_slowdown() == pytest.approx(1.266, abs=0.005)
    one_launch_tbs = 68.98e9 / 128 * 14 / (SPLIT_LAUNCH_MS[0][1] * 1e-3) / 1e12
    assert one_launch_tbs / 2.4 == pytest.approx(MEM_BW_FRACTION, abs=0.03)


def test_split_launches_slow_the_clipping_norm_and_adamw_only() -> None:
    """megatron-2022 (fp32 main gradients, bf16): the clipping norm (4 B) and AdamW (24 + 4 B)
    run through apex's multi-tensor kernels; the weight copy, the zeroing and the buffer
    scaling do not.  Removing the launch cost gives back (slowdown - 1) x 32 B per parameter."""
    eng = ENGINES["megatron-2022"]
    assert eng.split_multi_tensor_launch and not ENGINES["torchtitan"].split_multi_tensor_launch
    split = optimizer_time(eng, HW, LOCAL, LOCAL)
    one = optimizer_time(replace(eng, split_multi_tensor_launch=False), HW, LOCAL, LOCAL)
    expected = (split_launch_slowdown() - 1.0) * 32.0 * LOCAL / STREAM
    assert split - one == pytest.approx(expected, rel=1e-6)
    # the whole pass at one launch: 24 + 4 + 4 (fused) + 6 + 4 (copy, zero) + 8 (buffer / dp)
    assert one == pytest.approx(50.0 * LOCAL / STREAM, rel=1e-6)


def test_fp16_unscale_is_a_multi_tensor_pass_too() -> None:
    """megatron-2021 (fp16): the 16-bit gradients copied to fp32 feed the norm, AdamW and the
    unscale (``torch._amp_foreach_non_finite_check_and_unscale_``), all multi-tensor."""
    eng = ENGINES["megatron-2021"]
    split = optimizer_time(eng, HW, LOCAL, LOCAL)
    one = optimizer_time(replace(eng, split_multi_tensor_launch=False), HW, LOCAL, LOCAL)
    fused_bytes = 24.0 + 2 * 4.0 + 2 * 4.0  # AdamW, clipping norm, unscale read + write
    expected = (split_launch_slowdown() - 1.0) * fused_bytes * LOCAL / STREAM
    assert split - one == pytest.approx(expected, rel=1e-6)


def test_torch_foreach_adamw_streams_every_kernel() -> None:
    """torchtitan: ``AdamW(foreach=True)`` on fp32 parameters, states and gradients is eight
    foreach kernels (80 B per parameter, against 28 B for one fused pass), and
    ``clip_grad_norm_`` reads the gradients for the norm and reads + writes them for the
    multiply (12 B); no 16-bit weight copy and no zeroing (``zero_grad`` sets ``None``)."""
    assert foreach_adamw_bytes(4.0) == 80.0 and foreach_clip_bytes(4.0) == 12.0
    titan = ENGINES["torchtitan"]
    assert titan.torch_foreach_adamw and titan.grad_bytes == 4
    t = optimizer_time(titan, HW, LOCAL, LOCAL)
    assert t == pytest.approx(92.0 * LOCAL / STREAM, rel=1e-6)
    # without the flag: the fused form (24 + 4 + 4) plus the 16-bit copy and zeroing (6 + 4)
    off = optimizer_time(replace(titan, torch_foreach_adamw=False), HW, LOCAL, LOCAL)
    assert off == pytest.approx(42.0 * LOCAL / STREAM, rel=1e-6)


def test_torch_foreach_adamw_is_on_the_torchtitan_presets_only() -> None:
    """Only torchtitan is read to build ``torch.optim.AdamW(foreach=True)``; the Megatron,
    llm-foundry and AutoModel presets keep their optimizer passes."""
    flagged = sorted(n for n, e in ENGINES.items() if e.torch_foreach_adamw)
    assert flagged == ["torchtitan", "torchtitan-compile"]
