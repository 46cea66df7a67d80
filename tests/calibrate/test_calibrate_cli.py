"""`gpuwise calibrate` on this machine's CPU (quick mode), and running without PyTorch."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpuwise.calibrate.collective import busbw_gbs
from gpuwise.calibrate.decode_bench import DECODE_ROWS, DISPATCH_MIX
from gpuwise.calibrate.profile import DeviceProfile


def test_quick_calibration_writes_a_usable_profile(cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    res = cli("calibrate", "--quick", "--device", "cpu", "--out", str(out), "--json")
    assert res.code == 0, res.err
    data = res.json()
    prof = DeviceProfile.load(out)
    assert data["name"] == prof.name
    assert prof.device == "cpu" and prof.quick and prof.threads == 1
    assert "fp32" in prof.precisions
    sizes = sorted({g.n for g in prof.gemm if g.precision == "fp32"})
    assert len(sizes) >= 3
    for g in prof.gemm:  # each point is consistent with its own timing
        assert g.tflops == pytest.approx(2 * g.m * g.n * g.k / g.seconds / 1e12)
    assert prof.mem_bw_gbs == max(prof.mem_bw_detail.values()) > 0
    # gloo all-reduce between two local processes
    assert prof.backend == "gloo"
    assert prof.allreduce_gbs is not None and prof.allreduce_gbs > 0
    assert {c.world for c in prof.collectives} == {2}
    acc = prof.to_accelerator()
    assert acc.fp32_tflops == prof.peak_tflops("fp32")
    # elementwise kernels and the attention core, in the training precision
    assert prof.elementwise_precision in prof.precisions
    assert set(prof.elementwise_detail) >= {"add", "gelu", "softmax", "layer_norm", "dropout"}
    assert prof.elementwise_gbs is not None
    mix = [v for k, v in prof.elementwise_detail.items() if k != "dropout"]
    assert min(mix) <= prof.elementwise_gbs <= max(mix)
    assert prof.attention and all(a.fwd_tflops > 0 and a.bwd_tflops > 0 for a in prof.attention)
    assert prof.attention_tflops_at(512, 64) > 0
    # decode-shaped: a full m x n x k grid, the GEMV bandwidth, the per-op dispatch cost
    assert prof.decode_precisions == ("fp32",)
    assert {g.m for g in prof.decode_gemm} == set(DECODE_ROWS)
    widest = max(g.n for g in prof.decode_gemm)
    gemv = next(g for g in prof.decode_gemm if g.m == 1 and g.n == g.k == widest)
    assert prof.gemv_gbs == gemv.weight_gbs
    assert gemv.weight_gbs == pytest.approx(gemv.n * gemv.k * 4 / gemv.seconds / 1e9)
    assert set(prof.dispatch_detail) == set(DISPATCH_MIX)
    assert prof.dispatch_us == pytest.approx(statistics.mean(prof.dispatch_detail.values()))


def test_human_output_names_every_measurement(cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = cli("calibrate", "--quick", "--device", "cpu", "--no-collectives", "-o", str(out))
    assert res.code == 0, res.err
    for word in ("gemm", "fp32", "memory", "GB/s", "decode", "dispatch", str(out)):
        assert word in res.out
    assert DeviceProfile.load(out).allreduce_gbs is None


def test_bad_device_is_one_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    res = cli("calibrate", "--quick", "--device", "tpu", "--out", str(tmp_path / "p.json"))
    assert res.code == 2
    assert res.err.startswith("error: --device")
    assert "Traceback" not in res.err


def test_busbw_follows_nccl_tests() -> None:
    # 2 ranks: factor 2(n-1)/n = 1; 8 ranks: 1.75
    assert busbw_gbs(10**9, 2, 1.0) == pytest.approx(1.0)
    assert busbw_gbs(10**9, 8, 0.5) == pytest.approx(3.5)


def test_missing_torch_gives_the_install_hint(cli: Callable[..., Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    res = cli("calibrate", "--quick")
    assert res.code == 2
    assert "pip install 'gpuwise[calibrate]'" in res.err


def test_gpuwise_imports_without_torch() -> None:
    code = (
        "import sys\n"
        "import gpuwise.calibrate, gpuwise.calibrate.profile, gpuwise.launch.emit\n"
        "import gpuwise.cli.calibrate\n"
        "assert 'torch' not in sys.modules, 'torch imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_without_a_gpu_is_one_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # on a GPU machine this is a real calibration, not an error
        return
    res = cli("calibrate", "--quick", "--device", "cuda", "--out", str(tmp_path / "p.json"))
    assert res.code == 2 and "no CUDA device" in res.err
