"""Serving memory: weights per precision, GQA-aware KV cache, concurrency capacity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import get_model
from gpuwise.serving.memory import (
    kv_bytes_per_token,
    memory_fit,
    weight_bits,
    weight_bytes,
)


def test_bf16_weights_are_two_bytes_per_parameter() -> None:
    m = get_model("llama-2-7b")
    assert weight_bytes(m, "bf16") == 2 * m.num_params()


def test_quantized_weights_shrink_linear_layers_only() -> None:
    m = get_model("llama-2-7b")
    emb = m.vocab * m.hidden
    assert weight_bytes(m, "int8") == pytest.approx((m.num_params() - emb) + 2 * emb)
    assert weight_bits("int4", 128) == 4.25
    assert weight_bits("int4", 32) == 5.0


def test_kv_cache_is_gqa_aware() -> None:
    # Llama-2-7B (MHA, 32 layers, 32×128): 2·32·4096·2 B; Llama-2-70B (GQA 8 KV heads, 80 layers)
    assert kv_bytes_per_token(get_model("llama-2-7b"), "bf16") == 2 * 32 * 4096 * 2
    assert kv_bytes_per_token(get_model("llama-2-70b"), "bf16") == 2 * 80 * 8 * 128 * 2
    assert kv_bytes_per_token(get_model("llama-2-70b"), "fp8") == 2 * 80 * 8 * 128


def test_tp_beyond_kv_heads_replicates_the_cache() -> None:
    m = get_model("llama-3-8b")  # 8 KV heads
    mem = 80 * 2**30
    kv8 = memory_fit(m, mem, 8, "bf16", "bf16", 1000).kv_bytes_per_token
    assert kv8 == pytest.approx(kv_bytes_per_token(m, "bf16") / 8)
    if m.heads % 16 == 0:
        kv16 = memory_fit(m, mem, 16, "bf16", "bf16", 1000).kv_bytes_per_token
        assert kv16 == kv8


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["llama-2-7b", "llama-2-70b", "llama-3-8b", "qwen2.5-72b"]),
    tp=st.sampled_from([1, 2, 4, 8]),
    prec=st.sampled_from(["bf16", "fp8", "int8", "int4"]),
    seq=st.integers(min_value=1, max_value=32768),
    gib=st.floats(min_value=16, max_value=192),
)
def test_capacity_never_exceeds_usable_memory(
    name: str, tp: int, prec: str, seq: int, gib: float
) -> None:
    m = get_model(name)
    mf = memory_fit(m, gib * 2**30, tp, prec, "bf16", seq)
    if mf.fits:
        assert mf.used_bytes(mf.max_batch, seq) <= mf.usable_bytes
        assert mf.used_bytes(mf.max_batch + 1, seq) > mf.usable_bytes - seq * mf.kv_bytes_per_token
    else:
        assert mf.weights_bytes + seq * mf.kv_bytes_per_token > mf.usable_bytes


def test_unknown_precision_suggests() -> None:
    with pytest.raises(GpuwiseError, match="did you mean.*int4"):
        weight_bits("int5")
