"""``gpuwise sim replay`` JSON contract and the metric definitions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gpuwise.cli.main import main
from gpuwise.replay.engine import replay
from gpuwise.replay.jobs import Job
from gpuwise.replay.metrics import finish_time_fairness, job_records, summary
from gpuwise.replay.placement import NodeSpec
from gpuwise.replay.policies import make_policy

DATA = Path(__file__).parent.parent / "data" / "replay"
KEYS = {"policy", "jobs", "avg_jct_h", "p50_jct_h", "p99_jct_h", "avg_queue_h", "makespan_h",
        "gpu_util_pct", "preemptions", "seconds"}
GAVEL = ["--trace", str(DATA / "gavel_cont_multi_head60.trace"),
         "--throughputs", str(DATA / "simulation_throughputs_isolated.json")]


def test_json_contract_one_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "jobs.csv"
    rc = main(["sim", "replay", "--fleet", "8xV100,8xP100,8xK80", *GAVEL, "--policy", "las",
               "--out", str(out), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert KEYS <= set(s) and s["policy"] == "las" and s["jobs"] == 60
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 60
    jct = [float(r["jct_s"]) for r in rows]
    assert s["avg_jct_h"] == pytest.approx(sum(jct) / len(jct) / 3600)


def test_json_list_for_several_policies(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sim", "replay", "--fleet", "16xV100", "--trace", str(DATA / "philly_head400.csv"),
               "--policy", "fifo,easy-backfill,srtf", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["policy"] for s in out] == ["fifo", "easy-backfill", "srtf"]
    assert all(KEYS <= set(s) for s in out)
    assert out[2]["avg_jct_h"] <= out[0]["avg_jct_h"]  # SRTF (oracle) never loses to FIFO here


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sim", "replay", "--fleet", "4xV100", "--trace", str(DATA / "philly_head400.csv"),
               "--policy", "fifi"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --policy: unknown policy 'fifi' (did you mean fifo")
    rc = main(["sim", "replay", "--fleet", "4xV100", *GAVEL[:2], "--policy", "fifo"])
    assert rc == 2 and "--throughputs" in capsys.readouterr().err
    rc = main(["sim", "replay", "--fleet", "4xV100", "--trace", str(DATA / "philly_head400.csv"),
               "--trace-format", "polux", "--policy", "fifo"])
    assert rc == 2
    assert "unknown format 'polux' (did you mean pollux?)" in capsys.readouterr().err


def test_summary_single_job_metrics() -> None:
    # One 1-GPU job of 100 s alone on a 2-GPU fleet, submitted at 0: JCT 100 s, no wait,
    # makespan 100 s, utilisation 50 %, and rho = 1 (alone, N = 1, slice = whole fleet).
    nodes = [NodeSpec("n0", "T4", 2)]
    res = replay(nodes, [Job(id=0, submit_s=0.0, num_gpus=1, work=100.0)], make_policy("fifo"))
    s = summary(res)
    assert s["avg_jct_h"] == pytest.approx(100 / 3600)
    assert s["avg_queue_h"] == 0.0
    assert s["makespan_h"] == pytest.approx(100 / 3600)
    assert s["gpu_util_pct"] == pytest.approx(50.0)
    assert finish_time_fairness(res.runs[0], res.capacity) == pytest.approx(1.0)


def test_rho_of_two_contending_jobs() -> None:
    # Two 1-GPU jobs of 100 s on one GPU, both at t=0, FIFO: the first ends at 100, the
    # second at 200.  Over the first job's life 2 jobs are active (N = 2); over the second's
    # the average is (2*100 + 1*100)/200 = 1.5.  A 1/N slice of a 1-GPU fleet slows a
    # 1-GPU job N times: T_id = 200 and 150, so rho = 100/200 = 0.5 and 200/150.
    nodes = [NodeSpec("n0", "T4", 1)]
    jobs = [Job(id=i, submit_s=0.0, num_gpus=1, work=100.0) for i in range(2)]
    res = replay(nodes, jobs, make_policy("fifo"))
    rho = {r["job_id"]: r["rho"] for r in job_records(res)}
    assert rho[0] == pytest.approx(0.5)
    assert rho[1] == pytest.approx(200 / 150)


def test_parquet_and_allocation_series(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out, alloc = tmp_path / "jobs.parquet", tmp_path / "alloc.csv"
    rc = main(["sim", "replay", "--fleet", "2xV100,2xK80", "--trace",
               str(DATA / "philly_head400.csv"), "--policy", "fifo", "--out", str(out),
               "--alloc-out", str(alloc), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    table = pq.read_table(str(out))
    assert table.num_rows == s["jobs"] and "rho" in table.column_names
    rows = list(csv.reader(alloc.open()))
    assert rows[0][0] == "time_s" and len(rows) > 2
    busy = [sum(int(v) for v in r[1:3]) for r in rows[1:]]
    assert max(busy) <= 4 and min(busy) >= 0  # never more than the fleet's 4 GPUs
