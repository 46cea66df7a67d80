"""The published FlashAttention-2-class Hopper points (``hopper_fa2_rates.csv``) and the
benchmark that prints the planner's Ampere-instruction rate beside them."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.bench_flash_rate import FA2_RATES, fa2_points
from gpuwise.catalog import get_accelerator
from gpuwise.planner.flash_rate import flash_tflops


def _rows() -> list[dict[str, str]]:
    with FA2_RATES.open() as f:
        return list(csv.DictReader(f))


def test_fa2_points_are_causal_checks_only() -> None:
    """No model constant is read from this file: every row is a causal check."""
    rows = _rows()
    assert rows and {r["use"] for r in rows} == {"check"}
    assert {r["causal"] for r in rows} == {"yes"}
    assert {r["direction"] for r in rows} <= {"fwd", "bwd"}


def test_fa2_points_print_the_ampere_instruction_model() -> None:
    """One printed row per published point; the model column is the planner's FlashAttention-2
    rate on H100-SXM (not the Hopper-native one) at the point's shape."""
    rows, printed = _rows(), fa2_points()
    assert len(printed) == len(rows)
    acc = get_accelerator("H100-SXM")
    for r, p in zip(rows, printed, strict=True):
        seq = np.array([float(r["seq"])])
        heads = np.array([float(r["batch"]) * float(r["q_heads"])])
        d = float(r["head_dim"])
        want = flash_tflops(acc, seq, seq, d, heads, r["direction"], 2, False)[0]
        assert float(p[6]) == pytest.approx(want, abs=0.5)
        assert float(p[5]) == pytest.approx(float(r["tflops"]), abs=0.5)
        native = flash_tflops(acc, seq, seq, d, heads, r["direction"], 2, True)[0]
        assert abs(float(p[6]) - native) > 1.0
