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

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.flops import korthikanti_hardware_flops
from gpuwise.planner.models import get_model, list_models
from tests.planner.korthikanti import K_MODEL, KORTHIKANTI, run_korthikanti

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
NARAYANAN = list(csv.DictReader((DATA / "narayanan2021_table1.csv").open()))
FOUNDRY = list(csv.DictReader((DATA / "llm_foundry_benchmarks.csv").open()))

# Rows the general model misses (numbers: predicted vs published).
MISSES: dict[str, str] = {
    # every step time of these runs is within 10 %, but 1 MFU point is 2 % of step time
    "korthikanti_mfu[175B]": "MFU 52.7 % vs 51.4 %, step time 0.976 of published",
    "korthikanti_mfu[530B]": "MFU 57.9 % vs 56.0 %, step time 0.967 of published",
}


def _mark(test: str, rid: str) -> Any:
    key = f"{test}[{rid}]"
    if key in MISSES:
        return pytest.param(rid, marks=pytest.mark.xfail(strict=True, reason=MISSES[key]), id=rid)
    return pytest.param(rid, id=rid)


#: run_table_1.sh's own settings per row (micro-batch, DDP implementation, layers per virtual
#: pipeline stage), keyed like narayanan2021_table1.csv (tests/data/planner/SOURCE.md)
SC21 = {r["params_b"]: r for r in csv.DictReader((DATA / "narayanan2021_sc21.csv").open())}
#: ``--DDP-impl`` -> the engine preset that encodes it (planner.parallel)
SC21_ENGINE = {"torch": "megatron-2021-torch-ddp", "local": "megatron-2021"}


def narayanan_sc21(row: dict[str, str]) -> dict[str, Any]:
    """The Table 1 row run as the paper's script runs it: its TP/PP/micro-batch, its DDP
    implementation, its virtual pipeline stages, full recompute, Megatron-LM 2021 behaviour."""
    m = next(
        x
        for x in list_models()
        if (x.hidden, x.layers, x.vocab) == (int(row["hidden"]), int(row["layers"]), 51200)
    )
    sc = SC21[row["params_b"]]
    pp = int(row["pp"])
    per_chunk = int(sc["layers_per_virtual_stage"] or 0)
    return evaluate_config(
        m,
        "A100-80GB",
        seq=2048,
        global_batch=int(row["global_batch"]),
        gpus=int(row["gpus"]),
        tp=int(row["tp"]),
        pp=pp,
        vpp=m.layers // (pp * per_chunk) if per_chunk else 1,
        recompute="full",
        micro_batch=int(sc["micro_batch"]),
        engine=SC21_ENGINE[sc["ddp_impl"]],
    )


@pytest.mark.parametrize("rid", [_mark("narayanan", r["params_b"]) for r in NARAYANAN])
def test_narayanan_achieved_tflops(rid: str) -> None:
    row = next(r for r in NARAYANAN if r["params_b"] == rid)
    r = narayanan_sc21(row)
    assert r["fits"]
    # Table 1 counts recomputation (its FLOPs formula has the 96 = 4 x 24 factor): HFU rate
    assert r["hw_tflops_per_gpu"] == pytest.approx(float(row["achieved_tflops_per_gpu"]), rel=0.15)


def test_sc21_settings_cover_table_1_and_divide_evenly() -> None:
    """Every Table 1 row has the script's settings; virtual stages divide the layers."""
    assert set(SC21) == {r["params_b"] for r in NARAYANAN}
    for row in NARAYANAN:
        sc = SC21[row["params_b"]]
        assert sc["ddp_impl"] in SC21_ENGINE
        dp = int(row["gpus"]) // (int(row["tp"]) * int(row["pp"]))
        assert int(row["global_batch"]) % (dp * int(sc["micro_batch"])) == 0
        if sc["layers_per_virtual_stage"]:
            assert int(row["layers"]) % (int(row["pp"]) * int(sc["layers_per_virtual_stage"])) == 0


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


#: the README's Precision column -> the planner's compute precision (Composer's ``amp_fp8``
#: runs the linear layers' GEMMs in Transformer Engine FP8; ``bf16``/``amp_bf16`` in BF16)
FOUNDRY_PRECISION = {"bf16": "bf16", "amp_bf16": "bf16", "amp_fp8": "fp8"}


#: bytes per gradient element in the FSDP reduce-scatter for the README's MP Mode, in the
#: Composer these tables ran on (all four were measured before Composer PR #2628, merged
#: 2023-10-10, set ``reduce_dtype=torch.float32`` for DEFAULT).  ``get_mixed_precision``
#: (``composer/trainer/mosaic_fsdp.py`` / ``mosaic_fsdp_utils.py``) gave DEFAULT either
#: ``reduce_dtype=<amp dtype>`` (param and buffer fp32, before PR #2047) or ``param_dtype=
#: buffer_dtype=<amp dtype>`` with no ``reduce_dtype`` (e.g. mosaicml/composer@0099561e),
#: which PyTorch FSDP resolves to the parameter dtype (``FlatParamHandle.
#: _init_param_reduce_dtypes``, "infer gradient reduction mixed precision"): bf16 both ways.
#: PURE sets all three to the amp dtype.  Sources: tests/data/planner/SOURCE.md.
COMPOSER_2023_REDUCE_BYTES = {"PURE": 2, "DEFAULT": 2}


def run_foundry(row: dict[str, str]) -> dict[str, Any]:
    """The llm-foundry benchmark row's configuration (FSDP, its batch and recompute).

    ``net_gbs_per_gpu`` (optional column): the inter-node rate the table's header states,
    per GPU; without it the planner's default applies."""
    g, mb, ga = int(row["gpus"]), int(row["micro_batch"]), int(row["grad_accum"])
    engine = replace(
        ENGINES["llm-foundry-2023"], grad_bytes=COMPOSER_2023_REDUCE_BYTES[row["mp_mode"]]
    )
    net: dict[str, float] = {}
    if row.get("net_gbs_per_gpu"):
        net["net_gbs_per_gpu"] = float(row["net_gbs_per_gpu"])
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
        precision=FOUNDRY_PRECISION[row["precision"]],
        **net,
    )


@pytest.mark.parametrize("rid", [_mark("foundry", _foundry_id(r)) for r in FOUNDRY])
def test_llm_foundry_tokens_per_gpu(rid: str) -> None:
    row = next(r for r in FOUNDRY if _foundry_id(r) == rid)
    r = run_foundry(row)
    assert r["fits"]
    assert r["tokens_per_s_per_gpu"] == pytest.approx(float(row["tokens_per_s_per_gpu"]), rel=0.15)


def test_foundry_default_reduces_gradients_in_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables' Composer reduced DEFAULT's gradients in bf16 like PURE (not fp32)."""
    row = next(r for r in FOUNDRY if r["mp_mode"] == "DEFAULT")
    default = run_foundry(row)["time_s"]["step"]
    assert default == run_foundry({**row, "mp_mode": "PURE"})["time_s"]["step"]
    monkeypatch.setitem(COMPOSER_2023_REDUCE_BYTES, "DEFAULT", 4)  # Composer after PR #2628
    assert run_foundry(row)["time_s"]["step"] > default


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
