"""Golden validation of the time model against published runs (strict tolerances).

Rows the general model misses are marked ``xfail(strict=True)`` with the measured miss in
the reason: they stay visible, and the mark fails loudly if a change makes them pass.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.evaluate import evaluate_config, resolve_engine
from gpuwise.planner.models import get_model, list_models
from gpuwise.planner.parallel import Setup
from gpuwise.planner.search import search

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
NARAYANAN = list(csv.DictReader((DATA / "narayanan2021_table1.csv").open()))
KORTHIKANTI = list(csv.DictReader((DATA / "korthikanti2022.csv").open()))
FOUNDRY = list(csv.DictReader((DATA / "llm_foundry_benchmarks.csv").open()))
K_MODEL = {"22B": "gpt-22b", "175B": "gpt-175b-megatron", "530B": "gpt-530b", "1T": "gpt-1t"}

# Known misses of the general model (predicted / published), see the module docstring.
# Rows the general model misses (numbers: predicted vs published).
MISSES: dict[str, str] = {
    "korthikanti_step[22B]": "predicted 1.22 s full / 0.96 s selective vs 1.42 / 1.10 (-14 %)",
    "korthikanti_mfu[22B]": "MFU 47.9 % vs 41.5 %, HFU 48.8 % vs 43.7 %",
    "korthikanti_mfu[175B]": "MFU 53.9 % vs 51.4 %, HFU 54.4 % vs 52.8 %",
    "korthikanti_mfu[530B]": "MFU 57.8 % vs 56.0 %, HFU 58.1 % vs 57.0 %",
    "korthikanti_mfu[1T]": "MFU 53.7 % vs 56.3 %, HFU 53.9 % vs 57.0 %",
    "foundry[mpt-7b-H100-SXM]": "13137 vs 10643 tokens/s/GPU (+23 %)",
    "foundry[mpt-13b-A100-80GB]": "2695 vs 2262 tokens/s/GPU (+19 %)",
}


def _mark(test: str, rid: str) -> Any:
    key = f"{test}[{rid}]"
    if key in MISSES:
        return pytest.param(rid, marks=pytest.mark.xfail(strict=True, reason=MISSES[key]), id=rid)
    return pytest.param(rid, id=rid)


def _narayanan_best(row: dict[str, str]) -> dict[str, object]:
    """The paper's TP/PP, full recompute, Megatron-2021 behaviour; micro-batch searched."""
    m = next(
        x
        for x in list_models()
        if (x.hidden, x.layers, x.vocab) == (int(row["hidden"]), int(row["layers"]), 51200)
    )
    setup = Setup(
        2048, int(row["global_batch"]), int(row["gpus"]), engine=resolve_engine("megatron-2021")
    )
    fixed = {
        "tp": int(row["tp"]),
        "pp": int(row["pp"]),
        "vpp": 1,
        "cp": 1,
        "zero": 0,
        "recompute": "full",
        "precision": "bf16",
    }
    res = search(m, Hardware.from_catalog(get_accelerator("A100-80GB")), setup, fixed, top=1)
    assert res.ranked, f"no fitting configuration for {row['params_b']}B"
    return res.ranked[0]


@pytest.mark.parametrize("rid", [_mark("narayanan", r["params_b"]) for r in NARAYANAN])
def test_narayanan_achieved_tflops(rid: str) -> None:
    row = next(r for r in NARAYANAN if r["params_b"] == rid)
    best = _narayanan_best(row)
    # Table 1 counts recomputation (its FLOPs formula has the 96 = 4 x 24 factor): HFU rate
    assert best["hw_tflops_per_gpu"] == pytest.approx(
        float(row["achieved_tflops_per_gpu"]), rel=0.15
    )


def _korthikanti(row: dict[str, str], recompute: str) -> dict[str, Any]:
    return evaluate_config(
        get_model(K_MODEL[row["model"]]),
        "A100-80GB",
        seq=int(row["seq"]),
        global_batch=int(row["global_batch"]),
        gpus=int(row["gpus"]),
        tp=int(row["tp"]),
        pp=int(row["pp"]),
        vpp=int(row["interleave"]),
        micro_batch=int(row["micro_batch"]),
        recompute=recompute,
        engine="megatron-2022",
    )


@pytest.mark.parametrize("rid", [_mark("korthikanti_step", r["model"]) for r in KORTHIKANTI])
def test_korthikanti_step_times(rid: str) -> None:
    row = next(r for r in KORTHIKANTI if r["model"] == rid)
    full = _korthikanti(row, "full")["time_s"]["step"]
    sel = _korthikanti(row, "selective")["time_s"]["step"]
    assert full == pytest.approx(float(row["step_s_full_recompute"]), rel=0.10)
    assert sel == pytest.approx(float(row["step_s_sp_selective"]), rel=0.10)


@pytest.mark.parametrize("rid", [_mark("korthikanti_mfu", r["model"]) for r in KORTHIKANTI])
def test_korthikanti_mfu(rid: str) -> None:
    row = next(r for r in KORTHIKANTI if r["model"] == rid)
    r = _korthikanti(row, "selective")
    assert 100 * r["mfu"] == pytest.approx(float(row["mfu_pct_sp_selective"]), abs=1.0)
    assert 100 * r["hfu"] == pytest.approx(float(row["hfu_pct_sp_selective"]), abs=1.0)


def _foundry_id(r: dict[str, str]) -> str:
    return f"{r['model']}-{r['gpu']}"


@pytest.mark.parametrize("rid", [_mark("foundry", _foundry_id(r)) for r in FOUNDRY])
def test_llm_foundry_tokens_per_gpu(rid: str) -> None:
    row = next(r for r in FOUNDRY if _foundry_id(r) == rid)
    g, mb = int(row["gpus"]), int(row["micro_batch"])
    r = evaluate_config(
        get_model(row["model"]),
        row["gpu"],
        seq=int(row["seq"]),
        global_batch=g * mb,
        gpus=g,
        zero=3,
        micro_batch=mb,
        engine="fsdp",
        recompute="full" if row["activation_checkpointing"] == "yes" else "none",
    )
    assert r["fits"]
    assert r["tokens_per_s_per_gpu"] == pytest.approx(float(row["tokens_per_s_per_gpu"]), rel=0.15)


def test_h100_reaches_lower_fraction_of_peak_than_a100() -> None:
    """Same model and plan: H100's MFU is lower (power-limited ceiling + machine balance)."""
    m = get_model("mpt-7b")
    kw: dict[str, Any] = {
        "seq": 2048,
        "global_batch": 48,
        "gpus": 8,
        "zero": 3,
        "micro_batch": 6,
        "engine": "fsdp",
    }
    a100 = evaluate_config(m, "A100-80GB", **kw)
    h100 = evaluate_config(m, "H100-SXM", **kw)
    assert h100["tokens_per_s_per_gpu"] > 2 * a100["tokens_per_s_per_gpu"]
    assert h100["mfu"] < 0.9 * a100["mfu"]
