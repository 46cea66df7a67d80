"""Golden test: gpt-fast batch-1 decode on A100-80GB (tests/data/sizing/SOURCE.md).

Batch-1 decode streams every weight once per token, so tokens/s ≈ 1 / (weight bytes /
achievable HBM bandwidth + dequantization + per-kernel overhead).  The published runs used a
330 W power cap; HBM bandwidth does not depend on the SM clock, so the cap is not modelled
(it could only slow the dequantization part of int8/int4 a little).  One model for every row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gpuwise.planner.models import get_model
from gpuwise.serving.hw import hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.timing import Deployment, decode_step

DATA = Path(__file__).resolve().parents[1] / "data" / "sizing"
GPT_FAST_INT4_GROUP = 32  # the README's "4-bit (G=32)"
PROMPT, NEW_TOKENS = 6, 200  # "Hello, my name is" and gpt-fast's default max_new_tokens


def _rows() -> list[dict[str, str]]:
    with open(DATA / "inference_decode_gptfast.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _dep(row: dict[str, str]) -> Deployment:
    group = GPT_FAST_INT4_GROUP if row["precision"] == "int4" else None
    return Deployment(
        get_model(row["model"]), hardware(row["gpu"]), int(row["tp"]), row["precision"],
        group_size=group,
    )


@pytest.mark.parametrize(
    "row", [r for r in _rows() if r["decode_tokens_per_s"] != "OOM"],
    ids=lambda r: f"{r['model']}-{r['precision']}",
)
def test_batch1_decode_within_15pct(row: dict[str, str]) -> None:
    step = decode_step(_dep(row), int(row["batch"]), PROMPT + NEW_TOKENS / 2)
    assert step.bound == "memory"
    assert 1.0 / step.total_s == pytest.approx(float(row["decode_tokens_per_s"]), rel=0.15)


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['model']}-{r['precision']}-fit")
def test_fits_or_oom_as_published(row: dict[str, str]) -> None:
    dep = _dep(row)
    mf = memory_fit(dep.model, dep.hw.memory_bytes, dep.tp, dep.weights, "bf16",
                    PROMPT + NEW_TOKENS, dep.group_size)
    assert mf.fits == (row["decode_tokens_per_s"] != "OOM")


def test_cli_70b_bf16_does_not_fit_but_int8_does(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("plan", "serve", "--model", "llama-2-70b", "--gpu", "A100-80GB", "--tp", "1",
            "--prompt-tokens", "6", "--output-tokens", "200", "--json")
    bf16 = cli(*args, "--precision", "bf16")
    int8 = cli(*args, "--precision", "int8")
    assert bf16.code == 0 and int8.code == 0
    assert bf16.json()["fits"] is False and "suggestion" in bf16.json()
    assert int8.json()["fits"] is True
    assert bf16.json()["memory_gib_per_gpu"] > 80 > int8.json()["memory_gib_per_gpu"]


def test_cli_json_contract(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--model", "llama-2-7b", "--gpu", "A100-80GB", "--tp", "1",
              "--precision", "bf16", "--prompt-tokens", "6", "--output-tokens", "200",
              "--batch", "1", "--json")
    assert res.code == 0, res.err
    out = res.json()
    for key, typ in (("fits", bool), ("memory_gib_per_gpu", float), ("ttft_ms", float),
                     ("tpot_ms", float), ("decode_tokens_per_s", float), ("max_batch", int)):
        assert isinstance(out[key], typ), key
    assert out["decode_tokens_per_s"] == pytest.approx(1000.0 / out["tpot_ms"])
