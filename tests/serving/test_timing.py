"""Step-time model: roofline regimes, monotonicity, tensor-parallel communication."""

from __future__ import annotations

import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import get_model
from gpuwise.serving.hw import hardware
from gpuwise.serving.timing import Deployment, allreduce_s, decode_step, prefill


def test_decode_memory_bound_small_batch_compute_bound_large_batch() -> None:
    dep = Deployment(get_model("llama-3-8b"), hardware("H800"))
    assert decode_step(dep, 1, 512).bound == "memory"
    assert decode_step(dep, 1024, 16).bound == "compute"


def test_decode_throughput_grows_with_batch_and_step_time_too() -> None:
    dep = Deployment(get_model("llama-2-7b"), hardware("A100-80GB"))
    prev_t, prev_tps = 0.0, 0.0
    for b in (1, 2, 4, 8, 16, 32, 64, 128):
        t = decode_step(dep, b, 1024).total_s
        assert t >= prev_t
        assert b / t > prev_tps
        prev_t, prev_tps = t, b / t


def test_prefill_is_compute_bound_and_scales_with_prompt() -> None:
    dep = Deployment(get_model("llama-2-7b"), hardware("A100-80GB"))
    p1 = prefill(dep, 1, 1024)
    assert p1.bound == "compute"
    assert prefill(dep, 1, 4096).total_s > 3.5 * p1.compute_s


def test_quantized_weights_decode_faster_at_batch_1() -> None:
    m, hw = get_model("llama-2-70b"), hardware("H800")
    t = {p: decode_step(Deployment(m, hw, 4, p), 1, 512).total_s for p in ("bf16", "int8", "int4")}
    assert t["bf16"] > t["int8"] > t["int4"]


def test_allreduce_zero_at_tp1_and_slower_on_pcie() -> None:
    nv, pcie = hardware("H800"), hardware("L20")
    assert allreduce_s(nv, 1e6, 1) == 0.0
    assert allreduce_s(pcie, 1e6, 8) > allreduce_s(nv, 1e6, 8)
    assert allreduce_s(pcie, 1e6, 8) > allreduce_s(pcie, 1e6, 2)


def test_tp_must_divide_heads() -> None:
    with pytest.raises(GpuwiseError, match="divides"):
        Deployment(get_model("llama-2-7b"), hardware("H800"), tp=3)


def test_fp8_prefill_gemms_use_the_measured_fp8_ceiling() -> None:
    # H100's FP8 GEMMs reach a lower fraction of their (2x) peak than BF16 GEMMs do (the
    # planner's mamf_fraction_fp8): an FP8 GEMM is faster than BF16, but less than 2x
    hw = hardware("H100-SXM")
    fp8 = hw.gemm_tflops(4096, 8192, 8192, "fp8")
    bf16 = hw.gemm_tflops(4096, 8192, 8192, "bf16")
    assert 1.5 < fp8 / bf16 < 1.9
