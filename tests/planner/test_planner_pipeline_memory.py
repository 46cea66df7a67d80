"""In-flight activations per pipeline rank (``planner.pipeline_memory``) against an op-by-op
replay of Megatron-LM's schedules, and the memory terms they feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.memory import GIB
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.pipeline_memory import rank_loads
from tests.planner.megatron_schedule import _interleaved, _plain

SPLIT = replace(ENGINES["modern"], pipeline_split_embedding_loss=True)


def _replayed_peak(p: int, v: int, m: int, r: int, layers: Callable[[int], int]) -> int:
    """Most layer-micro-batches of activations rank ``r`` holds: every model-chunk forward of
    the replayed schedule adds its chunk's layers, every backward frees them."""
    ops = _interleaved(p, v, m, r) if v > 1 else _plain(p, m, r)
    held = peak = 0
    for kind, chunk, _ in ops:
        if kind == "F":
            held += layers(chunk)
        elif kind == "B":
            held -= layers(chunk)
        peak = max(peak, held)
    return peak


def _loads(p: int, v: int, m: int, layers: int, engine=ENGINES["modern"]) -> dict[str, float]:
    c = single(dp=1, pp=p, vpp=v)
    setup = Setup(seq=2048, global_batch=m, gpus=p, engine=engine)
    model = get_model("llama-2-7b").model_copy(update={"layers": layers})
    return {k: float(x[0]) for k, x in rank_loads(model, c, setup).items()}


GRID = [(p, v, g * p) for p in (2, 3, 4, 8) for v in (1, 2, 3, 4) for g in (2, 3)]


@pytest.mark.parametrize(("p", "v", "m"), GRID)
def test_even_split_ranks_hold_what_the_schedule_keeps(p: int, v: int, m: int) -> None:
    """Every chunk holding ``k`` layers: the first rank's and the last rank's peaks are the
    replayed schedule's (the last rank interleaved holds ``(v - 1) p + 1`` chunks' worth, not
    one micro-batch)."""
    k = 2
    got = _loads(p, v, m, k * p * v)
    assert got["inflight_first"] == _replayed_peak(p, v, m, 0, lambda c: k)
    assert got["inflight_last"] == _replayed_peak(p, v, m, p - 1, lambda c: k)
    assert got["inflight_mid"] == 0.0


@pytest.mark.parametrize(("p", "v", "m"), GRID)
def test_embedding_and_loss_slots_take_a_layer_from_the_end_ranks(p: int, v: int, m: int) -> None:
    """With the embedding and the loss counted as layer slots, rank 0's first chunk and the last
    rank's last chunk hold one layer fewer: each rank's peak is the replayed schedule's."""
    k = 2  # layer slots per chunk
    got = _loads(p, v, m, k * p * v - 2, SPLIT)

    def first(c: int) -> int:
        return k * v - 1 if v == 1 else (k - 1 if c == 0 else k)

    def last(c: int) -> int:
        return k * v - 1 if v == 1 else (k - 1 if c == v - 1 else k)

    assert got["layers_first"] == got["layers_last"] == k * v - 1 and got["layers_mid"] == k * v
    assert got["inflight_first"] == _replayed_peak(p, v, m, 0, first)
    assert got["inflight_last"] == _replayed_peak(p, v, m, p - 1, last)
    mid = _replayed_peak(p, v, m, 1, lambda c: k) if p >= 3 else 0
    assert got["inflight_mid"] == mid


def test_llama3_405b_split_peaks_on_the_second_rank() -> None:
    """Llama 3 405B at TP8 PP16 v8, 32 micro-batches (126 layers + embedding + loss = 128
    chunks): the second rank, with 8 layers and 141 chunk-micro-batches in flight, is the
    heaviest; the even split charged rank 0 8 layers, the embedding and 143 in flight."""
    m = get_model("llama-3-405b")
    kw = {
        "seq": 8192, "global_batch": 2048, "gpus": 8192, "tp": 8, "pp": 16, "vpp": 8,
        "zero": 2, "micro_batch": 1,
    }
    even = evaluate_config(m, "H100-SXM", engine=ENGINES["modern"], **kw)
    split = evaluate_config(m, "H100-SXM", engine=SPLIT, **kw)
    layer = split["layer_activation_bytes"]
    assert even["layer_activation_bytes"] == layer
    assert even["memory_gib"]["activations"] * GIB == pytest.approx(143 * layer, rel=1e-9)
    assert split["memory_gib"]["activations"] * GIB == pytest.approx(141 * layer, rel=1e-9)
    per_layer_w = 2.0 * m.layer_params(False) / 8
    emb = 2.0 * m.vocab * m.hidden / 8
    assert even["memory_gib"]["weights"] * GIB == pytest.approx(8 * per_layer_w + emb, rel=1e-9)
    assert split["memory_gib"]["weights"] * GIB == pytest.approx(8 * per_layer_w, rel=1e-9)


def test_split_is_inert_without_a_pipeline() -> None:
    """With one pipeline stage there is nothing to split: the flag changes no memory term."""
    m = get_model("llama-3-8b")
    kw = {"seq": 8192, "global_batch": 64, "gpus": 8, "micro_batch": 1, "zero": 1}
    a = evaluate_config(m, "H100-SXM", engine=ENGINES["modern"], **kw)["memory_gib"]
    b = evaluate_config(m, "H100-SXM", engine=SPLIT, **kw)["memory_gib"]
    assert a == b
    assert np.isfinite(a["total"])

