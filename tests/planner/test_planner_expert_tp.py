"""Expert tensor parallelism 1 (``Engine.expert_tp1``, Megatron-Core
``expert_tensor_parallel_size=1``): whole experts per rank, each rank routing its own sequence
shard, no TP collectives around the MoE block, EP groups of consecutive ranks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.expert_tp import ep_span, expert_dp, expert_tp
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_gemms, layer_times
from gpuwise.planner.memory import memory_breakdown, stage_params
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

QWEN = get_model("qwen3-235b-a22b")
H100 = Hardware.from_catalog(get_accelerator("H100-SXM"))
MODERN = ENGINES["modern"]
ETP1 = replace(MODERN, name="modern-etp1", expert_tp1=True)


def _setup(engine: Engine, gpus: int = 64) -> Setup:
    return Setup(seq=4096, global_batch=256, gpus=gpus, net_gbs_per_gpu=50.0, engine=engine)


def test_groups_default_and_etp1() -> None:
    """Megatron-Core's expert RankGenerator: EP ranks ``etp`` apart, expert DP = tp dp cp /
    (etp ep); the default (ETP = TP) keeps the planner's former groups."""
    c = single(dp=16, tp=2, pp=2, ep=32)
    assert expert_tp(c, MODERN)[0] == 2 and expert_tp(c, ETP1)[0] == 1
    assert ep_span(c, MODERN)[0] == 64 and ep_span(c, ETP1)[0] == 32
    assert expert_dp(c, MODERN)[0] == 1.0  # max(dp cp / ep, 1)
    assert expert_dp(c, ETP1)[0] == 1.0
    c8 = single(dp=16, tp=2, ep=8)
    assert expert_dp(c8, MODERN)[0] == 2.0 and expert_dp(c8, ETP1)[0] == 4.0


def test_expert_gemms_whole_experts_on_the_sequence_shard() -> None:
    """At TP 2, ETP 1 runs each local expert unsplit on half the tokens: the FC1 GEMM is
    (m / 2) x (2 n), the same expert FLOPs as the TP-split default; the router scores only
    the rank's own tokens."""
    c = single(dp=16, tp=2, ep=32)
    tok = np.array([4096.0])
    d = layer_gemms(QWEN, True, c, tok)
    e = layer_gemms(QWEN, True, c, tok, etp=np.array([1.0]))
    fc1_d, fc1_e = d[3], e[3]  # after QKV, proj and the router
    assert fc1_e[0][0] == pytest.approx(fc1_d[0][0] / 2)
    assert fc1_e[1][0] == pytest.approx(2 * fc1_d[1][0]) == 2 * QWEN.expert_ffn

    def flops(g: list[tuple[np.ndarray, ...]]) -> float:
        return float(sum((m * n * k * cnt)[0] for m, n, k, cnt in g))

    assert flops(e[3:]) == pytest.approx(flops(d[3:]))
    assert e[2][0][0] == pytest.approx(d[2][0][0] / 2)


def test_moe_block_has_no_tp_collectives() -> None:
    """Without EP traffic (ep 1) the MoE layer's TP seconds under ETP 1 are the attention
    block's alone: half the default's two blocks forward; backward less than half (the
    attention block's backward collectives partly hide under its dgrad/wgrad GEMMs, the
    default MoE block's have no GEMM to hide under)."""
    c = single(dp=32, tp=2, ep=1)
    d = layer_times(QWEN, True, c, _setup(MODERN), H100)
    e = layer_times(QWEN, True, c, _setup(ETP1), H100)
    assert e["comm_f"][0] == pytest.approx(0.5 * d["comm_f"][0])
    assert 0.0 < e["comm_b"][0] < 0.5 * d["comm_b"][0]
    # a dense layer is untouched
    dd = layer_times(QWEN, False, c, _setup(MODERN), H100)
    de = layer_times(QWEN, False, c, _setup(ETP1), H100)
    assert de["comm_f"][0] == dd["comm_f"][0]


def test_all_to_all_carries_the_sequence_shard() -> None:
    """With EP inside one node the dispatch/combine under ETP 1 moves half the tokens per GPU
    at TP 2, so the EP part of the layer's comm halves (minus the fixed latencies)."""
    c1 = single(dp=4, tp=2, ep=1)
    c4 = single(dp=4, tp=2, ep=4)  # EP span 8 (default) / 4 (ETP 1): one node either way
    s = _setup(MODERN, gpus=8)
    se = _setup(ETP1, gpus=8)

    def a2a(setup: Setup) -> float:
        with_ep = layer_times(QWEN, True, c4, setup, H100)["comm_f"][0]
        return float(with_ep - layer_times(QWEN, True, c1, setup, H100)["comm_f"][0])

    a2a_d, a2a_e = a2a(s), a2a(se)
    assert a2a_e == pytest.approx(0.5 * a2a_d, rel=0.01)


def test_expert_weights_are_whole_per_rank() -> None:
    """ETP 1 holds ``experts / ep`` whole experts per rank: twice the default's share at TP 2,
    and more weight memory."""
    c = single(dp=16, tp=2, pp=8, ep=32, zero=1)
    d = stage_params(QWEN, c)["expert"][0]
    e = stage_params(QWEN, c, etp=np.array([1.0]))["expert"][0]
    assert e == pytest.approx(2 * d)
    md = memory_breakdown(QWEN, c, _setup(MODERN, gpus=256), 80.0)
    me = memory_breakdown(QWEN, c, _setup(ETP1, gpus=256), 80.0)
    assert me["weights"][0] > md["weights"][0]
