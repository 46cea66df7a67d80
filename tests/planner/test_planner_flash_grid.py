"""The fused (flash) attention core launches one grid over every (batch, head) pair."""

from __future__ import annotations

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import ENGINES, Setup, single
from gpuwise.planner.time import _layer_times

A100 = Hardware.from_catalog(get_accelerator("A100-80GB"))


def _attn_seconds_per_token(seq: int, micro_batch: int) -> float:
    model = get_model("mpt-7b")
    setup = Setup(seq, micro_batch * 8, 8, 8, 25.0, 0.05, ENGINES["modern"], None)
    c = single(8, 1, 1, 1, 1, 1, 3, "none", micro_batch, "bf16")
    lt = _layer_times(model, False, c, setup, A100)
    return float(lt["attn_f"][0]) / (seq * micro_batch)


def test_short_sequences_fill_the_gpu_through_batch_and_heads() -> None:
    """At 512 tokens one head's query tiles (4) would leave most of the 108 SMs idle, but the
    kernel's grid spans batch x heads (32 heads here): the per-FLOP rate stays within a few
    per cent of a long sequence's, and does not depend on the micro-batch."""
    short, long_ = _attn_seconds_per_token(512, 4), _attn_seconds_per_token(4096, 4)
    # causal attention FLOPs per token grow with the sequence length
    assert short * 4096 / 512 == pytest.approx(long_, rel=0.10)
    assert _attn_seconds_per_token(512, 1) == pytest.approx(short, rel=0.05)
