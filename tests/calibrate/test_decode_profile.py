"""Decode-shaped profile fields: old profiles still load, the m x n x k grid interpolates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gpuwise.calibrate.decode_grid import (
    DecodeGemmPoint,
    decode_point,
    grid_problem,
    interp_grid,
)
from gpuwise.calibrate.profile import DeviceProfile, GemmPoint
from gpuwise.errors import GpuwiseError

OLD = Path(__file__).resolve().parents[1] / "data" / "calibrate" / "cpu_profile_pre_decode.json"
ROWS, WIDTHS = (1, 8, 64), (1024, 4096)


def power_law(m: int, n: int, k: int) -> float:
    """Seconds of a synthetic device whose decode time is a product of powers of m, n, k."""
    return 1e-6 * m**0.5 * n**0.9 * k**0.8


def _grid() -> tuple[DecodeGemmPoint, ...]:
    return tuple(decode_point(m, n, k, "fp32", power_law(m, n, k))
                 for m in ROWS for n in WIDTHS for k in WIDTHS)


def _profile(**kw: object) -> DeviceProfile:
    base: dict[str, object] = {
        "device": "cpu", "name": "CPU Test", "torch_version": "2.13.0", "threads": 1,
        "memory_gib": 16.0, "mem_bw_gbs": 25.0,
        "gemm": (GemmPoint(m=512, n=512, k=512, precision="fp32", tflops=0.09,
                           seconds=2 * 512**3 / 0.09e12),),
    }
    base.update(kw)
    return DeviceProfile.model_validate(base)


def test_old_format_profile_loads_with_fallbacks() -> None:
    raw = json.loads(OLD.read_text())
    assert "decode_gemm" not in raw and "dispatch_us" not in raw  # really the old format
    prof = DeviceProfile.load(OLD)
    assert prof.decode_gemm == () and prof.decode_precisions == ()
    assert prof.gemv_gbs is None and prof.dispatch_us is None
    assert prof.decode_max_rows("fp32") == 0
    assert prof.weight_stream_gbs(4096, 4096) == prof.mem_bw_gbs  # STREAM is all it has
    with pytest.raises(GpuwiseError, match="no decode GEMM measurements"):
        prof.decode_tflops_at(1, 4096, 4096, "fp32")


def test_stream_fallback_order() -> None:
    assert _profile().weight_stream_gbs(1024, 1024) == 25.0
    assert _profile(gemv_gbs=12.0).weight_stream_gbs(1024, 1024) == 12.0
    grid = _profile(gemv_gbs=12.0, decode_gemm=_grid())
    pt = next(g for g in grid.decode_gemm if (g.m, g.n, g.k) == (1, 1024, 4096))
    assert grid.weight_stream_gbs(1024, 4096) == pytest.approx(pt.weight_gbs)


def test_decode_point_rates_follow_from_the_time() -> None:
    p = decode_point(8, 4096, 1024, "bf16", 2e-3)
    assert p.tflops == pytest.approx(2 * 8 * 4096 * 1024 / 2e-3 / 1e12)
    assert p.weight_gbs == pytest.approx(4096 * 1024 * 2 / 2e-3 / 1e9)


def test_round_trip_keeps_decode_fields(tmp_path: Path) -> None:
    prof = _profile(decode_gemm=_grid(), gemv_gbs=15.0, dispatch_us=3.0,
                    dispatch_detail={"add": 1.0, "attention": 5.0})
    prof.save(tmp_path / "p.json")
    assert DeviceProfile.load(tmp_path / "p.json") == prof


def test_grid_interpolation_hits_points_and_is_exact_for_power_laws() -> None:
    prof = _profile(decode_gemm=_grid())
    for g in prof.decode_gemm:
        assert prof.decode_tflops_at(g.m, g.n, g.k, "fp32") == pytest.approx(g.tflops)
    # log-linear in each axis reproduces a product of powers anywhere inside the grid
    for m, n, k in ((3, 2000, 1500), (20, 1100, 3900), (64, 2896, 1024)):
        want = 2 * m * n * k / power_law(m, n, k) / 1e12
        assert prof.decode_tflops_at(m, n, k, "fp32") == pytest.approx(want)
        pts = prof.decode_gemm
        assert interp_grid(pts, m, n, k, "seconds") == pytest.approx(power_law(m, n, k))


def test_grid_interpolation_is_clamped_outside() -> None:
    prof = _profile(decode_gemm=_grid())
    edge = prof.decode_tflops_at(64, 4096, 1024, "fp32")
    assert prof.decode_tflops_at(512, 16384, 256, "fp32") == pytest.approx(edge)
    assert prof.decode_max_rows("fp32") == 64


def test_incomplete_grid_is_rejected_on_load(tmp_path: Path) -> None:
    raw = json.loads(_profile(decode_gemm=_grid()).model_dump_json())
    raw["decode_gemm"] = raw["decode_gemm"][:-1]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(GpuwiseError, match="not a full m x n x k grid.*m=64 n=4096 k=4096"):
        DeviceProfile.load(path)
    pts = _grid()
    assert grid_problem(pts) is None
    assert "twice" in (grid_problem((*pts, pts[0])) or "")


def test_interp_rejects_bad_dimensions() -> None:
    with pytest.raises(GpuwiseError, match="positive"):
        interp_grid(_grid(), 0, 1024, 1024)
    with pytest.raises(GpuwiseError, match="no decode"):
        interp_grid((), 1, 1024, 1024)
    assert math.isfinite(interp_grid(_grid(), 1, 1, 1))
