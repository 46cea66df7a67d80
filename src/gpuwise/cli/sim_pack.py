"""CLI: ``gpuwise sim pack`` -- the FGD packing experiment on an openb-style trace."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import typer

from gpuwise.cli.apps import sim_app
from gpuwise.errors import GpuwiseError
from gpuwise.packsim.experiment import DEFAULT_TUNE, run_seeds
from gpuwise.packsim.openb import load_nodes, load_pods
from gpuwise.packsim.report import summarize, write_curves
from gpuwise.sched.policies import get_policy, policy_names


def parse_seeds(text: str) -> list[int]:
    """``"42-51"``, ``"42,45,50"`` or a mix of both, into a list of seeds."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise GpuwiseError(f"--seeds: expected a list like 42-51 or 42,43, got {text!r}")
        lo = int(m.group(1))
        seeds.extend(range(lo, int(m.group(2) or lo) + 1))
    return seeds


@sim_app.command("pack")
def pack(
    nodes: Path | None = typer.Option(None, "--nodes", help="Node CSV (sn,cpu_milli,...,model)."),
    pods: Path | None = typer.Option(None, "--pods", help="Pod CSV (name,...,gpu_milli)."),
    policy: str = typer.Option("fgd", "--policy",
                               help="Policy name, a comma-separated list, or 'all'."),
    seeds: str = typer.Option("42-51", "--seeds", help="Seeds, e.g. 42-51 or 42,43."),
    tune: float = typer.Option(DEFAULT_TUNE, "--tune", help="Arrived GPU request / capacity."),
    out: Path | None = typer.Option(None, "--out",
                                    help="Allocation curves CSV (+ -frag, -frag_ratio beside it)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: 1 per core)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON summary."),
    list_policies: bool = typer.Option(False, "--list-policies", help="List policies and exit."),
) -> None:
    """Pack a pod trace onto a cluster (no departures); report allocation and fragmentation."""
    if list_policies:
        items = [{"name": n, "description": get_policy(n).description} for n in policy_names()]
        if as_json:
            print(json.dumps(items))
        else:
            for it in items:
                print(f"{it['name']:<18} {it['description']}")
        return
    if nodes is None or pods is None:
        raise GpuwiseError("sim pack needs --nodes and --pods (or --list-policies)")
    if not 0 < tune <= 10:
        raise GpuwiseError(f"--tune: expected a ratio in (0, 10], got {tune}")
    wanted = [p.strip() for p in policy.split(",") if p.strip()]
    names = policy_names() if policy == "all" else [get_policy(p).name for p in wanted]
    if not names:
        raise GpuwiseError("--policy: name a policy, a comma-separated list, or 'all'")
    seed_list = parse_seeds(seeds)
    node_specs, pod_reqs = load_nodes(nodes), load_pods(pods)
    results: list[dict[str, Any]] = []
    traces_all = []
    for name in names:
        t0 = time.perf_counter()
        traces = run_seeds(node_specs, pod_reqs, name, seed_list, tune, workers)
        results.append(summarize(name, traces, time.perf_counter() - t0, tune))
        traces_all.extend(traces)
    if out is not None:
        write_curves(out, pods.stem, tune, traces_all)
    if as_json:
        print(json.dumps(results if len(names) > 1 else results[0]))
        return
    print(f"{'policy':<18}{'alloc % @' + str(int(tune * 100)):>14}{'std':>7}{'unalloc GPUs':>14}"
          f"{'frag% @90':>11}{'1st fail %':>12}{'seconds':>9}")
    for r in results:
        first = "-" if r["first_failure_pct"] is None else str(r["first_failure_pct"])
        print(f"{r['policy']:<18}{r['allocation_pct_mean']:>14.2f}{r['allocation_pct_std']:>7.2f}"
              f"{r['unallocated_gpus']:>14.1f}{r['frag_rate_pct_at_90']:>11.1f}{first:>12}"
              f"{r['seconds']:>9.1f}")
