"""FP8 training: the measured FP8 GEMM ceiling and Transformer Engine's FP8 traffic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import achievable_tflops, burst_gemm_fraction
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import ENGINES, Engine


def test_fp8_gemm_ceiling_is_measured_separately_from_bf16() -> None:
    """mamf-finder's v2 tables: H100 SXM reaches 70.9 % of its FP8 peak but 80.3 % of its
    BF16 peak, so a large FP8 GEMM runs 2 x 0.709 / 0.801 = 1.77x, not 2x, the BF16 one."""
    h100 = get_accelerator("H100-SXM")
    assert burst_gemm_fraction(h100, "fp8") == pytest.approx(0.709)
    assert burst_gemm_fraction(h100, "bf16") == pytest.approx(0.801)
    fp8 = achievable_tflops(h100, 8192, 8192, 8192, "fp8")
    bf16 = achievable_tflops(h100, 8192, 8192, 8192, "bf16")
    peaks = h100.peak_tflops("fp8") / h100.peak_tflops("bf16")  # 1979 / 989.4
    assert fp8 / bf16 == pytest.approx(peaks * 0.709 / 0.801, rel=1e-6)


def test_fp8_ceiling_falls_back_to_bf16_where_unmeasured() -> None:
    l40s = get_accelerator("L40S")
    assert burst_gemm_fraction(l40s, "fp8") == burst_gemm_fraction(l40s, "bf16")


def _tp_comm(precision: str, engine: Engine) -> float:
    r = evaluate_config(
        get_model("llama-3-70b"),
        "H100-SXM",
        seq=8192,
        global_batch=8,
        gpus=8,
        tp=8,
        micro_batch=1,
        precision=precision,
        engine=engine,
    )
    return float(r["time_s"]["tp_comm"])


def test_fp8_sequence_parallel_gathers_move_one_byte_per_element() -> None:
    """Per layer, sequence parallelism runs 4 gathers and 4 reduce-scatters of 2-byte
    activations plus 2 backward re-gathers; Transformer Engine's FP8 layers gather the 6
    gathers' tensors in FP8, so the bytes fall to (6 x 1 + 4 x 2) / (10 x 2) = 0.70 (the
    per-step NCCL latencies stay)."""
    modern = ENGINES["modern"]
    ratio = _tp_comm("fp8", modern) / _tp_comm("bf16", modern)
    assert 0.70 < ratio < 0.75  # 0.70 of the bytes; the latencies pull it up a little
    plain = replace(modern, fp8_gathers=False)
    assert _tp_comm("fp8", plain) == pytest.approx(_tp_comm("bf16", plain))
