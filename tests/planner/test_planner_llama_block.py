"""torchtitan's Llama block kernels (``Engine.eager_llama_ops``, ``Engine.complex_rotary``;
planner.llama_block)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner import llama_block
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

TITAN = ENGINES["torchtitan"]
LLAMA3_8B = get_model("llama-3-8b")  # h 4096, 32 query / 8 KV heads of 128, FFN 14336
ONE = np.array([1.0])


def test_block_bytes_follow_the_kernels() -> None:
    """Llama 3 8B without TP: repeat_kv's two copies, two bf16 residual adds, SiLU + product
    forward; backward the copies' sums, the SwiGLU gradients (18 B per FFN element) and three
    sums of shared-input gradients.  The rotary: 20 B per q/k element each way."""
    fwd, bwd = llama_block.eager_block_bytes(LLAMA3_8B, ONE, ONE)
    repeat = 2 * (2 * 8 + 2 * 32) * 128
    assert fwd[0] == repeat + 12 * 4096 + 10 * 14336
    assert bwd[0] == repeat + 12 * 4096 + 18 * 14336 + 18 * 4096
    assert llama_block.complex_rotary_bytes(LLAMA3_8B, ONE)[0] == 20 * (32 + 8) * 128


def test_mha_has_no_repeat_copies_and_tp_shards_heads() -> None:
    """Llama 2 13B (40 heads, MHA): ``repeat_kv`` returns its input; TP 4 shards the head and
    FFN terms, sequence parallelism the residual adds."""
    m = get_model("llama-2-13b")
    fwd, _ = llama_block.eager_block_bytes(m, np.array([4.0]), np.array([0.25]))
    assert fwd[0] == 12 * 5120 / 4 + 10 * m.ffn_size / 4
    assert llama_block.complex_rotary_bytes(m, np.array([4.0]))[0] == 20 * 80 * 128 / 4


def test_only_dense_rotary_swiglu_blocks_are_covered() -> None:
    assert llama_block.covers(LLAMA3_8B, moe=False)
    assert not llama_block.covers(LLAMA3_8B, moe=True)
    assert not llama_block.covers(get_model("gpt3-175b"), moe=False)  # GELU, learned positions


def _layer(**flags: bool) -> dict[str, np.ndarray]:
    """One layer of Llama 3 8B on an A100 at 8192 tokens with ``flags`` set on torchtitan."""
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    eng = replace(TITAN, **flags)
    return layer_times(LLAMA3_8B, False, single(zero=3), Setup(8192, 8, 8, engine=eng), hw)


STREAM = Hardware.from_catalog(get_accelerator("A100-80GB")).mem_bw_gbs * 1e9
H, A, KV, D, F = 4096, 32, 8, 128, 14336
ROT = 4 * (A + KV) * D  # the generic fused rotary, forward (twice that backward)


def test_eager_flag_charges_the_difference_at_the_stream_rate() -> None:
    """The eager flag replaces the generic eager charge (the fused norms' 2 + 2 kept for the
    eager-norm correction, the rotary left to its own flag) by the block's kernels."""
    on = _layer(eager_llama_ops=True, complex_rotary=False)
    off = _layer(eager_llama_ops=False, complex_rotary=False)
    fwd, bwd = llama_block.eager_block_bytes(LLAMA3_8B, ONE, ONE)
    generic = 20 * H + 6 * F + ROT + 4 * (A + 2 * KV) * D + 8 * H
    assert on["elem_f"][0] - off["elem_f"][0] == pytest.approx(
        (8 * H + ROT + fwd[0] - generic) * 8192 / STREAM
    )
    assert on["elem_b"][0] - off["elem_b"][0] == pytest.approx(
        (16 * H + 2 * ROT + bwd[0] - 2 * generic) * 8192 / STREAM
    )


def test_complex_rotary_replaces_the_fused_rotary() -> None:
    """20 B per q/k element forward and backward instead of a fused 4 (8 backward), with or
    without the eager block (the compiled preset keeps the rotary's three passes)."""
    cplx = 20 * (A + KV) * D
    for eager in (True, False):
        on = _layer(eager_llama_ops=eager, complex_rotary=True)
        off = _layer(eager_llama_ops=eager, complex_rotary=False)
        assert on["elem_f"][0] - off["elem_f"][0] == pytest.approx((cplx - ROT) * 8192 / STREAM)
        assert on["elem_b"][0] - off["elem_b"][0] == pytest.approx(
            (cplx - 2 * ROT) * 8192 / STREAM
        )


def test_flags_are_on_the_torchtitan_presets_only() -> None:
    eager = sorted(n for n, e in ENGINES.items() if e.eager_llama_ops)
    assert eager == ["torchtitan"]
    rotary = sorted(n for n, e in ENGINES.items() if e.complex_rotary)
    assert rotary == ["torchtitan", "torchtitan-compile"]


def test_separate_linears_time_each_gemm_at_its_own_shape() -> None:
    """torchtitan calls wq, wk, wv, wo, w1, w3, w2 as separate GEMMs; with the flag each is
    timed at its own shape (forward, data- and weight-gradient) instead of a fused QKV and a
    fused gate/up GEMM."""
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    on = _layer(separate_linears=True)
    off = _layer(separate_linears=False)
    tok = 8192.0
    split = [(4096, 4096), (1024, 4096), (1024, 4096), (4096, 4096)]
    split += [(14336, 4096), (14336, 4096), (4096, 14336)]
    fused = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]

    def fwd(shapes: list[tuple[int, int]]) -> float:
        return sum(float(hw.gemm_time(tok, n, k)) for n, k in shapes)

    def bwd(shapes: list[tuple[int, int]]) -> float:
        return sum(float(hw.gemm_time(tok, k, n) + hw.gemm_time(n, k, tok)) for n, k in shapes)

    assert on["gemm_f"][0] - off["gemm_f"][0] == pytest.approx(fwd(split) - fwd(fused))
    assert on["gemm_b"][0] - off["gemm_b"][0] == pytest.approx(bwd(split) - bwd(fused))
    assert on["gemm_b"][0] != pytest.approx(off["gemm_b"][0])
    flagged = sorted(n for n, e in ENGINES.items() if e.separate_linears)
    assert flagged == ["torchtitan", "torchtitan-compile"]
