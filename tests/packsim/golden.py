"""Shared check: gpuwise's mean curves over seeds 42-51 against the FGD artifact's own."""

from __future__ import annotations

import csv

import numpy as np

from gpuwise.packsim.experiment import DEFAULT_SEEDS, run_seeds
from gpuwise.packsim.metrics import allocation_curve, frag_amount_curve
from gpuwise.packsim.openb import load_nodes, load_pods
from tests.conftest import DATA

OPENB = DATA / "openb"
ARTIFACT_NAMES = {"random": "01-Random", "dotprod": "02-DotProd",
                  "gpu-clustering": "03-GpuClustering", "gpu-packing": "04-GpuPacking",
                  "best-fit": "05-BestFit", "fgd": "06-FGD"}


def reference_mean(kind: str, policy: str) -> np.ndarray:
    rows = [r for r in csv.DictReader((OPENB / f"fgd-reference-default-{kind}.csv").open())
            if r["sc_policy"] == ARTIFACT_NAMES[policy]]
    assert sorted(int(r["seed"]) for r in rows) == list(DEFAULT_SEEDS)
    return np.mean([[float(r[str(k)]) for k in range(131)] for r in rows], axis=0)


def check_policy(policy: str) -> None:
    nodes = load_nodes(OPENB / "openb_node_list_gpu_node.csv")
    pods = load_pods(OPENB / "openb_pod_list_default.csv")
    traces = run_seeds(nodes, pods, policy, DEFAULT_SEEDS, 1.3, workers=1)
    alloc = np.mean([allocation_curve(t) for t in traces], axis=0)
    ref = reference_mean("allo", policy)
    assert abs(alloc[130] - ref[130]) <= 0.5, (policy, alloc[130], ref[130])
    worst = np.nanmax(np.abs(alloc - ref))
    assert worst <= 1.0, (policy, worst, int(np.nanargmax(np.abs(alloc - ref))))
    frag = np.mean([frag_amount_curve(t) for t in traces], axis=0)
    assert np.nanmax(np.abs(frag - reference_mean("frag", policy))) <= 1.0
