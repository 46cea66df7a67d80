"""The MoE router GEMM stays 16-bit in FP8 runs (Megatron-Core ``router_gating_linear``)."""

from __future__ import annotations

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_gemms, layer_times, router_gemm
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single


def test_fp8_layer_times_the_router_in_bf16() -> None:
    """Forward GEMM time of an FP8 MoE layer: every GEMM at FP8 but the router, at BF16."""
    model = get_model("qwen3-30b-a3b")
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    eng = ENGINES["modern"]
    c = single(dp=1, tp=1, ep=8, precision="fp8")
    setup = Setup(seq=4096, global_batch=64, gpus=8, net_gbs_per_gpu=50.0, engine=eng)
    tok = 4096.0 * np.ones(1)
    router = router_gemm(model, c, tok, np.ones(1))
    gemms = layer_gemms(model, True, c, tok)
    assert any(all(np.array_equal(a, b) for a, b in zip(g, router, strict=True)) for g in gemms)
    fp8 = sum(hw.gemm_time(m, n, k, "fp8", cnt)[0] for m, n, k, cnt in gemms)
    m, n, k, cnt = router
    expected = fp8 + (hw.gemm_time(m, n, k, "bf16", cnt) - hw.gemm_time(m, n, k, "fp8", cnt))[0]
    got = layer_times(model, True, c, setup, hw)["gemm_f"][0]
    assert got == pytest.approx(expected)
    assert got > fp8
