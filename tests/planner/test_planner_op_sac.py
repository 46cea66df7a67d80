"""torchtitan's op-level selective activation checkpointing (``Engine.selective == "op"``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.errors import GpuwiseError
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.flops import recompute_flops_per_token
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.memory import layer_activation_bytes
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.recompute import recomputed_linears, saved_linears
from gpuwise.planner.search import search

TITAN = ENGINES["torchtitan"]
LLAMA8 = get_model("llama-3-8b")


def test_every_second_matmul_of_the_block_is_recomputed() -> None:
    """Issue order wq wk wv wo w1 w3 w2: the 2nd, 4th and 6th (wk, wo, w3) are re-run."""
    assert [lin.name for lin in recomputed_linears(LLAMA8)] == ["wk", "wo", "w3"]
    assert [lin.name for lin in saved_linears(LLAMA8)] == ["wq", "wv", "w1", "w2"]


def test_op_recompute_flops_are_the_recomputed_matmuls() -> None:
    m, h = LLAMA8, LLAMA8.hidden
    per_layer = h * m.kv * m.hd + h * m.heads * m.hd + h * m.ffn_size  # wk + wo + w3
    got = recompute_flops_per_token(m, 8192, "selective", "op")
    assert got == pytest.approx(2.0 * per_layer * m.layers)
    # Korthikanti's selective recompute re-runs the attention core instead
    assert recompute_flops_per_token(m, 8192, "selective") != pytest.approx(got)


def test_op_saved_bytes_per_token() -> None:
    """Kept per token and layer (bf16): block input, wq/wv/w1/w2 outputs, attention output and
    its fp32 log-sum-exp per head -- 8h + 2 kv d + 2f + 4a bytes for a GQA SwiGLU block."""
    m = LLAMA8
    setup = Setup(seq=8192, global_batch=8, gpus=8, engine=TITAN)
    c = single(dp=8, zero=3, recompute="selective")
    got = float(layer_activation_bytes(m, False, c, setup)[0]) / 8192
    assert got == pytest.approx(8 * m.hidden + 2 * m.kv * m.hd + 2 * m.ffn_size + 4 * m.heads)
    none = float(layer_activation_bytes(m, False, single(dp=8, zero=3), setup)[0]) / 8192
    assert 0.4 < got / none < 0.5


def _titan(engine: Any, recompute: str) -> dict[str, Any]:
    return evaluate_config(LLAMA8, "H100-SXM", seq=8192, global_batch=16, gpus=8, zero=3,
                           micro_batch=2, recompute=recompute, engine=engine)


def test_op_selective_costs_time_and_saves_memory() -> None:
    """Op SAC re-runs ~3/8 of the forward GEMMs (+12 % GEMM FLOPs for Llama-3-8B) and all
    forward elementwise kernels, not the attention core that Korthikanti's policy re-runs."""
    none, op = _titan(TITAN, "none"), _titan(TITAN, "selective")
    attn = _titan(replace(TITAN, name="titan-attention", selective="attention"), "selective")
    assert attn["time_s"]["step"] != pytest.approx(op["time_s"]["step"], rel=1e-3)
    assert 1.08 < op["time_s"]["step"] / none["time_s"]["step"] < 1.2
    assert op["memory_gib"]["activations"] < 0.6 * none["memory_gib"]["activations"]
    assert op["hfu"] > op["mfu"]


def test_op_selective_is_refused_for_moe_and_mla_models() -> None:
    m = get_model("deepseek-v3")
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    setup = Setup(seq=4096, global_batch=512, gpus=256, engine=TITAN)
    res = search(m, hw, setup, {"recompute": "selective", "ep": 64, "pp": 4}, top=1)
    assert res.ranked == []
    assert res.rejected.get("op_selective_recompute_needs_dense_model", 0) > 0
    with pytest.raises(GpuwiseError, match="dense"):
        evaluate_config(m, "H100-SXM", seq=4096, global_batch=512, gpus=256, pp=4, ep=64,
                        zero=3, recompute="selective", engine=TITAN)
    assert np.isfinite(evaluate_config(m, "H100-SXM", seq=4096, global_batch=512, gpus=256,
                                       pp=4, ep=64, zero=3, recompute="full",
                                       engine=TITAN)["time_s"]["step"])


def test_eager_cross_entropy_holds_three_fp32_logit_tensors() -> None:
    """torchtitan's eager ``F.cross_entropy(logits.float())``: 12 B per logit at its backward
    peak, against one in-place fp32 copy (4 B) for Megatron-style engines."""
    plain = replace(TITAN, name="titan-4b", loss_bytes_per_logit=4)
    a, b = _titan(TITAN, "none"), _titan(plain, "none")
    tok = 2 * 8192
    extra = (a["memory_gib"]["logits"] - b["memory_gib"]["logits"]) * 2**30
    assert extra == pytest.approx(8.0 * LLAMA8.vocab * tok)


def test_eager_rmsnorm_streams_its_op_chain() -> None:
    """torchtitan's eager fp32 RMSNorm: 36 B per hidden element forward and 92 backward,
    against a fused kernel's 4 and 8 -- two norms per layer, on the HBM stream rate."""
    fused = replace(TITAN, name="titan-fused-norm", eager_rmsnorm=False)
    kw: dict[str, Any] = {"seq": 4096, "global_batch": 1, "gpus": 1, "micro_batch": 1}
    a = evaluate_config(LLAMA8, "H100-SXM", engine=TITAN, **kw)["time_s"]["step"]
    b = evaluate_config(LLAMA8, "H100-SXM", engine=fused, **kw)["time_s"]["step"]
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    extra = 2 * ((36 - 4) + (92 - 8)) * LLAMA8.hidden * 4096 * LLAMA8.layers
    assert a - b == pytest.approx(hw.stream_time(extra), rel=1e-6)
