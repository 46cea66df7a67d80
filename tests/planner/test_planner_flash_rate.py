"""The flash-attention core's rate from published kernel timings (``planner.flash_rate``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.flash_rate import (
    AMPERE_KERNEL_ON_HOPPER,
    CUDNN_H100,
    CUDNN_HOPPER,
    FA1_FWD_BWD_64,
    FA2_FWD,
    FA2_FWD_BWD,
    H100_SEQS,
    HOPPER_SEQS,
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
H200 = get_accelerator("H200")
RATES = Path(__file__).parents[1] / "data" / "planner" / "hopper_attention_rates.csv"



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
    against 203 on A100."""
    assert AMPERE_KERNEL_ON_HOPPER == pytest.approx(0.52, abs=0.005)
    clock = 0.68 / 0.795  # sustained large-GEMM fractions of peak, H100 / A100
    ratio = _bench(H100, 128, "fwd") / _bench(A100, 128, "fwd")
    assert ratio == pytest.approx(335 / 203 * clock / (0.801 / 0.859), rel=0.02)
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


def _cudnn(acc: Any, seq: np.ndarray, d: float, heads: float, direction: str) -> np.ndarray:
    """The model's Hopper-native (cuDNN) TFLOP/s, square causal attention."""
    h = heads * np.ones(len(seq))
    return flash_tflops(acc, seq, seq, d, h, direction, 2, True)


def _rows(source: str, direction: str) -> list[dict[str, str]]:
    with RATES.open() as f:
        rows = csv.DictReader(f)
        return [r for r in rows if r["source"] == source and r["direction"] == direction]


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_hopper_native_constants_are_the_published_rates(direction: str) -> None:
    sweep = _rows("cudnn-frontend-h200-919-llama", direction)
    assert [float(r["seq"]) for r in sweep] == list(HOPPER_SEQS)
    assert [float(r["tflops"]) for r in sweep] == list(CUDNN_HOPPER[direction])
    assert {(r["gpu"], r["kernel"], r["causal"], r["head_dim_qk"]) for r in sweep} == {
        ("H200", "cudnn", "yes", "128")
    }
    table9 = _rows("mcore-moe-report-table9", direction)
    assert [float(r["seq"]) for r in table9] == list(H100_SEQS)
    assert [float(r["tflops"]) for r in table9] == list(CUDNN_H100[direction])
    assert {r["gpu"] for r in table9} == {"H100-SXM"}


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_hopper_native_reproduces_cudnn_on_h100(direction: str) -> None:
    """Megatron-Core MoE report Table 9 (cuDNN, H100, 4k and 16k tokens): read back within the
    wave losses; the former FlashAttention-3 speed-up over the A100 FlashAttention-2 shape gave
    524/405 at 4k and 522/457 at 16k (0.82-0.96 of the published rates)."""
    got = _cudnn(H100, H100_SEQS, 128, 128, direction)
    assert got == pytest.approx(CUDNN_H100[direction], rel=0.005)


def test_hopper_native_rate_rises_with_length_as_measured() -> None:
    """The published rate grows from 4k to 16k tokens (Table 9: +15 % forward, +24 % backward);
    FlashAttention-2's A100 shape, which the former constant speed-up kept, is flat there."""
    seq = np.array([4096.0, 16384.0])
    fwd, bwd = _cudnn(H100, seq, 128, 64, "fwd"), _cudnn(H100, seq, 128, 64, "bwd")
    assert fwd[1] / fwd[0] == pytest.approx(638 / 553, rel=2e-3)
    assert bwd[1] / bwd[0] == pytest.approx(523 / 422, rel=2e-3)


def test_hopper_native_length_shape_outside_table9_follows_the_h200_sweep() -> None:
    """Below 4k and above 16k: cuDNN's H200 sweep relative to its rate at the nearer Table 9
    length (2k: 484/591 forward; 32k: 581/579 backward), held past 32k."""
    two, four = _cudnn(H100, np.array([2048.0, 4096.0]), 128, 128, "fwd")
    assert two / four == pytest.approx(484 / 591, rel=0.01)
    long = _cudnn(H100, np.array([32768.0, 131072.0]), 128, 128, "bwd")
    assert long == pytest.approx(523 * 581 / 579 * np.ones(2), rel=0.005)
    # the H200 is the same die: the same modelled rate
    assert _cudnn(H200, HOPPER_SEQS, 128, 64, "fwd") == pytest.approx(
        _cudnn(H100, HOPPER_SEQS, 128, 64, "fwd")
    )


def test_hopper_native_head_dims() -> None:
    """Above 128 the head-dimension-128 rate (cuDNN's 192/128 forward on the H200 is within 1 %
    of its 128); below it FlashAttention-2's measured A100 ratio to head dimension 128."""
    seq = np.array([8192.0])
    assert _cudnn(H100, seq, 192, 64, "fwd") == pytest.approx(_cudnn(H100, seq, 128, 64, "fwd"))
    ratio = _cudnn(H100, seq, 64, 64, "bwd")[0] / _cudnn(H100, seq, 128, 64, "bwd")[0]
    a100 = peak_fraction(seq, 64, "bwd")[0] / peak_fraction(seq, 128, "bwd")[0]
    assert ratio == pytest.approx(a100)
    # chips outside Hopper keep the FlashAttention-2 model with the flag on
    assert _bench(A100, 128, "fwd", native=True) == pytest.approx(_bench(A100, 128, "fwd"))
