"""The FGD paper's packing sweep: workloads x policies x seeds (17 x 6 x 10 by default).

Every (workload, policy, seed) run is a job; jobs run in parallel processes.  Prints, per
workload and policy, the mean allocation at 130 % and the unallocated GPUs, and for each
policy other than ``fgd`` its change in unallocated GPUs against FGD on the same seeds.
With ``--out DIR`` writes ``analysis_{allo,frag,frag_ratio}_discrete.csv`` in the artifact's
layout.  Target (issue 3): the whole 17 x 6 x 10 sweep in <= 2 h on a 2-core machine.

    .venv/bin/python benchmarks/sweep_pack.py [--workloads default,cpu050] [--policies fgd,fgd-cpu]
        [--seeds 42-51] [--workers 2] [--out DIR] [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gpuwise.cli.sim_pack import parse_seeds
from gpuwise.packsim.experiment import run_once
from gpuwise.packsim.metrics import RunTrace, allocation_curve
from gpuwise.packsim.openb import load_nodes, load_pods
from gpuwise.packsim.report import CURVES, curve_header, curve_rows
from gpuwise.sched.policies import REFERENCE_POLICIES

WORKLOADS = ("default", "cpu050", "cpu100", "cpu200", "cpu250", "gpushare40", "gpushare60",
             "gpushare80", "gpushare100", "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33",
             "multigpu20", "multigpu30", "multigpu40", "multigpu50")
# ../shared/data beside the project root (the team's shared material); override with --data.
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alibaba-gpu-2023"


def _job(args: tuple[Path, str, str, int]) -> tuple[str, RunTrace]:
    data, workload, policy, seed = args
    nodes = load_nodes(data / "openb_node_list_gpu_node.csv")
    pods = load_pods(data / f"openb_pod_list_{workload}.csv")
    return workload, run_once(nodes, pods, policy, seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--policies", default=",".join(REFERENCE_POLICIES))
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    workloads, policies = args.workloads.split(","), args.policies.split(",")
    seeds = parse_seeds(args.seeds)
    jobs = [(args.data, w, p, s) for w in workloads for p in policies for s in seeds]
    t0 = time.perf_counter()
    results: dict[tuple[str, str], list[RunTrace]] = defaultdict(list)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for workload, trace in pool.map(_job, jobs):
            results[(workload, trace.policy)].append(trace)
    elapsed = time.perf_counter() - t0
    unalloc: dict[tuple[str, str], float] = {}
    print(f"{'workload':<13}{'policy':<16}{'alloc%@130':>11}{'unalloc GPUs':>14}{'vs fgd':>9}")
    for w in workloads:
        for p in policies:
            traces = results[(w, p)]
            alloc = float(np.mean([allocation_curve(t)[130] for t in traces]))
            unalloc[(w, p)] = traces[0].total_gpus * (100 - alloc) / 100
            base = unalloc.get((w, "fgd"))
            rel = ("" if base is None or p == "fgd"
                   else f"{100 * (unalloc[(w, p)] / base - 1):+.1f}%")
            print(f"{w:<13}{p:<16}{alloc:>11.2f}{unalloc[(w, p)]:>14.1f}{rel:>9}")
    print(f"{len(jobs)} runs in {elapsed:.0f} s with {args.workers} workers")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for kind in CURVES:
            with (args.out / f"analysis_{kind}_discrete.csv").open("w", newline="") as fh:
                wr = csv.writer(fh, lineterminator="\n")
                wr.writerow(curve_header())
                for (w, _p), traces in results.items():
                    wr.writerows(curve_rows(f"openb_pod_list_{w}", 1.3, traces, kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
