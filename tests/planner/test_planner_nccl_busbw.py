"""Published nccl-tests bus bandwidths (tests/data/planner/nccl_busbw.csv): the transcription."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

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
