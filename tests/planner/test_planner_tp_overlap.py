"""Tensor-parallel overlap as Transformer Engine runs it (planner.tp_overlap) and Megatron-Core's
overlapped pipeline p2p, each checked in isolation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import nccl_ctas, sm_count
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_gemms
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import single
from gpuwise.planner.tp_overlap import gemm_roles, nccl_beside_gemm, pipelined, ring_exchange

MODERN = ENGINES["modern"]
NO_ASYNC = replace(MODERN, name="sync", tp_async_bwd=False)


def _run(engine: Engine, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "seq": 8192,
        "global_batch": 128,
        "gpus": 64,
        "tp": 4,
        "pp": 8,
        "vpp": 5,
        "zero": 1,
        "precision": "fp8",
        "net_gbs_per_gpu": 50.0,
    }
    args.update(kw)
    return evaluate_config(get_model("llama-3-70b"), "H100-SXM", engine=engine, **args)


def test_ring_exchange_hides_all_but_the_first_chunk() -> None:
    """n chunks, n-1 transfers each under a chunk's GEMM: a fast link costs nothing beyond the
    chunks, a slow one exposes what the n-1 overlapped chunks cannot cover."""
    n = np.array([4.0])
    assert ring_exchange(np.array([1.0]), np.array([2.0]), n)[0] == pytest.approx(4.0)
    assert ring_exchange(np.array([1.0]), np.array([6.0]), n)[0] == pytest.approx(7.0)
    assert ring_exchange(np.array([1.0]), np.array([6.0]), np.array([1.0]))[0] == 1.0


def test_pipelined_reduce_scatter_exposes_its_last_chunk() -> None:
    """k splits: each chunk's reduce-scatter runs under the next chunk's GEMM, the last one
    after the GEMM has finished."""
    assert pipelined(np.array([1.0]), np.array([2.0]), 4)[0] == pytest.approx(4.5)


@pytest.mark.parametrize("name", ["llama-3-70b", "gpt3-175b", "deepseek-v3", "mixtral-8x7b"])
def test_roles_align_with_the_layer_gemms(name: str) -> None:
    model = get_model(name)
    c = single(tp=4)
    tok = np.array([4096.0])
    for moe in (False, True) if model.is_moe else (False,):
        assert len(gemm_roles(model, moe)) == len(layer_gemms(model, moe, c, tok))


def test_async_backward_collectives_hide_under_dgrad_and_wgrad() -> None:
    """Transformer Engine launches the backward re-gather and input-gradient reduce-scatter
    asynchronously: less TP time than charging all six backward collectives, none at TP 1."""
    assert _run(MODERN)["time_s"]["tp_comm"] < 0.9 * _run(NO_ASYNC)["time_s"]["tp_comm"]
    one = {"tp": 1, "pp": 8, "gpus": 64, "vpp": 5}
    assert _run(MODERN, **one)["time_s"]["tp_comm"] == _run(NO_ASYNC, **one)["time_s"]["tp_comm"]


def test_nccl_blocks_beside_a_gemm_expose_their_share_of_the_collective() -> None:
    """An NCCL collective shorter than the GEMM beside it still costs the SMs its blocks hold
    (16 of the A800's 108 for as long as it runs); a longer one exposes its excess; a chip
    with no published block count hides the short collective completely."""
    a800 = Hardware.from_catalog(get_accelerator("A800"))
    assert nccl_ctas(a800.acc) == 16 and sm_count(a800.acc) == 108
    short = nccl_beside_gemm(a800, np.array([1.0]), np.array([3.0]))[0]
    assert short == pytest.approx(16 / 108)
    assert nccl_beside_gemm(a800, np.array([3.0]), np.array([1.0]))[0] == pytest.approx(2.0)
    v100 = Hardware.from_catalog(get_accelerator("V100-32GB"))
    assert nccl_beside_gemm(v100, np.array([1.0]), np.array([3.0]))[0] == 0.0


def test_async_backward_collectives_cost_the_sms_nccl_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On an A800 at TP 8 the async column-parallel backward collectives of ``modern`` add TP
    time for the SMs NCCL holds beside the dgrad / wgrad GEMMs; at TP 1 nothing changes."""
    kw: dict[str, Any] = {"seq": 8192, "global_batch": 64, "gpus": 8, "tp": 8, "pp": 1,
                          "vpp": 1, "precision": "bf16"}

    def tp_comm(**extra: Any) -> float:
        args = {**kw, **extra}
        res = evaluate_config(get_model("llama-3-8b"), "A800", engine=MODERN, **args)
        return float(res["time_s"]["tp_comm"])

    held, held_tp1 = tp_comm(), tp_comm(tp=1)
    monkeypatch.setattr("gpuwise.planner.tp_overlap.nccl_ctas", lambda acc: None)
    assert held > 1.02 * tp_comm()
    assert held_tp1 == tp_comm(tp=1)


def test_userbuffers_hide_forward_collectives_but_not_for_free() -> None:
    """TP overlap removes most forward TP time; what is left (split GEMMs, the SM margin,
    latency) keeps it above zero."""
    ub = _run(replace(MODERN, overlap_tp=True))["time_s"]["tp_comm"]
    assert 0.0 < ub < 0.5 * _run(MODERN)["time_s"]["tp_comm"]


def test_sm_margin_slows_the_pipelined_reduce_scatter_gemm() -> None:
    eng = ENGINES["modern-ub-h8192-tp4"]
    free = replace(eng, ub_rs_sms=(0, 0))
    assert _run(eng)["time_s"]["step"] > _run(free)["time_s"]["step"]


def test_overlapped_p2p_only_in_the_interleaved_schedule() -> None:
    p2p = replace(MODERN, overlap_p2p=True)
    assert _run(p2p)["time_s"]["microbatch"] < _run(MODERN)["time_s"]["microbatch"]
    flat = {"vpp": 1}
    assert _run(p2p, **flat)["time_s"]["step"] == _run(MODERN, **flat)["time_s"]["step"]


def test_param_gather_runs_under_the_next_forward() -> None:
    """Distributed optimizer with overlap_param_gather: the parameter all-gather no longer
    queues behind the gradient reduce-scatter after the last backward."""
    kw: dict[str, Any] = {"pp": 4, "cp": 2, "net_gbs_per_gpu": 12.5}
    sync = _run(MODERN, **kw)["time_s"]["dp_exposed"]
    overlapped = _run(replace(MODERN, overlap_param_gather=True), **kw)["time_s"]["dp_exposed"]
    assert 0.0 <= overlapped < sync
