"""Published nccl-tests bus bandwidths (tests/data/planner/nccl_busbw.csv): the transcription,
the NVLink-4 all-gather / reduce-scatter rate taken from them, and where the planner uses it."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.collectives import (
    LAT_BASE_S,
    LAT_INTRA_S,
    link,
    ring_allreduce,
    ring_gather,
)
from gpuwise.planner.efficiency import gather_link_gbs, link_gbs
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
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


def test_nvlink4_gather_fraction_is_the_sources_median() -> None:
    """efficiency.yaml's NVLink-4 all-gather / reduce-scatter rate: the median over sources and
    ops of the ring busbw at each source's largest size, over the 450 GB/s line rate."""
    largest: dict[tuple[str, str], tuple[float, float]] = {}
    for r in ROWS:
        if r["gpu"] in NVLINK4 and r["op"] != "all_reduce" and r["algo"] in ("", "Ring"):
            size = float(r["size_bytes"] or 0.0)
            key = (r["source"], r["op"])
            if key not in largest or size > largest[key][0]:
                largest[key] = (size, float(r["busbw_gbs"]))
    assert len(largest) >= 4  # four source/op pairs from three sources
    median = statistics.median(b for _, b in largest.values())
    h100 = get_accelerator("H100-SXM")
    assert gather_link_gbs(h100) / h100.interconnect_gbs == pytest.approx(median / 450.0, abs=5e-3)
    # the all-reduce keeps its own (ring) rate; chips without such a measurement share one rate
    assert gather_link_gbs(h100) < link_gbs(h100)
    a100 = get_accelerator("A100-80GB")
    assert gather_link_gbs(a100) == link_gbs(a100)


def test_link_gives_the_gather_rate_within_a_node_only() -> None:
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    setup = Setup(seq=2048, global_batch=16, gpus=16, net_gbs_per_gpu=50.0)
    span = np.array([8.0, 16.0])
    bw, _ = link(hw, setup, span)
    gbw, _ = link(hw, setup, span, gather=True)
    assert gbw[0] == pytest.approx(hw.gather_gbs) and bw[0] == pytest.approx(hw.link_gbs)
    assert gbw[1] == bw[1]  # one member per node: the NIC, not NVLink, sets both


def _h100_sp(hw: Hardware, engine: str) -> dict[str, Any]:
    return evaluate_config(
        get_model("llama-3-70b"),
        hw,
        seq=8192,
        global_batch=64,
        gpus=64,
        tp=8,
        pp=4,
        vpp=5,
        zero=1,
        precision="bf16",
        net_gbs_per_gpu=50.0,
        engine=engine,
    )


@pytest.mark.parametrize("engine", ["modern", "megatron-2022"])
def test_sequence_parallel_collectives_use_the_gather_rate(engine: str) -> None:
    """SP's all-gathers and reduce-scatters, with or without Transformer Engine's overlap,
    are priced at the gather rate: H100's measured rate gives more TP time than pricing them
    at the all-reduce rate."""
    h100 = Hardware.from_catalog(get_accelerator("H100-SXM"))
    same = Hardware(h100.acc, h100.mem_bw_gbs, h100.link_gbs, gather_gbs=h100.link_gbs)
    slow, fast = _h100_sp(h100, engine)["time_s"], _h100_sp(same, engine)["time_s"]
    assert slow["tp_comm"] > fast["tp_comm"]


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
    one = ring_gather(np.array([2.0 * model.hidden * 2048]), n, np.array([hw.gather_gbs]), lat)
    assert comm_f[0] == pytest.approx(4.0 * one[0])
