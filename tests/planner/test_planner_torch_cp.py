"""PyTorch's experimental context parallelism as torchtitan runs it (``Engine.torch_cp``,
planner.torch_cp): K/V at the query heads, an all-gather hidden by step 0 only, the fp32 dK/dV
exchanges, and the fp32 merge / accumulation passes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.collectives import link, ring_gather
from gpuwise.planner.cp_comm import cp_comm_times, local_kv_bytes
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Candidates, Setup, single
from gpuwise.planner.torch_cp import (
    ACCUM_EDGE_BYTES,
    ACCUM_STEP_BYTES,
    KV_COPY_BYTES,
    MERGE_EDGE_BYTES,
    MERGE_STEP_BYTES,
    pass_bytes,
    torch_cp_comm_times,
    torch_cp_kv_bytes,
)

TITAN = ENGINES["torchtitan-compile"]
MODEL = get_model("llama-3-8b")
SEQ = 262144


def _setup(cp: int, engine: Engine = TITAN) -> tuple[Setup, Candidates, Hardware]:
    """torchtitan's Table 2 layout: 8 GPUs, FSDP x CP, local batch 1."""
    setup = Setup(SEQ, 8 // cp, 8, 8, 50.0, 0.05, engine)
    c = single(dp=8 // cp, tp=1, pp=1, vpp=1, cp=cp, zero=3)
    return setup, c, Hardware.from_catalog(get_accelerator("H100-SXM"))


def test_presets() -> None:
    assert ENGINES["torchtitan"].torch_cp and ENGINES["torchtitan-compile"].torch_cp
    assert not ENGINES["modern"].torch_cp


def test_kv_travels_at_the_query_head_count() -> None:
    """repeat_kv runs before SDPA: Llama 3 8B's 32 query heads, not its 8 key/value heads."""
    setup, c, _ = _setup(8)
    ratio = torch_cp_kv_bytes(MODEL, c, setup)[0] / local_kv_bytes(MODEL, c, setup)[0]
    assert ratio == pytest.approx(MODEL.heads / MODEL.kv) and ratio == pytest.approx(4.0)


@pytest.mark.parametrize("compiled", [False, True])
def test_pass_bytes_count_the_steps(compiled: bool) -> None:
    mode = "compiled" if compiled else "eager"
    f, b = pass_bytes(np.array([1.0, 1.0, 1.0]), np.array([1, 2, 8]), compiled)
    assert f[0] == b[0] == 0.0  # no CP, no ring
    assert f[2] == pytest.approx(7 * MERGE_STEP_BYTES[mode] + MERGE_EDGE_BYTES[mode] + 8 * 8.0)
    assert b[2] == pytest.approx(8 * ACCUM_STEP_BYTES[mode] + ACCUM_EDGE_BYTES[mode] + 64.0)
    assert f[2] - f[1] == pytest.approx(6 * (MERGE_STEP_BYTES[mode] + KV_COPY_BYTES))


def test_compiled_passes_stream_less_than_eager() -> None:
    cp = np.array([4])
    assert (pass_bytes(np.ones(1), cp, True)[0] < pass_bytes(np.ones(1), cp, False)[0]).all()
    assert (pass_bytes(np.ones(1), cp, True)[1] < pass_bytes(np.ones(1), cp, False)[1]).all()


def test_allgather_hides_under_step_zero_only() -> None:
    """A core four times the all-gather hides the planner's ring entirely, but at CP 8 step 0
    carries an eighth of it: half the gather shows."""
    setup, c, hw = _setup(8)
    kv = torch_cp_kv_bytes(MODEL, c, setup)
    gbw, glat = link(hw, setup, c.tp * c.cp, c.tp, gather=True)
    gather = ring_gather(8 * kv, c.cp, gbw, glat)
    core = 4.0 * gather
    fwd, _ = torch_cp_comm_times(hw, setup, c, kv, core, np.array([1e3]))
    assert fwd[0] == pytest.approx(gather[0] / 2.0)
    ring_f, _ = cp_comm_times(hw, setup, c, kv, core, core)
    assert ring_f[0] == 0.0


def test_last_dkv_exchange_is_exposed_under_any_core() -> None:
    setup, c, hw = _setup(4)
    kv = torch_cp_kv_bytes(MODEL, c, setup)
    bw, lat = link(hw, setup, c.tp * c.cp, c.tp)
    big = np.array([1e3])
    fwd, bwd = torch_cp_comm_times(hw, setup, c, kv, big, big)
    assert fwd[0] == 0.0
    assert bwd[0] == pytest.approx(2.0 * kv[0] / (bw[0] * 1e9) + lat[0])  # fp32 dK, dV


def test_layer_times_charge_torch_cp_only_under_cp() -> None:
    without = replace(TITAN, name="titan-ring", torch_cp=False)
    for cp in (1, 8):
        setup, c, hw = _setup(cp)
        on = layer_times(MODEL, False, c, setup, hw)
        off = layer_times(MODEL, False, c, _setup(cp, without)[0], hw)
        if cp == 1:
            assert all(np.array_equal(on[k], off[k]) for k in on)
            continue
        elems = SEQ / cp * MODEL.heads * MODEL.hd
        pf, pb = pass_bytes(np.array([elems]), c.cp, True)
        assert on["elem_f"][0] - off["elem_f"][0] == pytest.approx(hw.stream_time(pf[0]))
        assert on["elem_b"][0] - off["elem_b"][0] == pytest.approx(hw.stream_time(pb[0]))
        assert on["comm_b"][0] > off["comm_b"][0]
        assert on["comm_f"][0] > off["comm_f"][0] == 0.0  # compiled: the gather shows


def test_compiled_ring_hides_nothing() -> None:
    """Traced collectives are waited for where they are issued: under torch.compile the
    all-gathers and every dK/dV exchange show whole, however long the core runs."""
    setup, c, hw = _setup(8)
    kv = torch_cp_kv_bytes(MODEL, c, setup)
    gbw, glat = link(hw, setup, c.tp * c.cp, c.tp, gather=True)
    gather = ring_gather(8 * kv, c.cp, gbw, glat)[0]
    bw, lat = link(hw, setup, c.tp * c.cp, c.tp)
    send = 2.0 * kv[0] / (bw[0] * 1e9) + lat[0]
    big = np.array([1e3])
    fwd, bwd = torch_cp_comm_times(hw, setup, c, kv, big, big, compiled=True)
    assert fwd[0] == pytest.approx(gather)
    assert bwd[0] == pytest.approx(gather + 8 * send)
    eager_f, _ = torch_cp_comm_times(hw, setup, c, kv, big, big)
    assert eager_f[0] == 0.0
