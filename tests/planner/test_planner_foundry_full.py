"""llm-foundry's whole MPT benchmark table (``tests/data/planner/llm_foundry_full.csv``).

Out of sample: no throughput is asserted here (``benchmarks/bench_planner_foundry_full.py``
reports them).  These tests check the transcription against the README's own arithmetic, that
every row is a configuration the golden runner accepts, and the runner's two optional inputs.
"""

from __future__ import annotations

import csv
import math

import pytest

from gpuwise.planner.models import get_model
from tests.planner.test_planner_time import DATA, FOUNDRY_PRECISION, run_foundry

ROWS = list(csv.DictReader((DATA / "llm_foundry_full.csv").open()))
#: dense BF16 peaks the README's MFU divides by; its FP8 table uses H100's FP8 peak
PEAK_TFLOPS = {"h100_bf16": 989.0, "h100_fp8": 1979.0, "a100_80gb": 312.0, "a100_40gb": 312.0}


def test_csv_holds_the_four_tables() -> None:
    counts = {t: sum(r["table"] == t for r in ROWS) for t in PEAK_TFLOPS}
    assert counts == {"h100_bf16": 52, "h100_fp8": 10, "a100_80gb": 61, "a100_40gb": 78}


@pytest.mark.parametrize("i", range(len(ROWS)))
def test_row_is_consistent_and_valid(i: int) -> None:
    r = ROWS[i]
    g, mb, ga, s = int(r["gpus"]), int(r["micro_batch"]), int(r["grad_accum"]), int(r["seq"])
    assert int(r["global_batch"]) == g * mb * ga
    assert int(r["tokens_per_s"]) // g == int(r["tokens_per_s_per_gpu"])
    m = get_model(r["model"])
    # these runs' yamls keep MPT's defaults: learned positions and biases (SOURCE.md)
    n = m.with_updates(bias=True, learned_pos_emb=True, seq_len=s).num_params()
    assert n == int(r["num_params"])
    # the README's MFU formula: 3 x (2 N + 4 L d s) FLOPs per token
    flops = 6 * n + 12 * m.layers * m.hidden * s
    mfu = 100 * flops * int(r["tokens_per_s"]) / g / (PEAK_TFLOPS[r["table"]] * 1e12)
    assert mfu == pytest.approx(float(r["mfu_pct"]), abs=0.05)
    recompute = 4 / 3 if r["activation_checkpointing"] == "yes" else 1.0
    assert float(r["hfu_pct"]) == pytest.approx(recompute * float(r["mfu_pct"]), abs=0.05)
    assert r["mp_mode"] in {"DEFAULT", "PURE"} and r["precision"] in FOUNDRY_PRECISION
    out = run_foundry(r)  # a configuration the golden runner accepts
    assert math.isfinite(float(out["tokens_per_s_per_gpu"]))
    assert float(out["tokens_per_s_per_gpu"]) > 0


def _row(table: str, model: str, seq: str, gpus: str) -> dict[str, str]:
    return next(
        r
        for r in ROWS
        if (r["table"], r["model"], r["seq"], r["gpus"]) == (table, model, seq, gpus)
    )


def test_runner_reads_the_network_column() -> None:
    """A multi-node row slows down when its stated inter-node rate is lower."""
    row = _row("a100_40gb", "mpt-70b", "2048", "64")
    slow = run_foundry({**row, "net_gbs_per_gpu": "1.0"})["tokens_per_s_per_gpu"]
    assert float(slow) < float(run_foundry(row)["tokens_per_s_per_gpu"])


def test_runner_runs_amp_fp8_rows_in_fp8() -> None:
    row = _row("h100_fp8", "mpt-3b", "2048", "8")
    bf16 = run_foundry({**row, "precision": "amp_bf16"})["tokens_per_s_per_gpu"]
    assert float(run_foundry(row)["tokens_per_s_per_gpu"]) > float(bf16)
