"""The flash-attention core's rate from published kernel timings (``planner.flash_rate``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.flash_rate import (
    AMPERE_KERNEL_ON_HOPPER,
    FA1_FWD_BWD_64,
    FA2_FWD,
    FA2_FWD_BWD,
    HOPPER_NATIVE_SPEEDUP,
    SEQS,
    backward_rate,
    flash_tflops,
    peak_fraction,
)
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

A100 = get_accelerator("A100-80GB")
H100 = get_accelerator("H100-SXM")


def _bench(acc: Any, d: int, direction: str, gen: int = 2, native: bool = False) -> np.ndarray:
    """The model's TFLOP/s in Dao 2023's benchmark: 16k tokens, hidden 2048."""
    heads = 16384 / SEQS * (2048 / d)
    return flash_tflops(acc, SEQS, SEQS, d, heads, direction, gen, native)


@pytest.mark.parametrize("d", [64, 128])
def test_a100_reproduces_the_published_kernel_rates(d: int) -> None:
    fwd, bwd = _bench(A100, d, "fwd"), _bench(A100, d, "bwd")
    assert fwd == pytest.approx(FA2_FWD[d], rel=0.01)
    # forward + backward: 3.5x the forward FLOPs in the time of both
    assert 3.5 / (1 / fwd + 2.5 / bwd) == pytest.approx(FA2_FWD_BWD[d], rel=0.01)


def test_backward_rate_inverts_the_combined_rate() -> None:
    fwd, bwd = np.array([180.0]), np.array([150.0])
    combined = 3.5 / (1 / fwd + 2.5 / bwd)
    assert backward_rate(fwd, combined) == pytest.approx(bwd)


def test_first_generation_runs_at_the_first_flash_attention_rate() -> None:
    fwd, bwd = _bench(A100, 64, "fwd", gen=1), _bench(A100, 64, "bwd", gen=1)
    assert 3.5 / (1 / fwd + 2.5 / bwd) == pytest.approx(FA1_FWD_BWD_64, rel=0.01)


def test_interpolation_between_head_dims_and_lengths() -> None:
    mid = peak_fraction(np.array([2048.0]), 96, "fwd")[0] * 312
    assert mid == pytest.approx((FA2_FWD[64][2] + FA2_FWD[128][2]) / 2)
    # held outside the measured range
    assert peak_fraction(np.array([65536.0]), 128, "fwd")[0] * 312 == pytest.approx(197.0)
    assert peak_fraction(np.array([128.0]), 256, "fwd")[0] * 312 == pytest.approx(132.0)
    between = peak_fraction(np.array([2896.3]), 128, "fwd")[0] * 312
    assert FA2_FWD[128][2] < between < FA2_FWD[128][3]


def test_ampere_kernels_on_hopper_keep_half_their_peak_fraction() -> None:
    """FlashAttention-2 on H100 at its best: 335 TFLOP/s forward + backward (Dao 2023 Fig. 7)
    against 203 on A100; the Hopper-native kernel is 1.5-2x faster."""
    assert AMPERE_KERNEL_ON_HOPPER == pytest.approx(0.52, abs=0.005)
    clock = 0.68 / 0.795  # sustained large-GEMM fractions of peak, H100 / A100
    ratio = _bench(H100, 128, "fwd") / _bench(A100, 128, "fwd")
    assert ratio == pytest.approx(335 / 203 * clock / (0.801 / 0.859), rel=0.02)
    native = _bench(H100, 128, "bwd", native=True) / _bench(H100, 128, "bwd")
    assert native == pytest.approx(HOPPER_NATIVE_SPEEDUP["bwd"])
    # the first generation has no Hopper-native kernel
    assert _bench(H100, 64, "fwd", 1, True) == pytest.approx(_bench(H100, 64, "fwd", 1))


def test_a_partial_wave_idles_sms() -> None:
    one = flash_tflops(A100, np.array([128.0]), np.array([128.0]), 128, np.array([108.0]), "fwd")
    two = flash_tflops(A100, np.array([128.0]), np.array([128.0]), 128, np.array([109.0]), "fwd")
    assert two[0] == pytest.approx(one[0] * 109 / 216)


def test_time_model_charges_the_first_generation_at_its_measured_rate() -> None:
    """Same run, FlashAttention-2 engine vs llm-foundry's first-generation kernel: the attention
    core's time differs by the published FA2 / FA1 ratio at 16k tokens (171 / 97)."""
    model = get_model("mpt-7b")
    c = single(8, 1, 1, 1, 1, 1, 3, "none", 1, "bf16")
    hw = Hardware.from_catalog(A100)
    core = {}
    for name in ("fsdp", "llm-foundry-2023"):
        setup = Setup(16384, 8, 8, 8, 25.0, 0.05, ENGINES[name], None)
        lt = layer_times(model, False, c, setup, hw)
        core[name] = float(lt["attn_f"][0] + lt["attn_b"][0])
    ratio = core["llm-foundry-2023"] / core["fsdp"]
    assert ratio == pytest.approx(FA2_FWD_BWD[64][-1] / FA1_FWD_BWD_64[-1], rel=1e-6)
