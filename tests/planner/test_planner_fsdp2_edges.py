"""FSDP2's root and first-block collectives at a step's edges (``Engine.fsdp2_exposed_edges``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.collectives import LAT_BASE_S, LAT_INTRA_S
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.fsdp2_edges import edge_params
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import get_model

TITAN = ENGINES["torchtitan"]
LLAMA3_8B = get_model("llama-3-8b")
H100 = get_accelerator("H100-SXM")


def test_edge_units_are_the_root_and_the_first_block() -> None:
    """Root (embedding, final norm, output layer) plus one of the stage's blocks."""
    stage = {
        "dense": np.array([320.0]),
        "expert": np.array([64.0]),
        "emb_first": np.array([50.0]),
        "emb_last": np.array([50.0]),
    }
    dense, expert = edge_params(stage, np.array([32.0]))
    assert dense[0] == 60.0 and expert[0] == 2.0


def _run(engine: Engine, zero: int = 3) -> dict[str, Any]:
    """Llama 3 8B on one 8-GPU H100 node, FSDP over 8, one micro-batch of 8192 tokens."""
    kw: dict[str, Any] = {"seq": 8192, "global_batch": 8, "gpus": 8, "micro_batch": 1}
    return evaluate_config(
        LLAMA3_8B, H100, engine=engine, zero=zero, recompute="selective", **kw
    )["time_s"]


def _ring(nbytes: float) -> float:
    """NVLink ring all-gather / reduce-scatter over 8 GPUs (planner.collectives)."""
    bw = Hardware.from_catalog(H100).gather_gbs * 1e9
    return 7 / 8 * nbytes / bw + LAT_BASE_S + 7 * LAT_INTRA_S


def test_edges_add_the_root_and_first_block_collectives() -> None:
    """The step pays the bf16 all-gather and the fp32 reduce-scatter of the root plus one block
    on top of the hidden collectives; the reduce-scatter is reported as exposed DP time."""
    on, off = _run(TITAN), _run(replace(TITAN, fsdp2_exposed_edges=False))
    edge = 2 * LLAMA3_8B.vocab * LLAMA3_8B.hidden + LLAMA3_8B.norm_params()
    edge += LLAMA3_8B.layer_params(False)
    assert on["step"] - off["step"] == pytest.approx(_ring(2.0 * edge) + _ring(4.0 * edge))
    assert on["dp_exposed"] == pytest.approx(_ring(4.0 * edge))
    assert off["dp_exposed"] == 0.0


def test_edges_only_under_zero3_on_the_fsdp2_presets() -> None:
    """Replicated parameters gather nothing; the flag marks the FSDP2 presets without a
    pipeline schedule (AutoModel's pipelined MoE preset gathers once per step instead)."""
    off = replace(TITAN, fsdp2_exposed_edges=False)
    assert _run(TITAN, zero=1)["step"] == pytest.approx(_run(off, zero=1)["step"], rel=1e-12)
    flagged = sorted(n for n, e in ENGINES.items() if e.fsdp2_exposed_edges)
    assert flagged == ["fsdp", "torchtitan", "torchtitan-compile"]
