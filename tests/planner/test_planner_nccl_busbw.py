"""Published nccl-tests bus bandwidths (tests/data/planner/nccl_busbw.csv): the transcription; the
planner's pricing of sequence-parallel all-gather + reduce-scatter pairs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.collectives import LAT_BASE_S, LAT_INTRA_S, ring_allreduce, ring_gather
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
ROWS = list(csv.DictReader((DATA / "nccl_busbw.csv").open()))
NVLINK4 = ("H100-SXM", "H800", "H200")


def _factor(op: str, n: int) -> float:
    return 2.0 * (n - 1) / n if op == "all_reduce" else (n - 1) / n


@pytest.mark.parametrize("i", [i for i, r in enumerate(ROWS) if r["time_us"]])
def test_transcription(i: int) -> None:
    """algbw = size / time and busbw = algbw x nccl-tests' factor, to the printed digits."""
    r = ROWS[i]
    size, t, n = float(r["size_bytes"]), float(r["time_us"]), int(r["gpus"])
    algbw, busbw = float(r["algbw_gbs"]), float(r["busbw_gbs"])
    assert size / t / 1e3 == pytest.approx(algbw, rel=6e-3)
    assert algbw * _factor(r["op"], n) == pytest.approx(busbw, abs=0.011)


def test_every_source_is_documented() -> None:
    text = (DATA / "SOURCE.md").read_text()
    for source in {r["source"] for r in ROWS}:
        assert f"`{source}`" in text


def test_sequence_parallel_pair_is_two_calls() -> None:
    """Without TP overlap, each SP all-gather + reduce-scatter pair is two NCCL calls, each
    with its launch latency: one base latency more than the all-reduce of the same bytes, and
    the layer's forward TP time is two such pairs."""
    n, bw, lat = np.array([8.0]), np.array([204.0]), np.array([LAT_INTRA_S])
    s = np.array([50e6])
    pair = 2.0 * ring_gather(s, n, bw, lat)
    assert pair[0] == pytest.approx(ring_allreduce(s, n, bw, lat)[0] + LAT_BASE_S)
    model, hw = get_model("gpt-175b-megatron"), Hardware.from_catalog(get_accelerator("A100-80GB"))
    setup = Setup(seq=2048, global_batch=8, gpus=8, engine=ENGINES["megatron-2022"])
    comm_f = layer_times(model, False, single(tp=8), setup, hw)["comm_f"]
    one = ring_gather(np.array([2.0 * model.hidden * 2048]), n, np.array([hw.link_gbs]), lat)
    assert comm_f[0] == pytest.approx(4.0 * one[0])
