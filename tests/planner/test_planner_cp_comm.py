"""Context-parallel K/V traffic: the ring under the attention core vs Llama 3's exposed
all-gather (``Engine.cp_allgather``, planner.cp_comm)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.collectives import link, ring_gather
from gpuwise.planner.cp_comm import (
    ALLGATHER_BWD_COPIES,
    balanced_causal_pairs,
    cp_comm_times,
    local_kv_bytes,
)
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Candidates, Setup, single

RING = ENGINES["modern"]
ALLGATHER = replace(RING, name="modern-cpag", cp_allgather=True)
MODEL = get_model("llama-3-405b")
SEQ = 131072


def _setup(engine: Any, cp: int = 16) -> tuple[Setup, Candidates, Hardware]:
    """Llama 3's long-context stage: TP 8 inside a node, CP 16 over 16 nodes."""
    setup = Setup(SEQ, 128, 16384, 8, 50.0, 0.05, engine)
    c = single(dp=128 // cp, tp=8, pp=16, vpp=8, cp=cp, zero=2)
    return setup, c, Hardware.from_catalog(get_accelerator("H100-SXM"))


@pytest.mark.parametrize("cp", [2, 4, 16])
def test_load_balanced_chunks_give_every_rank_the_same_causal_work(cp: int) -> None:
    """Rank r holds chunks r and 2cp-1-r; counted token by token (key <= query), its pairs are
    the continuous count plus the half diagonal of its two c x c blocks, the same on every
    rank, and the ranks together cover the whole causal triangle."""
    c = 6
    seq = 2 * cp * c
    for r in range(cp):
        tokens = [q for j in (r, 2 * cp - 1 - r) for q in range(j * c, (j + 1) * c)]
        brute = sum(q + 1 for q in tokens)
        assert brute == pytest.approx(balanced_causal_pairs(seq, cp, r) + c)
        assert balanced_causal_pairs(seq, cp, r) == pytest.approx(seq**2 / (2 * cp))


def test_local_kv_bytes_count_only_the_key_value_heads() -> None:
    """GQA: 8 key/value heads over TP 8 -> one head of K and one of V per rank, 16-bit."""
    setup, c, _ = _setup(ALLGATHER)
    tok = SEQ / 16
    assert local_kv_bytes(MODEL, c, setup)[0] == pytest.approx(2.0 * tok * 1 * 2 * MODEL.hd)


def test_allgather_is_exposed_forward_and_gathers_and_reduce_scatters_backward() -> None:
    """Forward: one all-gather of the full K and V over the CP group, however long the core
    runs; backward: the re-gather plus the reduce-scatter of dK and dV."""
    setup, c, hw = _setup(ALLGATHER)
    kv = local_kv_bytes(MODEL, c, setup)
    big = np.array([1.0])  # an attention core far longer than any transfer
    fwd, bwd = cp_comm_times(hw, setup, c, kv, big, big)
    bw, lat = link(hw, setup, c.tp * c.cp, c.tp)
    gather = 2.0 * ring_gather(8 * kv, c.cp, bw, lat)  # K, V separately
    assert fwd[0] == pytest.approx(gather[0]) and fwd[0] > 1e-3
    assert bwd[0] == pytest.approx(2.0 * gather[0])
    # the ring hides the same traffic under that core
    ring_f, ring_b = cp_comm_times(hw, *_setup(RING)[:2], kv, big, big)
    assert ring_f[0] == ring_b[0] == 0.0


def test_allgather_costs_nothing_without_context_parallelism() -> None:
    setup, c, hw = _setup(ALLGATHER, cp=1)
    fwd, bwd = cp_comm_times(hw, setup, c, local_kv_bytes(MODEL, c, setup), *[np.zeros(1)] * 2)
    assert fwd[0] == bwd[0] == 0.0


def test_layer_time_charges_the_exposed_gather_on_top_of_the_ring() -> None:
    """At 128K the ring hides under the attention core, so switching to the all-gather adds
    exactly the gather forward and twice it backward to the layer's communication."""
    ring_setup, c, hw = _setup(RING)
    ring = layer_times(MODEL, False, c, ring_setup, hw)
    setup = _setup(ALLGATHER)[0]
    ag = layer_times(MODEL, False, c, setup, hw)
    bw, lat = link(hw, setup, c.tp * c.cp, c.tp)
    gather = 2.0 * ring_gather(8 * local_kv_bytes(MODEL, c, setup), c.cp, bw, lat)[0]
    assert ag["attn_f"][0] == ring["attn_f"][0]  # same FLOPs, same kernels
    assert ag["comm_f"][0] - ring["comm_f"][0] == pytest.approx(gather)
    assert ag["comm_b"][0] - ring["comm_b"][0] == pytest.approx(2.0 * gather)


def _evaluate(engine: Any, seq: int, cp: int) -> dict[str, Any]:
    return evaluate_config(
        MODEL, "H100-SXM", seq=seq, global_batch=128 if cp > 1 else 2048, gpus=16384, tp=8,
        pp=16, vpp=8, cp=cp, zero=2, engine=engine, net_gbs_per_gpu=50.0,
    )


def test_allgather_backward_holds_full_length_kv_copies_in_memory() -> None:
    ring, ag = _evaluate(RING, SEQ, 16), _evaluate(ALLGATHER, SEQ, 16)
    setup, c, _ = _setup(ALLGATHER)
    extra = ALLGATHER_BWD_COPIES * 16 * local_kv_bytes(MODEL, c, setup)[0] / 2**30
    got = ag["memory_gib"]["activations"] - ring["memory_gib"]["activations"]
    assert got == pytest.approx(extra)


def test_allgather_flag_leaves_cp1_runs_unchanged() -> None:
    assert _evaluate(ALLGATHER, 8192, 1) == _evaluate(RING, 8192, 1)
