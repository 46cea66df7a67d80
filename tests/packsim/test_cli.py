"""``gpuwise sim pack``: JSON contract, curve files, policy listing, user errors."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DATA, CliResult

OPENB = DATA / "openb"
KEYS = {"policy", "seeds", "total_gpus", "allocation_pct_mean", "allocation_pct_std",
        "unallocated_gpus", "frag_rate_pct_at_90", "first_failure_pct", "seconds"}


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """30 nodes and the first 400 pods of the real trace (fast, still fragmenting)."""
    nodes = (OPENB / "openb_node_list_gpu_node.csv").read_text().splitlines()
    pods = (OPENB / "openb_pod_list_default.csv").read_text().splitlines()
    n, p = tmp_path / "nodes.csv", tmp_path / "pods.csv"
    n.write_text("\n".join([nodes[0]] + nodes[1:1214:40]) + "\n")
    p.write_text("\n".join(pods[:401]) + "\n")
    return n, p


def test_json_contract_and_curves(cli: Callable[..., CliResult], small: tuple[Path, Path],
                                  tmp_path: Path) -> None:
    out = tmp_path / "curves.csv"
    res = cli("sim", "pack", "--nodes", small[0], "--pods", small[1], "--policy", "fgd",
              "--seeds", "42-44", "--workers", "1", "--out", out, "--json")
    assert res.code == 0, res.err
    obj = res.json()
    assert KEYS <= set(obj) and obj["policy"] == "fgd" and obj["seeds"] == [42, 43, 44]
    assert obj["total_gpus"] > 0
    assert 0 < obj["allocation_pct_mean"] <= 100
    assert obj["unallocated_gpus"] == pytest.approx(
        obj["total_gpus"] * (100 - obj["allocation_pct_mean"]) / 100, abs=0.01)
    rows = list(csv.reader(out.open()))
    assert rows[0][:6] == ["workload", "sc_policy", "tune", "seed", "total_gpus", "0"]
    assert rows[0][-1] == "130" and len(rows) == 4
    assert rows[1][:4] == ["pods", "fgd", "1.3", "42"]
    assert float(rows[1][-1]) == pytest.approx(obj["allocation_pct_mean"], abs=5)
    assert (tmp_path / "curves-frag.csv").exists() and (tmp_path / "curves-frag_ratio.csv").exists()


def test_policy_all_and_list(cli: Callable[..., CliResult], small: tuple[Path, Path]) -> None:
    res = cli("sim", "pack", "--nodes", small[0], "--pods", small[1], "--policy", "all",
              "--seeds", "42", "--workers", "1", "--json")
    assert res.code == 0, res.err
    names = [o["policy"] for o in res.json()]
    listed = cli("sim", "pack", "--list-policies", "--json").json()
    assert names == [p["name"] for p in listed]
    assert names[:6] == ["random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd"]


def test_policy_list(cli: Callable[..., CliResult], small: tuple[Path, Path]) -> None:
    res = cli("sim", "pack", "--nodes", small[0], "--pods", small[1], "--policy",
              "best-fit, fgd", "--seeds", "42", "--workers", "1", "--json")
    assert res.code == 0, res.err
    assert [o["policy"] for o in res.json()] == ["best-fit", "fgd"]


@pytest.mark.parametrize(("args", "message"), [
    (["--policy", "fgdx"], "unknown policy 'fgdx' (did you mean fgd"),
    (["--policy", "fgd,fgdx"], "unknown policy 'fgdx' (did you mean fgd"),
    (["--policy", ","], "--policy: name a policy"),
    (["--seeds", "51-42"], "--seeds: expected a list like 42-51"),
    (["--tune", "0"], "--tune: expected a ratio"),
])
def test_user_errors(cli: Callable[..., CliResult], small: tuple[Path, Path], args: list[str],
                     message: str) -> None:
    res = cli("sim", "pack", "--nodes", small[0], "--pods", small[1], *args, "--json")
    assert res.code == 2 and message in res.err and "Traceback" not in res.err


def test_missing_file(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    res = cli("sim", "pack", "--nodes", tmp_path / "nope.csv", "--pods", tmp_path / "p.csv")
    assert res.code == 2 and "nope.csv: cannot read" in res.err
