"""Step time under ``Engine.pipeline_split_embedding_loss`` (``planner.time``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import CE_BYTES_PER_LOGIT


def test_embedding_loss_split_paces_the_middle_ranks() -> None:
    """Step time under ``pipeline_split_embedding_loss`` (the Llama 3 405B layout): with 126
    layers + 2 slots on 16 x 8 chunks every middle rank runs 8 layers and the last rank 7 plus
    the output layer and loss.  That output layer is lighter than a layer, so the pace drops
    from 8 layers + output to 8 layers: the micro-batch is shorter by exactly the output layer
    and loss."""
    model = get_model("llama-3-405b")
    eng = ENGINES["modern-overlap"]
    kw: dict[str, Any] = {
        "seq": 8192, "global_batch": 2048, "gpus": 8192, "tp": 8, "pp": 16, "vpp": 8,
        "zero": 1, "recompute": "none", "micro_batch": 1,
    }
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    off = evaluate_config(model, hw, engine=eng, **kw)["time_s"]
    on = evaluate_config(
        model, hw, engine=replace(eng, pipeline_split_embedding_loss=True), **kw
    )["time_s"]
    c = single(64, 8, 16, 8, 1, 1, 1, "none", 1, "bf16")
    setup = Setup(8192, 2048, 8192, 8, 50.0, 0.05, eng, None)
    lt = layer_times(model, False, c, setup, hw)
    unit = sum(float(lt[k][0]) for k in lt if k[-2:] in ("_f", "_b") and "scores" not in k
               and "tp_gathers" not in k)
    tok, v_t, h = 8192.0, model.vocab / 8, float(model.hidden)
    out = hw.gemm_time(tok, v_t, h) + hw.gemm_time(tok, h, v_t) + hw.gemm_time(v_t, h, tok)
    out += hw.stream_time(CE_BYTES_PER_LOGIT * tok * v_t)  # output layer, fp32 loss
    assert out < unit
    assert off["microbatch"] - on["microbatch"] == pytest.approx(out, rel=1e-6)
    assert on["step"] < off["step"]
