"""Continuous batching at a request rate: Little's law, objectives, saturation."""

from __future__ import annotations

import pytest

from gpuwise.planner.models import get_model
from gpuwise.serving.batching import Slo, Workload, max_rate, saturation_rate, steady_state
from gpuwise.serving.hw import hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.timing import Deployment, decode_step

WL = Workload(1024, 256)


def _setup() -> tuple[Deployment, int]:
    m, hw = get_model("llama-3-8b"), hardware("H800")
    mf = memory_fit(m, hw.memory_bytes, 1, "bf16", "bf16", WL.prompt + WL.output)
    return Deployment(m, hw), mf.max_batch


def test_littles_law_holds_at_the_operating_point() -> None:
    dep, cap = _setup()
    op = steady_state(dep, WL, 5.0, cap)
    assert op is not None
    assert op.batch == pytest.approx(op.rate * WL.output * op.tpot_s, rel=1e-3)
    assert op.output_tokens_per_s == pytest.approx(op.rate * WL.output, rel=1e-3)
    assert op.ttft_p99_s >= op.ttft_p50_s


def test_latency_grows_with_load_and_overload_is_rejected() -> None:
    dep, cap = _setup()
    sat = saturation_rate(dep, WL, cap)
    lo, hi = steady_state(dep, WL, 0.2 * sat, cap), steady_state(dep, WL, 0.8 * sat, cap)
    assert lo is not None and hi is not None
    assert hi.tpot_s > lo.tpot_s and hi.ttft_p99_s > lo.ttft_p99_s
    assert steady_state(dep, WL, 1.2 * sat, cap) is None


def test_max_rate_meets_the_objectives_and_is_tight() -> None:
    dep, cap = _setup()
    slo = Slo(ttft_s=1.0, tpot_s=0.03)
    op = max_rate(dep, WL, slo, cap)
    assert op is not None and slo.met(op)
    over = steady_state(dep, WL, op.rate * 1.05, cap)
    assert over is None or not slo.met(over)


def test_impossible_objectives_give_none() -> None:
    dep, cap = _setup()
    idle_tpot = decode_step(dep, 1, WL.mean_context).total_s
    assert max_rate(dep, WL, Slo(tpot_s=idle_tpot * 0.5), cap) is None
