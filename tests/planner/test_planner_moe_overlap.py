"""Megatron-Core's 1F1B EP all-to-all overlap (``Engine.ep_a2a_overlap``,
``planner.moe_overlap``): four phases, each the longer of its compute and its all-to-all."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.moe_comm import DEEPEP_SMS, a2a_sm_share
from gpuwise.planner.moe_overlap import a2a_hidden, paired_share
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import step_time

QWEN = get_model("qwen3-235b-a22b")
H100 = Hardware.from_catalog(get_accelerator("H100-SXM"))
BASE = replace(ENGINES["modern-overlap"], expert_tp1=True)
OVER = replace(BASE, name="modern-overlap-a2a", ep_a2a_overlap=True)


def _a(x: float) -> np.ndarray:
    return np.array([x])


def test_small_all_to_all_hides_entirely() -> None:
    # 1 ms of dispatch + combine each way, every partner compute longer than its 0.5 ms half
    hidden = a2a_hidden(_a(6.0), _a(11.0), _a(1.0), _a(2.0), _a(2.0), _a(2.0))
    assert hidden[0] == pytest.approx(2.0)


def test_large_all_to_all_keeps_what_compute_cannot_cover() -> None:
    """Each 2 s half hides only its partner's compute: forward attention 1 (6 - 4 - 1), expert
    dgrad 1, expert forward + wgrad 2, backward attention 2 (8 - 4 - 1 - 1)."""
    fwd, bwd, a2a = _a(6.0), _a(8.0), _a(4.0)
    exp_f, exp_d, exp_w = _a(1.0), _a(1.0), _a(1.0)
    hidden = a2a_hidden(fwd, bwd, a2a, exp_f, exp_d, exp_w)
    attn_f, attn_b = 6.0 - 4.0 - 1.0, 8.0 - 4.0 - 2.0
    assert hidden[0] == pytest.approx(attn_f + 1.0 + 2.0 + attn_b)
    assert a2a_hidden(fwd, bwd, _a(0.0), exp_f, exp_d, exp_w)[0] == 0.0


def _setup(engine: Engine) -> Setup:
    return Setup(seq=4096, global_batch=2048, gpus=256, net_gbs_per_gpu=50.0, engine=engine)


def test_overlap_shortens_the_step_but_not_under_full_recompute() -> None:
    c = single(dp=16, tp=2, pp=8, vpp=4, ep=32, zero=1, precision="fp8")
    lt = layer_times(QWEN, True, c, _setup(OVER), H100)
    assert 0.0 < lt["a2a_hidden"][0] < lt["comm_f"][0] + lt["comm_b"][0]
    assert layer_times(QWEN, True, c, _setup(BASE), H100)["a2a_hidden"][0] == 0.0
    assert step_time(QWEN, c, _setup(OVER), H100)["step"][0] < step_time(
        QWEN, c, _setup(BASE), H100
    )["step"][0]
    full = single(dp=16, tp=2, pp=8, vpp=4, ep=32, zero=1, precision="fp8", recompute="full")
    assert layer_times(QWEN, True, full, _setup(OVER), H100)["a2a_hidden"][0] == 0.0


def test_sm_carve_out_leaves_a_share_of_each_covered_all_to_all_exposed() -> None:
    """While the all-to-all runs, the compute beside it has the communication kernel's SMs
    fewer: a phase whose compute covers its half still ends ``half * share`` later."""
    share = 20.0 / 132.0
    free = a2a_hidden(_a(6.0), _a(11.0), _a(1.0), _a(2.0), _a(2.0), _a(2.0))
    held = a2a_hidden(_a(6.0), _a(11.0), _a(1.0), _a(2.0), _a(2.0), _a(2.0), sm_share=share)
    assert free[0] - held[0] == pytest.approx(4 * 0.5 * share)
    # phases whose compute (1-2 s) is shorter than the slowed share of their 3 s half are
    # all-to-all bound whatever the share
    args = (_a(8.0), _a(10.0), _a(6.0), _a(1.0), _a(1.0), _a(1.0))
    assert a2a_hidden(*args, sm_share=share)[0] == pytest.approx(a2a_hidden(*args)[0])


def test_deepep_holds_its_20_sms_and_nccl_its_thread_blocks() -> None:
    span, one = np.array([32.0, 8.0]), 8
    share = a2a_sm_share(132.0, 24.0, span, one, "deepep")
    assert share[0] == pytest.approx(DEEPEP_SMS / 132.0)  # across nodes: DeepEP's kernels
    assert share[1] == pytest.approx(24.0 / 132.0)  # within a node the planner keeps NCCL
    assert a2a_sm_share(132.0, 24.0, span, one, "nccl")[0] == pytest.approx(24.0 / 132.0)
    assert a2a_sm_share(None, None, span, one, "nccl")[0] == 0.0


def test_warm_up_and_cool_down_passes_run_unpaired() -> None:
    """Megatron-LM's ``get_pp_rank_microbatches``: the first rank's ``2 (p - 1) + (v - 1) p``
    warm-up forwards plus the overlap's extra one, and as many cool-down backwards, have no
    partner; without a pipeline only the first forward and the last backward."""
    m, p, v = np.array([128, 128, 8]), np.array([8, 1, 8]), np.array([4, 1, 4])
    share = paired_share(m, p, v)
    assert share[0] == pytest.approx((128 * 4 - (2 * 7 + 3 * 8 + 1)) / (128 * 4))
    assert share[1] == pytest.approx(127 / 128)
    assert share[2] == 0.0  # 32 chunk passes, 39 of them warm-up: nothing pairs
    # Megatron-Core refuses the overlap on a pipeline without virtual stages
    assert paired_share(np.array([128]), np.array([8]), np.array([1]))[0] == 0.0


def test_a_step_too_short_to_leave_warm_up_hides_nothing() -> None:
    """8 micro-batches on 8 stages of 4 chunks: all 32 chunk passes are warm-up, so the step
    takes as long as without the overlap (the layer still reports what a pair would hide)."""
    c = single(dp=16, tp=2, pp=8, vpp=4, ep=32, zero=1, precision="fp8")
    short = replace(_setup(OVER), global_batch=128)
    assert layer_times(QWEN, True, c, short, H100)["a2a_hidden"][0] > 0.0
    over = step_time(QWEN, c, short, H100)["step"][0]
    base = step_time(QWEN, c, replace(short, engine=BASE), H100)["step"][0]
    assert over == pytest.approx(base)


def test_the_bubble_waits_on_unpaired_passes() -> None:
    """The pipeline bubble is other ranks' warm-up and cool-down passes, none paired: the
    overlap shortens the step's micro-batch slots but not its bubble."""
    c = single(dp=16, tp=2, pp=8, vpp=4, ep=32, zero=1, precision="fp8")
    over, base = step_time(QWEN, c, _setup(OVER), H100), step_time(QWEN, c, _setup(BASE), H100)
    assert over["microbatch"][0] < base["microbatch"][0]
    assert over["pipeline_bubble"][0] == pytest.approx(base["pipeline_bubble"][0])
