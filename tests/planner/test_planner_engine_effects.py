"""Software-behaviour effects of the time model, each checked in isolation (Engine presets)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import ENGINES, Engine

MEGATRON = ENGINES["megatron-2022"]


def _step(engine: Engine, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"seq": 2048, "global_batch": 64, "gpus": 64, "tp": 8, "pp": 8}
    args.update(kw)
    return evaluate_config(get_model("gpt-175b-megatron"), "A100-80GB", engine=engine, **args)


def test_interleaving_shrinks_bubble_but_multiplies_p2p() -> None:
    """v chunks: bubble (p-1)/v micro-batch slots, but v times the stage-to-stage traffic."""
    plain, inter = _step(MEGATRON, vpp=1), _step(MEGATRON, vpp=3)
    assert inter["time_s"]["pipeline_bubble"] < plain["time_s"]["pipeline_bubble"] / 2.5
    assert inter["time_s"]["microbatch"] > plain["time_s"]["microbatch"]


def test_sequence_parallel_backward_regathers_inputs() -> None:
    """SP trades replicated elementwise work for two extra all-gathers in the backward pass."""
    sp = _step(MEGATRON)
    no_sp = _step(replace(MEGATRON, sequence_parallel=False))
    # forward 2 all-gathers + 2 reduce-scatters either way (= 2 all-reduces); backward 6 ops
    ratio = sp["time_s"]["tp_comm"] / no_sp["time_s"]["tp_comm"]
    assert ratio == pytest.approx(10 / 8, rel=0.03)


def test_fused_gradient_accumulation_saves_a_pass_per_microbatch() -> None:
    fused = _step(MEGATRON)
    unfused = _step(replace(MEGATRON, grad_acc_fusion=False))
    # 64 micro-batches each stream 8 B per local parameter (~2.8e9 on the last stage)
    saved = unfused["time_s"]["step"] - fused["time_s"]["step"]
    assert saved == pytest.approx(64 * 8 * 2.8e9 / (2039e9 * 0.9), rel=0.2)


def test_first_generation_flash_attention_is_slower() -> None:
    kw: dict[str, Any] = {"gpus": 8, "tp": 1, "pp": 1, "zero": 3, "micro_batch": 4}
    kw.update(seq=2048, global_batch=32)
    m = get_model("mpt-7b")
    fa2: dict[str, Any] = evaluate_config(m, "A100-80GB", engine="fsdp", **kw)
    fa1: dict[str, Any] = evaluate_config(m, "A100-80GB", engine="llm-foundry-2023", **kw)
    ratio = fa1["time_s"]["step"] / fa2["time_s"]["step"]
    assert 1.03 < ratio < 1.15  # attention is ~7 % of an MPT-7B step at 2k tokens


def test_mfu_is_against_the_bf16_peak_for_every_precision() -> None:
    """An FP8 plan's MFU uses the dense BF16 peak (torchtitan's convention), so the FP8
    speed-up shows as a higher MFU on the same scale as BF16 plans."""
    kw: dict[str, Any] = {"seq": 4096, "global_batch": 64, "gpus": 8, "tp": 8, "pp": 1}
    model = get_model("llama-2-7b")
    bf16 = evaluate_config(model, "H100-SXM", precision="bf16", **kw)
    fp8 = evaluate_config(model, "H100-SXM", precision="fp8", **kw)
    for r in (bf16, fp8):
        assert r["mfu"] == pytest.approx(r["tflops_per_gpu"] / 989.0, rel=1e-3)
    assert fp8["tflops_per_gpu"] > bf16["tflops_per_gpu"]
    assert fp8["mfu"] > bf16["mfu"]
