"""Decode time from a profile with decode-shaped measurements (gpuwise.serving.measured)."""

from __future__ import annotations

import pytest

from gpuwise.calibrate.decode_grid import decode_point
from gpuwise.calibrate.profile import DeviceProfile, GemmPoint
from gpuwise.planner.models import ModelConfig, get_model
from gpuwise.serving.constants import load_constants
from gpuwise.serving.hw import hardware_from_profile
from gpuwise.serving.measured import linear_shapes
from gpuwise.serving.timing import Deployment, decode_step, read_params

SMALL = ModelConfig(name="t", layers=4, hidden=1024, heads=16, kv_heads=4, ffn=2816,
                    ffn_type="swiglu", vocab=8192)
STREAM_GBS, GEMM8_TFLOPS = 10.0, 0.03


def _profile(decode: bool = True, **kw: object) -> DeviceProfile:
    """A device that streams weights at 10 GB/s whatever their shape; with 8 and 64 rows it
    computes at 30 GFLOP/s (so a batch of 8 is compute-bound); square GEMMs up to 0.1."""
    def seconds(m: int, n: int, k: int) -> float:
        stream = n * k * 4 / (STREAM_GBS * 1e9)
        return stream if m == 1 else max(stream, 2 * m * n * k / (GEMM8_TFLOPS * 1e12))

    grid = tuple(decode_point(m, n, k, "fp32", seconds(m, n, k))
                 for m in (1, 8, 64) for n in (1024, 4096) for k in (1024, 4096))
    square = tuple(GemmPoint(m=s, n=s, k=s, precision="fp32", tflops=t, seconds=2 * s**3 / t / 1e12)
                   for s, t in ((128, 0.05), (512, 0.1)))
    base: dict[str, object] = {
        "device": "cpu", "name": "CPU Test", "torch_version": "2.13.0", "threads": 1,
        "memory_gib": 16.0, "mem_bw_gbs": 25.0, "gemm": square,
        "decode_gemm": grid if decode else (), "dispatch_us": 4.0 if decode else None,
    }
    base.update(kw)
    return DeviceProfile.model_validate(base)


def _dep(prof: DeviceProfile, ops: int | None = 25) -> Deployment:
    return Deployment(SMALL, hardware_from_profile(prof), 1, "fp32", "fp32", "fp32",
                      ops_per_layer=ops)


def test_shapes_cover_every_linear_weight_once() -> None:
    for name in ("llama-2-7b", "llama-3-8b", "mpt-7b"):
        model = get_model(name)
        total = sum(n * k * c for n, k, c in linear_shapes(model, 1, 1))
        assert total == pytest.approx(read_params(model, 1), rel=1e-3)  # biases/norms aside
        halves = sum(n * k * c for n, k, c in linear_shapes(model, 2, 1))
        assert halves == pytest.approx(total / 2, rel=0.01)


def test_moe_shapes_touch_expected_experts() -> None:
    model = get_model("mixtral-8x7b")
    one = sum(n * k * c for n, k, c in linear_shapes(model, 1, 1))
    many = sum(n * k * c for n, k, c in linear_shapes(model, 1, 64))
    assert one == pytest.approx(read_params(model, 1), rel=1e-3)
    assert many == pytest.approx(read_params(model, 64), rel=1e-3) and many > one


def test_batch1_is_weights_over_gemv_bandwidth_plus_ops() -> None:
    context = 100.0
    st = decode_step(_dep(_profile()), 1, context)
    weights = sum(n * k * c for n, k, c in linear_shapes(SMALL, 1, 1)) * 4
    kv = context * SMALL.layers * 2 * SMALL.kv * SMALL.hd * 4
    assert st.memory_s == pytest.approx((weights + kv) / (STREAM_GBS * 1e9))
    assert st.overhead_s == pytest.approx((25 * SMALL.layers + 3) * 4.0e-6)


def test_batch8_runs_at_the_measured_8_row_rate() -> None:
    st = decode_step(_dep(_profile()), 8, 100.0)
    linear_flops = 2 * 8 * sum(n * k * c for n, k, c in linear_shapes(SMALL, 1, 8))
    # attention: a (heads/kv = 4 rows, context, head_dim) GEMM per sequence and KV head, at
    # the rate geometrically 2/3 of the way from 1 row (streaming: 2 flops / 4 bytes) to 8
    attn_flops = 4 * 8 * 100 * SMALL.layers * SMALL.heads * SMALL.hd
    rate4 = (STREAM_GBS * 1e9 / 2) ** (1 / 3) * (GEMM8_TFLOPS * 1e12) ** (2 / 3)
    assert st.bound == "compute"
    assert st.compute_s == pytest.approx(linear_flops / (GEMM8_TFLOPS * 1e12)
                                         + attn_flops / rate4)


def test_ops_default_to_the_fused_kernel_count() -> None:
    st = decode_step(_dep(_profile(), ops=None), 1, 10.0)
    assert st.overhead_s == pytest.approx((load_constants().kernels_per_layer * 4 + 3) * 4e-6)


def test_gemm_rate_above_the_grid_blends_into_square_gemms() -> None:
    hw = hardware_from_profile(_profile())
    assert hw.decode_measured
    assert hw.gemm_tflops(8, 4096, 4096, "fp32") == pytest.approx(GEMM8_TFLOPS)
    r64, r128 = hw.gemm_tflops(64, 4096, 4096, "fp32"), hw.gemm_tflops(128, 4096, 4096, "fp32")
    assert r64 == pytest.approx(GEMM8_TFLOPS) and r128 == pytest.approx(0.05)
    assert r64 < hw.gemm_tflops(90, 4096, 4096, "fp32") < r128
    assert hw.gemm_tflops(4096, 4096, 4096, "fp32") == pytest.approx(0.1)


def test_profile_without_decode_fields_keeps_the_old_model() -> None:
    old = _profile(decode=False)
    hw = hardware_from_profile(old)
    assert not hw.decode_measured
    assert hw.weight_stream_gbs(1024, 1024) == hw.mem_bw_gbs() == 25.0
    assert hw.op_overhead_us() == load_constants().kernel_overhead_us
    st = decode_step(_dep(old, ops=None), 1, 100.0)
    assert st.memory_s == pytest.approx(
        (read_params(SMALL, 1) * 4 + 100 * SMALL.layers * 2 * SMALL.kv * SMALL.hd * 4) / 25e9)
