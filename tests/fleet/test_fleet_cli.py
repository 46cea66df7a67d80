from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import DATA, REPO, CliResult

Cli = Callable[..., CliResult]


def test_fleet_show_json_contract(cli: Cli) -> None:
    res = cli("fleet", "show", DATA / "fleet" / "openb_node_list_gpu_node.csv", "--json")
    assert res.code == 0
    doc = res.json()
    assert doc["nodes"] == 1213 and doc["gpus"] == 6212
    assert doc["by_type"]["G2"] == {"nodes": 549, "gpus": 4392, "memory_gib": None,
                                   "bf16_pflops": None, "kw": None, "known": False,
                                   "source_names": []}
    assert doc["by_type"]["V100-32GB"]["source_names"] == ["V100M32"]
    t4 = doc["by_type"]["T4"]
    assert t4["gpus"] == 842 and t4["bf16_pflops"] > 0
    assert isinstance(doc["bf16_pflops"], float)


def test_fleet_show_demo_table(cli: Cli) -> None:
    res = cli("fleet", "show", REPO / "examples" / "fleet-demo.yaml")
    assert res.code == 0
    assert "H800" in res.out and "total" in res.out and "1 drained" in res.out


def test_fleet_show_bad_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    p = tmp_path / "fleet.yaml"
    p.write_text("nodes:\n  - name: a\n    gpus: 8 x H900\n")
    res = cli("fleet", "show", p)
    assert res.code == 2
    assert res.err.count("\n") == 1 and res.err.startswith("error: ")
    assert "fleet.yaml:3: nodes[0].gpus" in res.err


def test_plan_train_reads_network_from_fleet(cli: Cli, tmp_path: Path) -> None:
    # Same 32 A800s, slow vs fast scale-out network: data-parallel traffic across 4 nodes
    # must make the slow fleet no faster, and the drained node must not count.
    times = {}
    for gbps in (25, 800):
        p = tmp_path / f"f{gbps}.yaml"
        p.write_text(
            "nodes:\n  - name: a\n    count: 4\n    gpus: 8 x A800\n"
            f"    network_gbps: {gbps}\n  - name: spare\n    gpus: 8 x A800\n    state: down\n"
        )
        res = cli("plan", "train", "--model", "llama-2-13b", "--fleet", p, "--tp", "8",
                  "--pp", "1", "--zero", "1", "--recompute", "selective", "--micro-batch", "1",
                  "--global-batch", "64", "--json")
        assert res.code == 0, res.err
        best = res.json()["best"]
        assert best["dp"] * best["tp"] * best["pp"] * best["cp"] == 32
        times[gbps] = best["step_time_s"]
    assert times[25] > times[800]
