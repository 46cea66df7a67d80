"""Trace loaders: the real subsets load, and malformed rows fail with file:line messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.errors import GpuwiseError
from gpuwise.replay.jobs import Topology
from gpuwise.replay.traces import detect_format, load_throughputs, load_trace
from gpuwise.replay.traces.sacct import parse_timelimit, parse_tres

DATA = Path(__file__).parent.parent / "data" / "replay"
TP = str(DATA / "simulation_throughputs_isolated.json")


def test_throughputs_map_gavel_worker_types_to_catalog_names() -> None:
    tp = load_throughputs(TP)
    v100 = get_accelerator("v100").name
    rates = tp.packed[("ResNet-18 (batch size 32)", 1)]
    assert set(rates) == {v100, get_accelerator("p100").name, get_accelerator("k80").name}
    assert rates[v100] == pytest.approx(29.947, abs=1e-3)  # SOURCE.md's example value
    assert ("ResNet-50 (batch size 128)", 8) in tp.spread


def test_gavel_msr_layout() -> None:
    tr = load_trace(str(DATA / "msr_2869ce_head80.trace"), None, load_throughputs(TP))
    # 80 rows; every (type, scale) pair without a throughput entry is counted, not loaded.
    assert len(tr.jobs) + sum(tr.skipped.values()) == 80
    assert any(k.endswith(", 32)") for k in tr.skipped)
    assert all(j.tenant == "msr_2869ce_head80" for j in tr.jobs)
    assert tr.jobs[0].submit_s == 0.0
    assert [j.submit_s for j in tr.jobs] == sorted(j.submit_s for j in tr.jobs)


def test_gavel_current_layout_and_spread_rates() -> None:
    tr = load_trace(str(DATA / "gavel_cont_multi_head60.trace"), "gavel", load_throughputs(TP))
    assert len(tr.jobs) == 60
    multi = [j for j in tr.jobs if j.num_gpus > 1]
    assert multi and all(j.topology is Topology.SPREAD for j in multi if j.spread_rates)
    # Field mapping of the 10-field layout: total_steps is field 6, scale_factor field 7.
    row = (DATA / "gavel_cont_multi_head60.trace").read_text().splitlines()[0].split("\t")
    first = next(j for j in tr.jobs if j.name.endswith("-1"))
    assert first.job_type == row[0]
    assert first.work == float(row[5]) and first.num_gpus == int(row[6])


def test_gavel_trace_needs_throughputs() -> None:
    with pytest.raises(GpuwiseError, match="--throughputs"):
        load_trace(str(DATA / "gavel_cont_multi_head60.trace"))


def test_gavel_bad_rows(tmp_path: Path) -> None:
    good = (DATA / "gavel_cont_multi_head60.trace").read_text().splitlines()
    p = tmp_path / "bad.trace"
    p.write_text(good[0] + "\n" + "a\tb\tc\n")
    with pytest.raises(GpuwiseError, match=r"bad\.trace:2: expected 7 .* or 10"):
        load_trace(str(p), "gavel", load_throughputs(TP))
    fields = good[0].split("\t")
    fields[5] = "many"
    p.write_text("\t".join(fields) + "\n")
    with pytest.raises(GpuwiseError, match=r"bad\.trace:1: total_steps: expected a number"):
        load_trace(str(p), "gavel", load_throughputs(TP))


def test_pollux_philly() -> None:
    tr = load_trace(str(DATA / "philly_head400.csv"))
    assert len(tr.jobs) == 400
    assert min(j.submit_s for j in tr.jobs) == 0.0
    assert {j.tenant for j in tr.jobs} >= {"11cb48", "6214e9"}
    assert tr.jobs[0].rate("anything") == 1.0  # logged durations run at face value


def test_pollux_bad_row(tmp_path: Path) -> None:
    p = tmp_path / "philly.csv"
    p.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n"
                 "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
                 "yesterday,66.0,1,66.0,11cb48\n")
    with pytest.raises(GpuwiseError, match=r"philly\.csv:3: timestamp: expected seconds or"):
        load_trace(str(p), "pollux")


def test_openb_pods_with_gpu_spec() -> None:
    tr = load_trace(str(DATA / "openb_pod_gpuspec33_head300.csv"))
    assert tr.skipped["CPU-only pod"] > 0
    constrained = [j for j in tr.jobs if j.allowed_types]
    assert constrained
    # openb model codes map to catalog names as the fleet's node models do (V100M16 ->
    # the catalog's 16 GB V100); codes the catalog does not know (G2) stay as they are.
    names = set().union(*(j.allowed_types or frozenset() for j in constrained))
    raw = {
        code
        for line in (DATA / "openb_pod_gpuspec33_head300.csv").read_text().splitlines()[1:]
        for code in line.split(",")[5].split("|")
        if code and line.split(",")[3] != "0"
    }
    assert len(names) == len(raw)
    if "V100M16" in raw:
        assert get_accelerator("V100M16").name in names
    assert {c for c in raw if c.startswith("G")} <= names


def test_generic_csv_and_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "jobs.csv"
    p.write_text("submit_time,duration_s,num_gpus,gpu_type,tenant,priority,estimate_s\n"
                 "0,3600,8,H800|A800,llm,1,7200\n"
                 "2024-01-01T00:10:00,60,1,,cv,,\n")
    tr = load_trace(str(p))
    assert detect_format(str(p)) == "csv"
    big = next(j for j in tr.jobs if j.num_gpus == 8)
    assert big.allowed_types == {get_accelerator("H800").name, get_accelerator("A800").name}
    assert big.estimate_s == 7200 and big.priority == 1
    p.write_text("submit,duration_s,num_gpus\n0,1,1\n")
    with pytest.raises(GpuwiseError, match=r"jobs\.csv:1: missing column 'submit_time'"):
        load_trace(str(p), "csv")
    p.write_text("submit_time,duration_s,num_gpus\n0,1,-2\n")
    with pytest.raises(GpuwiseError, match=r"jobs\.csv:2: num_gpus: expected an integer >= 0"):
        load_trace(str(p), "csv")


def test_sacct(tmp_path: Path) -> None:
    p = tmp_path / "sacct.txt"
    p.write_text(
        "JobID|Submit|Start|End|AllocTRES|Partition|Account|State|Timelimit\n"
        "1|2024-03-01T10:00:00|2024-03-01T10:05:00|2024-03-01T12:05:00|"
        "billing=8,cpu=8,gres/gpu:a100=4,gres/gpu=4,mem=64G,node=1|gpu|nlp|COMPLETED|04:00:00\n"
        "2|2024-03-01T10:01:00|Unknown|Unknown|cpu=1|gpu|nlp|PENDING|01:00:00\n"
        "3|2024-03-01T10:02:00|2024-03-01T10:03:00|2024-03-01T10:33:00|"
        "cpu=4,gres/gpu=1|gpu|cv|COMPLETED|1-00:00:00\n"
    )
    tr = load_trace(str(p))
    assert [j.num_gpus for j in tr.jobs] == [4, 1]
    assert tr.jobs[0].work == 7200 and tr.jobs[0].estimate_s == 4 * 3600
    assert tr.jobs[0].allowed_types == {get_accelerator("a100").name}
    assert tr.jobs[1].submit_s == 120 and tr.jobs[1].tenant == "cv"
    assert tr.skipped["never ran (Start/End unknown)"] == 1
    assert parse_tres("x", 1, "cpu=2") == (0, None)
    assert parse_timelimit("UNLIMITED") is None
    p.write_text("Submit|Start|End|AllocTRES\n2024|2024-03-01T10:00:00|then|gres/gpu=1\n")
    with pytest.raises(GpuwiseError, match=r"sacct\.txt:2: End: expected seconds or an ISO"):
        load_trace(str(p), "sacct")
