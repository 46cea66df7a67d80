"""torchtitan's eager Llama block kernels (``Engine.eager_llama_ops``, planner.eager_llama)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner import eager_llama
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

TITAN = ENGINES["torchtitan"]
LLAMA3_8B = get_model("llama-3-8b")  # h 4096, 32 query / 8 KV heads of 128, FFN 14336
ONE = np.array([1.0])


def test_block_bytes_follow_the_kernels() -> None:
    """Llama 3 8B without TP: rotary 20 B per q/k element, repeat_kv's two copies, two bf16
    residual adds, SiLU + product forward; backward the same rotary and repeat_kv bytes, the
    SwiGLU gradients (18 B per FFN element) and three sums of shared-input gradients."""
    fwd, bwd = eager_llama.eager_block_bytes(LLAMA3_8B, ONE, ONE)
    rotary = 20 * (32 + 8) * 128
    repeat = 2 * (2 * 8 + 2 * 32) * 128
    assert fwd[0] == rotary + repeat + 12 * 4096 + 10 * 14336
    assert bwd[0] == rotary + repeat + 12 * 4096 + 18 * 14336 + 18 * 4096


def test_mha_has_no_repeat_copies_and_tp_shards_heads() -> None:
    """Llama 2 13B (40 heads, MHA): ``repeat_kv`` returns its input; TP 4 shards the head and
    FFN terms, sequence parallelism the residual adds."""
    m = get_model("llama-2-13b")
    fwd, _ = eager_llama.eager_block_bytes(m, np.array([4.0]), np.array([0.25]))
    assert fwd[0] == 20 * 80 * 128 / 4 + 12 * 5120 / 4 + 10 * m.ffn_size / 4


def test_only_dense_rotary_swiglu_blocks_are_covered() -> None:
    assert eager_llama.covers(LLAMA3_8B, moe=False)
    assert not eager_llama.covers(LLAMA3_8B, moe=True)
    assert not eager_llama.covers(get_model("gpt3-175b"), moe=False)  # GELU, learned positions


def test_flag_charges_the_difference_at_the_stream_rate() -> None:
    """One layer of Llama 3 8B on an A100 at 8192 tokens: the flag replaces the generic eager
    charge (fused norms 2 + 2 kept for the eager-norm correction) by the block's kernels."""
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    c = single(zero=3, micro_batch=1)
    on = layer_times(LLAMA3_8B, False, c, Setup(8192, 8, 8, engine=TITAN), hw)
    off_eng = replace(TITAN, eager_llama_ops=False)
    off = layer_times(LLAMA3_8B, False, c, Setup(8192, 8, 8, engine=off_eng), hw)
    fwd, bwd = eager_llama.eager_block_bytes(LLAMA3_8B, ONE, ONE)
    h, a, kv, d, f = 4096, 32, 8, 128, 14336
    generic = 20 * h + 6 * f + 4 * (a + kv) * d + 4 * (a + 2 * kv) * d + 8 * h
    stream = hw.mem_bw_gbs * 1e9
    assert on["elem_f"][0] - off["elem_f"][0] == pytest.approx(
        (8 * h + fwd[0] - generic) * 8192 / stream
    )
    assert on["elem_b"][0] - off["elem_b"][0] == pytest.approx(
        (16 * h + bwd[0] - 2 * generic) * 8192 / stream
    )


def test_flag_is_on_the_eager_torchtitan_preset_only() -> None:
    flagged = sorted(n for n, e in ENGINES.items() if e.eager_llama_ops)
    assert flagged == ["torchtitan"]
