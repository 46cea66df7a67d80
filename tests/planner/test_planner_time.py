"""Golden validation of the time model against published runs (strict tolerances).

Rows the general model misses are marked ``xfail(strict=True)`` with the measured miss in
the reason: they stay visible, and the mark fails loudly if a change makes them pass.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.evaluate import evaluate_config, resolve_engine
from gpuwise.planner.flops import korthikanti_hardware_flops
from gpuwise.planner.models import get_model, list_models
from gpuwise.planner.parallel import ENGINES, Setup
from gpuwise.planner.search import search
from tests.planner.korthikanti import K_MODEL, KORTHIKANTI, run_korthikanti

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
NARAYANAN = list(csv.DictReader((DATA / "narayanan2021_table1.csv").open()))
FOUNDRY = list(csv.DictReader((DATA / "llm_foundry_benchmarks.csv").open()))

# Rows the general model misses (numbers: predicted vs published).
MISSES: dict[str, str] = {
    # every step time of these runs is within 10 %, but 1 MFU point is 2 % of step time
    "korthikanti_mfu[22B]": "MFU 43.6 % vs 41.5 %, HFU (paper's formula) 45.9 % vs 43.7 %",
    "korthikanti_mfu[175B]": "MFU 53.5 % vs 51.4 %, HFU (paper's formula) 54.9 % vs 52.8 %",
    "korthikanti_mfu[530B]": "MFU 58.4 % vs 56.0 %, HFU (paper's formula) 59.4 % vs 57.0 %",
}


def _mark(test: str, rid: str) -> Any:
    key = f"{test}[{rid}]"
    if key in MISSES:
        return pytest.param(rid, marks=pytest.mark.xfail(strict=True, reason=MISSES[key]), id=rid)
    return pytest.param(rid, id=rid)


def narayanan_best(row: dict[str, str]) -> dict[str, object]:
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
    best = narayanan_best(row)
    # Table 1 counts recomputation (its FLOPs formula has the 96 = 4 x 24 factor): HFU rate
    assert best["hw_tflops_per_gpu"] == pytest.approx(
        float(row["achieved_tflops_per_gpu"]), rel=0.15
    )


#: Korthikanti et al.'s baseline ("full recompute") is Megatron-LM with tensor and pipeline
#: parallelism and full recomputation but without their sequence parallelism (Table 4 lists it
#: as "baseline with recompute", separately from "sequence parallelism"); "present work" is
#: sequence parallelism + selective recomputation.
K_ENGINE = {
    "full": replace(ENGINES["megatron-2022"], name="megatron-2022-no-sp", sequence_parallel=False),
    "selective": ENGINES["megatron-2022"],
}


@pytest.mark.parametrize("rid", [_mark("korthikanti_step", r["model"]) for r in KORTHIKANTI])
def test_korthikanti_step_times(rid: str) -> None:
    row = next(r for r in KORTHIKANTI if r["model"] == rid)
    full = run_korthikanti(row, "full", K_ENGINE["full"])["time_s"]["step"]
    sel = run_korthikanti(row, "selective", K_ENGINE["selective"])["time_s"]["step"]
    assert full == pytest.approx(float(row["step_s_full_recompute"]), rel=0.10)
    assert sel == pytest.approx(float(row["step_s_sp_selective"]), rel=0.10)


@pytest.mark.parametrize("rid", [_mark("korthikanti_mfu", r["model"]) for r in KORTHIKANTI])
def test_korthikanti_mfu(rid: str) -> None:
    row = next(r for r in KORTHIKANTI if r["model"] == rid)
    r = run_korthikanti(row, "selective", K_ENGINE["selective"])
    assert 100 * r["mfu"] == pytest.approx(float(row["mfu_pct_sp_selective"]), abs=1.0)
    # the paper's HFU counts the recomputed attention core as 12sh per token and layer (its
    # formula); ours counts the physical 4sh -- compare like with like
    m, gpus = get_model(K_MODEL[rid]), int(row["gpus"])
    paper_hw = korthikanti_hardware_flops(
        int(row["global_batch"]), int(row["seq"]), m.layers, m.hidden, m.vocab
    )
    hfu = paper_hw / (r["time_s"]["step"] * gpus * 312e12)
    assert 100 * hfu == pytest.approx(float(row["hfu_pct_sp_selective"]), abs=1.0)


def _foundry_id(r: dict[str, str]) -> str:
    return f"{r['model']}-{r['gpu']}"


def run_foundry(row: dict[str, str]) -> dict[str, Any]:
    """The llm-foundry benchmark row's configuration (FSDP, its batch and recompute)."""
    g, mb, ga = int(row["gpus"]), int(row["micro_batch"]), int(row["grad_accum"])
    # Composer FSDP mixed precision: DEFAULT reduces gradients in fp32, PURE in bf16
    engine = ENGINES["llm-foundry-2023"]
    if row["mp_mode"] == "DEFAULT":
        engine = replace(engine, name="llm-foundry-2023-fp32-reduce", grad_bytes=4)
    return evaluate_config(
        get_model(row["model"]),
        row["gpu"],
        seq=int(row["seq"]),
        global_batch=g * mb * ga,
        gpus=g,
        zero=3,
        micro_batch=mb,
        engine=engine,
        recompute="full" if row["activation_checkpointing"] == "yes" else "none",
    )


@pytest.mark.parametrize("rid", [_mark("foundry", _foundry_id(r)) for r in FOUNDRY])
def test_llm_foundry_tokens_per_gpu(rid: str) -> None:
    row = next(r for r in FOUNDRY if _foundry_id(r) == rid)
    r = run_foundry(row)
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
    a100: dict[str, Any] = evaluate_config(m, "A100-80GB", **kw)
    h100: dict[str, Any] = evaluate_config(m, "H100-SXM", **kw)
    assert h100["tokens_per_s_per_gpu"] > 2 * a100["tokens_per_s_per_gpu"]
    assert h100["mfu"] < 0.9 * a100["mfu"]
