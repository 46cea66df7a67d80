"""Korthikanti et al. 2022 (arXiv 2205.05198) rows and how to run one through the planner,
shared by the memory and time golden tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from gpuwise.planner.engines import Engine
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.models import get_model

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
KORTHIKANTI = list(csv.DictReader((DATA / "korthikanti2022.csv").open()))
K_MODEL = {"22B": "gpt-22b", "175B": "gpt-175b-megatron", "530B": "gpt-530b", "1T": "gpt-1t"}


def run_korthikanti(row: dict[str, str], recompute: str, engine: str | Engine) -> dict[str, Any]:
    """The paper's configuration of ``row`` on A100-80GB, evaluated by the planner."""
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
        engine=engine,
    )
