"""DeepSpeed pipeline-engine terms (``planner.pipeline``: partitioned and uncombined p2p) and
the ``deepspeed-pipe-*`` presets, each checked in isolation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.collectives import LAT_BASE_S, LAT_INTER_S, link, ring_gather
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.memory import stage_params
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.pipeline import partitioned_p2p, uncombined_p2p
from gpuwise.planner.time import step_time

DS = ENGINES["deepspeed-pipe-2021"]
HW = Hardware.from_catalog(get_accelerator("A100-80GB"))
MODEL = get_model("gpt-530b")


def _run(engine: Engine, tp: int = 8, net: float = 25.0, **kw: Any) -> dict[str, np.ndarray]:
    setup = Setup(2048, 1920, 2240, 8, net, 0.05, engine, None)
    c = single(dp=2240 // tp // 35, tp=tp, pp=35, zero=1, recompute="full", **kw)
    return step_time(MODEL, c, setup, HW)


def test_partitioned_p2p_adds_the_rebuild_passes_and_a_third_gather() -> None:
    """Per message one more latency (the metadata send) and ``full()``'s zeros + clone (3 act
    bytes); per micro-batch the sender's own rebuild (gather, copy-out, zeros + clone) and the
    slice clones."""
    act, tp = np.array([2.0 * 20480 * 2048]), np.array([8])
    setup = Setup(2048, 1920, 2240, engine=DS)
    gather = ring_gather(act, tp, *link(HW, setup, tp))
    per_msg, per_mb = partitioned_p2p(HW, act, tp, gather, np.array([1e-5]), True)
    assert per_msg[0] == pytest.approx(1e-5 + float(HW.stream_time(3.0 * act)[0]))
    rebuild = gather + HW.stream_time(2.0 * act) + HW.stream_time(3.0 * act)
    assert per_mb[0] == pytest.approx(float((rebuild + HW.stream_time(8.0 * act / tp))[0]))
    # without tensor parallelism the engine sends the tensor whole: nothing to rebuild
    one = partitioned_p2p(HW, act, np.array([1]), np.zeros(1), np.array([1e-5]), True)
    assert one[0][0] == 0.0 and one[1][0] == 0.0


def test_partitioned_p2p_lengthens_the_slot_only_with_tensor_parallelism() -> None:
    off = replace(DS, p2p_partitioned=False)
    on_tp8, off_tp8 = _run(DS), _run(off)
    act = 2.0 * 20480 * 2048
    per_msg_min = LAT_BASE_S + LAT_INTER_S + float(HW.stream_time(np.array([3.0 * act]))[0])
    extra = float(on_tp8["microbatch"][0] - off_tp8["microbatch"][0])
    assert extra > 2 * per_msg_min  # two messages + the sender's rebuild
    on_tp1, off_tp1 = _run(DS, tp=1), _run(off, tp=1)
    assert on_tp1["microbatch"][0] == pytest.approx(off_tp1["microbatch"][0], rel=1e-12)


def test_uncombined_exchanges_cost_what_the_last_stage_does_not_cover() -> None:
    hop, last = np.array([1.0, 1.0, 1.0]), np.array([0.0, 1.5, 3.0])
    assert uncombined_p2p(hop, last, True).tolist() == [2.0, 0.5, 0.0]
    assert uncombined_p2p(hop, last, False).tolist() == [0.0, 0.0, 0.0]


def test_uncombined_exchanges_show_only_on_a_slow_pipeline_link() -> None:
    """MT-NLG's output layer and loss (~10 ms) cover two 25 GB/s exchanges, so DeepSpeed's
    separate sends cost nothing there; over a 0.05 GB/s link they are exposed every slot."""
    off = replace(DS, p2p_uncombined=False)
    assert _run(DS)["step"][0] == pytest.approx(_run(off)["step"][0], rel=1e-12)
    assert _run(DS, net=0.05)["step"][0] > _run(off, net=0.05)["step"][0] * 1.01


def test_deepspeed_preset_drops_megatron_local_ddp_passes() -> None:
    """With ``--deepspeed`` Megatron-DeepSpeed's ``get_model`` returns the bare model: no
    LocalDDP hook add or buffer division; the rest of megatron-2021 stays."""
    meg = ENGINES["megatron-2021"]
    assert not DS.grad_hook_add and not DS.grad_buffer_scale
    assert DS.p2p_partitioned and DS.p2p_uncombined and not meg.p2p_partitioned
    assert replace(DS, name=meg.name, grad_hook_add=True, grad_buffer_scale=True,
                   p2p_partitioned=False, p2p_uncombined=False) == meg


BF16 = ENGINES["deepspeed-pipe-bf16-2022"]


def _bloom(engine: Engine) -> dict[str, np.ndarray]:
    """BLOOM-176B's layout (TP 4, PP 12, DP 8, micro-batch 2, full recompute)."""
    setup = Setup(2048, 2048, 384, 8, 6.25, 0.05, engine, None)
    c = single(dp=8, tp=4, pp=12, zero=1, recompute="full", micro_batch=2)
    return step_time(get_model("bloom-176b"), c, setup, HW)


def test_bf16_optimizer_casts_and_adds_every_microbatch() -> None:
    """``hp_grad.add_(lp.grad.to(fp32))``: 18 bytes per local parameter per micro-batch where
    a plain fp32 accumulation streams 8 (2 x ``grad_bytes``)."""
    plain = replace(BF16, hp_grad_cast_add=False)
    extra = _bloom(BF16)["microbatch"] - _bloom(plain)["microbatch"]
    c = single(dp=8, tp=4, pp=12, zero=1, recompute="full", micro_batch=2)
    sp = stage_params(get_model("bloom-176b"), c)
    p_stage = sp["dense"] + np.maximum(sp["emb_first"], sp["emb_last"])
    assert extra[0] == pytest.approx(float(HW.stream_time(10.0 * p_stage)[0]), rel=1e-9)


def test_bf16_optimizer_all_reduces_its_fp32_gradients() -> None:
    """ZeRO-1 under the BF16_Optimizer: a full all-reduce of the fp32 gradients (2 (n-1)/n S)
    instead of a reduce-scatter ((n-1)/n S), then the 16-bit parameter all-gather."""
    rs = replace(BF16, zero1_grad_allreduce=False)
    ar_t, rs_t = float(_bloom(BF16)["dp_exposed"][0]), float(_bloom(rs)["dp_exposed"][0])
    gather16 = rs_t / 3.0  # reduce-scatter of 4-byte grads + all-gather of 2-byte weights: 2 + 1
    assert ar_t == pytest.approx(rs_t + 2.0 * gather16, rel=0.02)


def test_bf16_preset_is_the_2021_engine_with_the_bf16_optimizer() -> None:
    assert BF16.grad_bytes == 4 and not BF16.fp16_loss_scaling and not BF16.main_grad_copy
    assert replace(
        BF16, name=DS.name, grad_bytes=2, fp16_loss_scaling=True, main_grad_copy=True,
        hp_grad_cast_add=False, zero1_grad_allreduce=False,
    ) == DS
