"""DeviceProfile: persistence, GEMM interpolation, the bridge to the catalog."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gpuwise.calibrate.profile import AttentionPoint, DeviceProfile, GemmPoint
from gpuwise.catalog import get_accelerator
from gpuwise.errors import GpuwiseError


def _gemm(n: int, prec: str, tflops: float) -> GemmPoint:
    return GemmPoint(m=n, n=n, k=n, precision=prec, tflops=tflops, seconds=2 * n**3 / tflops / 1e12)


def _attn(seq: int, d: int, fwd: float, bwd: float) -> AttentionPoint:
    return AttentionPoint(batch=1, heads=8, seq=seq, head_dim=d, precision="bf16",
                          fwd_tflops=fwd, bwd_tflops=bwd)


def _profile(**kw: object) -> DeviceProfile:
    gemm = (_gemm(64, "fp32", 0.01), _gemm(256, "fp32", 0.04), _gemm(1024, "fp32", 0.08),
            _gemm(256, "bf16", 0.2))
    base: dict[str, object] = {
        "device": "cpu", "name": "CPU Test", "torch_version": "2.13.0", "threads": 1,
        "memory_gib": 16.0, "gemm": gemm, "mem_bw_gbs": 20.0,
        "mem_bw_detail": {"copy": 20.0, "triad": 18.0}, "allreduce_gbs": 2.5,
        "attention": (_attn(256, 64, 0.02, 0.01), _attn(1024, 64, 0.08, 0.04),
                      _attn(1024, 128, 0.1, 0.05)),
    }
    base.update(kw)
    return DeviceProfile.model_validate(base)


def test_round_trip(tmp_path: Path) -> None:
    p = _profile()
    path = tmp_path / "profile.json"
    p.save(path)
    assert DeviceProfile.load(path) == p


def test_interpolation_hits_measured_points_and_is_geometric_between() -> None:
    p = _profile()
    assert p.gemm_tflops_at(256, 256, 256, "fp32") == pytest.approx(0.04)
    # halfway between 256^3 and 1024^3 in log(mnk) is 512^3: geometric mean of the rates
    assert p.gemm_tflops_at(512, 512, 512, "fp32") == pytest.approx(math.sqrt(0.04 * 0.08))
    # a non-square GEMM with the same work as 512^3 gets the same rate
    assert p.gemm_tflops_at(2048, 512, 128, "fp32") == pytest.approx(math.sqrt(0.04 * 0.08))
    # clamped outside the measured range
    assert p.gemm_tflops_at(8, 8, 8, "fp32") == pytest.approx(0.01)
    assert p.gemm_tflops_at(8192, 8192, 8192, "fp32") == pytest.approx(0.08)
    # monotone between monotone measurements
    rates = [p.gemm_tflops_at(n, n, n, "fp32") for n in (64, 100, 200, 300, 700, 1024)]
    assert rates == sorted(rates)


def test_unmeasured_precision_is_a_clear_error() -> None:
    with pytest.raises(GpuwiseError, match="fp16.*not measured.*fp32, bf16"):
        _profile().gemm_tflops_at(128, 128, 128, "fp16")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"schema_version": 99}', "schema_version 99"),
        ('{"device": "tpu"}', "device"),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(GpuwiseError, match=match):
        DeviceProfile.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GpuwiseError, match="gpuwise calibrate"):
        DeviceProfile.load(tmp_path / "nope.json")


def test_negative_rates_are_rejected(tmp_path: Path) -> None:
    raw = json.loads(_profile().model_dump_json())
    raw["gemm"][0]["tflops"] = -1
    path = tmp_path / "neg.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(GpuwiseError, match=r"gemm\.0\.tflops"):
        DeviceProfile.load(path)


def test_to_accelerator_uses_measured_bests() -> None:
    p = _profile()
    acc = p.to_accelerator()
    assert acc.fp32_tflops == pytest.approx(0.08)
    assert acc.bf16_tflops == pytest.approx(0.2)
    assert acc.fp16_tflops == pytest.approx(0.2)  # not measured: best half precision
    assert acc.mem_bw_gbs == pytest.approx(20.0)
    assert acc.interconnect_gbs == pytest.approx(2.5)
    assert acc.memory_gib == pytest.approx(16.0)
    assert "placeholder" in acc.notes


def test_to_accelerator_takes_unmeasured_fields_from_the_catalog() -> None:
    base = get_accelerator("H100-SXM")
    acc = _profile(device="cuda", name="NVIDIA H100 80GB HBM3").to_accelerator(base)
    assert acc.fp8_tflops == base.fp8_tflops
    assert acc.tdp_w == base.tdp_w
    assert acc.bf16_tflops == pytest.approx(0.2)
    assert acc.source_of("bf16_tflops") is not None
    assert "gpuwise calibrate" in (acc.source_of("bf16_tflops") or "")
    assert acc.source_of("fp8_tflops") == base.source_of("fp8_tflops")


def test_attention_rate_uses_nearest_head_dim_and_log_seq() -> None:
    p = _profile()
    assert p.attention_tflops_at(1024, 128) == pytest.approx(0.1)
    assert p.attention_tflops_at(1024, 120, "bwd") == pytest.approx(0.05)  # nearest: 128
    assert p.attention_tflops_at(512, 64) == pytest.approx(math.sqrt(0.02 * 0.08))
    assert p.attention_tflops_at(64, 64, "bwd") == pytest.approx(0.01)  # clamped
    with pytest.raises(GpuwiseError, match="fwd or bwd"):
        p.attention_tflops_at(512, 64, "sideways")
    with pytest.raises(GpuwiseError, match="no attention measurements"):
        _profile(attention=()).attention_tflops_at(512, 64)
