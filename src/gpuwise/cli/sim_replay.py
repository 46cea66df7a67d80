"""``gpuwise sim replay``: replay a job trace on a fleet under one or more policies."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import typer

from gpuwise.cli.apps import sim_app
from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.fleet import load_fleet
from gpuwise.replay.engine import ReplayConfig, get_placement, replay
from gpuwise.replay.failures import failure_schedule
from gpuwise.replay.metrics import job_records, summary, write_alloc, write_jobs
from gpuwise.replay.placement import DEFAULT_PLACEMENT, nodes_from_fleet
from gpuwise.replay.policies import make_policy
from gpuwise.replay.traces import FORMATS, load_throughputs, load_trace


def _out_path(out: str, policy: str, several: bool) -> str:
    if not several:
        return out
    stem, ext = os.path.splitext(out)
    return f"{stem}.{policy}{ext or '.csv'}"


@sim_app.command("replay")
def sim_replay(
    fleet: str = typer.Option(..., "--fleet", help="Fleet file or shorthand (36xV100,36xK80)."),
    trace: str = typer.Option(..., "--trace", help="Job trace file."),
    trace_format: str | None = typer.Option(
        None, "--trace-format", help=f"One of {', '.join(FORMATS)} (guessed if omitted)."
    ),
    throughputs: str | None = typer.Option(
        None, "--throughputs", help="Gavel simulation_throughputs.json (for Gavel traces)."
    ),
    policy: str = typer.Option(..., "--policy", help="Policy name, or several: a,b,c."),
    placement: str = typer.Option(
        DEFAULT_PLACEMENT, "--placement",
        help="Scheduling-core policy that picks nodes (best-fit, gpu-packing, random, fgd, ...).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for random node failures and placement."),
    out: str | None = typer.Option(None, "--out", help="Per-job records (.csv or .parquet)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    checkpoint_s: float | None = typer.Option(
        None, "--checkpoint-s", help="Checkpoint interval; default: checkpoint on preemption."
    ),
    restart_s: float = typer.Option(0.0, "--restart-s", help="Restart overhead per resume."),
    mtbf_h: float = typer.Option(0.0, "--mtbf-h", help="Node mean time between failures."),
    mttr_h: float = typer.Option(1.0, "--mttr-h", help="Node mean time to repair."),
    alloc_out: str | None = typer.Option(
        None, "--alloc-out", help="GPU allocation over time per type (CSV)."
    ),
) -> None:
    """Replay a trace on a fleet: JCT, queueing, makespan, utilisation, fairness."""
    if trace_format is not None and trace_format not in FORMATS:
        raise GpuwiseError(f"--trace-format: unknown format {trace_format!r}"
                           f"{did_you_mean(trace_format, FORMATS)}; expected one of "
                           f"{', '.join(FORMATS)}")
    if checkpoint_s is not None and checkpoint_s <= 0:
        raise GpuwiseError("--checkpoint-s: expected a positive number of seconds")
    if restart_s < 0 or mtbf_h < 0 or mttr_h < 0:
        raise GpuwiseError("--restart-s, --mtbf-h and --mttr-h must not be negative")
    names = [p.strip() for p in policy.split(",") if p.strip()]
    if not names:
        raise GpuwiseError("--policy: expected at least one policy name")
    policies = [make_policy(n) for n in names]  # fail fast on unknown names
    get_placement(placement)
    nodes = nodes_from_fleet(load_fleet(fleet))
    if not nodes:
        raise GpuwiseError(f"--fleet {fleet}: the fleet has no GPU nodes")
    tp = load_throughputs(throughputs) if throughputs else None
    jobs = load_trace(trace, trace_format, tp)
    horizon = max((j.submit_s for j in jobs.jobs), default=0.0) * 4 + 30 * 86400
    failures = failure_schedule(len(nodes), horizon, mtbf_h, mttr_h, seed)
    cfg = ReplayConfig(checkpoint_s=checkpoint_s, restart_s=restart_s, failures=failures,
                       placement=placement, seed=seed)
    results: list[dict[str, Any]] = []
    for pol in policies:
        res = replay(nodes, jobs.jobs, pol, cfg)
        s = summary(res)
        s["placement"] = res.placement
        s["skipped"] = dict(jobs.skipped)
        s["waiting_reasons"] = dict(Counter(r.reason for r in res.unfinished))
        results.append(s)
        if out:
            write_jobs(job_records(res), _out_path(out, pol.name, len(policies) > 1))
        if alloc_out:
            write_alloc(res, _out_path(alloc_out, pol.name, len(policies) > 1))
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else results))
        return
    skipped = sum(jobs.skipped.values())
    print(f"{len(jobs.jobs)} jobs from {trace}" + (f" ({skipped} left out)" if skipped else ""))
    print(f"{'policy':28} {'jobs':>6} {'avg JCT h':>10} {'p99 JCT h':>10} {'queue h':>8} "
          f"{'makespan h':>11} {'util %':>7} {'preempt':>8}")
    for s in results:
        print(f"{s['policy']:28} {s['jobs']:>6} {s['avg_jct_h']:>10.2f} {s['p99_jct_h']:>10.2f} "
              f"{s['avg_queue_h']:>8.2f} {s['makespan_h']:>11.1f} {s['gpu_util_pct']:>7.1f} "
              f"{s['preemptions']:>8}")
