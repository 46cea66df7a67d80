"""Out-of-sample published runs (``tests/data/planner/unseen_runs.csv``): data integrity and
physical properties of the planner on them.  The published-vs-predicted comparison itself is a
report (``benchmarks/bench_planner_unseen.py``), not a golden test: these rows must stay unseen.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_planner_unseen import CSV, evaluate_row, load_rows
from gpuwise.planner.models import get_model

ROWS = load_rows(CSV)
USED = [r for r in ROWS if r["use"] == "yes"]
FP8_H100 = [r for r in USED if r["precision"] == "fp8" and r["gpu"] == "H100-SXM"]


@pytest.mark.parametrize("row", USED, ids=[r["id"] for r in USED])
def test_row_is_a_valid_configuration(row: dict[str, str]) -> None:
    """Every evaluated row names a preset and a configuration whose sizes divide (a row that
    cannot run as written would make its comparison meaningless)."""
    model = get_model(row["model"])
    gpus, tp, pp, cp = (int(row[k]) for k in ("gpus", "tp", "pp", "cp"))
    assert gpus % (tp * pp * cp) == 0
    dp = gpus // (tp * pp * cp)
    assert int(row["global_batch"]) % (dp * int(row["micro_batch"])) == 0
    assert model.heads % tp == 0
    assert float(row["published_tokens_per_s_per_gpu"]) > 0


@pytest.mark.parametrize("row", FP8_H100, ids=[r["id"] for r in FP8_H100])
def test_fp8_faster_than_bf16_but_less_than_twice(row: dict[str, str]) -> None:
    """FP8 doubles only the tensor-core GEMM rate: attention, norms, collectives and the
    optimizer do not speed up, so a whole step gains more than nothing and less than 2x."""
    fp8 = evaluate_row(row)["tokens_per_s_per_gpu"]
    bf16 = evaluate_row({**row, "precision": "bf16"})["tokens_per_s_per_gpu"]
    assert bf16 < fp8 < 2.0 * bf16
