"""The fused (flash) attention core launches one grid over every (batch, head) pair."""

from __future__ import annotations

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.flash_rate import FA2_FWD
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

A100 = Hardware.from_catalog(get_accelerator("A100-80GB"))


def _attn_seconds_per_token(seq: int, micro_batch: int) -> float:
    model = get_model("mpt-7b")
    setup = Setup(seq, micro_batch * 8, 8, 8, 25.0, 0.05, ENGINES["modern"], None)
    c = single(8, 1, 1, 1, 1, 1, 3, "none", micro_batch, "bf16")
    lt = layer_times(model, False, c, setup, A100)
    return float(lt["attn_f"][0]) / (seq * micro_batch)


def test_short_sequences_fill_the_gpu_through_batch_and_heads() -> None:
    """At 512 tokens one head's tiles (4 x 4) would leave most of the 108 SMs idle, but the
    kernel's grid spans batch x heads (32 heads here): the per-FLOP rate is the published
    kernel's at 512 against 4096 tokens (FlashAttention-2 forward, head dimension 128: 132 vs
    198 TFLOP/s), losing only the
    partial last wave of SMs, which a micro-batch of 1 leaves emptier."""
    short, long_ = _attn_seconds_per_token(512, 4), _attn_seconds_per_token(4096, 4)
    # causal attention FLOPs per token grow with the sequence length
    published = FA2_FWD[128][3] / FA2_FWD[128][0]
    assert short * 4096 / 512 / long_ == pytest.approx(published, rel=0.01)
    # one sequence: 4 x 4 tiles x 32 heads = 512 tiles in 5 waves of 108 SMs (540 slots);
    # four: 2048 tiles in 19 waves (2052 slots)
    waves = (540 / 512) / (2052 / 2048)
    assert _attn_seconds_per_token(512, 1) / short == pytest.approx(waves, rel=1e-3)
