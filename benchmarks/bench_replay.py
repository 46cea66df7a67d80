"""Speed of ``gpuwise sim replay``: prints seconds and events per second.

Targets (issue 5): all 82k Pollux-Philly jobs on a 2,000-GPU fleet under LAS in <= 60 s on
one core; >= 50k events/s for simple policies; 1 M synthetic jobs on 10,000 GPUs under
FIFO + backfill in <= 10 min (``--million``, long).

    .venv/bin/python benchmarks/bench_replay.py [--philly PATH] [--gpus 2000] [--million]
    .venv/bin/python benchmarks/bench_replay.py --no-philly --synthetic 100000 --load 0.98
    .venv/bin/python benchmarks/bench_replay.py --philly-only --placement gpu-packing

``--synthetic N`` replays N synthetic jobs on N/100 GPUs (the 1 M / 10k ratio) under
FIFO and EASY backfill at ``--load``; each line also prints the process's peak RSS so far.
Nodes are picked by the scheduling core's ``--placement`` policy (default best-fit).
``--philly-only`` runs only the 2,000-GPU Philly replays (``--policies`` to choose).
``--synthetic-policies`` chooses the policies of the synthetic runs, ``--million-load`` the
offered load of ``--million``.  ``--hash`` adds the SHA-256 of each run's per-job CSV (what
``sim replay --out jobs.csv`` writes) to its line, to check that an optimization changed
no decision.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import tempfile
import time

from gpuwise.fleet import load_fleet
from gpuwise.replay.engine import ReplayConfig, ReplayResult, replay
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.metrics import job_records, summary, write_jobs
from gpuwise.replay.placement import NodeSpec, nodes_from_fleet
from gpuwise.replay.policies import make_policy
from gpuwise.replay.traces import load_trace

PHILLY = "../shared/data/pollux-philly/philly.csv"


def synthetic(n: int, gpus: int, load: float, seed: int) -> list[Job]:
    """``n`` jobs with Philly-like gang sizes and log-normal run times, Poisson arrivals
    at the rate that offers ``load`` x ``gpus`` GPU-seconds per second."""
    rng = random.Random(seed)
    sizes = [1] * 93 + [2] * 2 + [4] * 2 + [8] * 2 + [16]
    mean_gpus = sum(sizes) / len(sizes)
    mean_s = 3600.0
    rate = load * gpus / (mean_gpus * mean_s)
    t = 0.0
    jobs = []
    for i in range(n):
        t += rng.expovariate(rate)
        dur = rng.lognormvariate(0, 1.2) * mean_s / 2.05  # mean of lognormal(0, 1.2) ~ 2.05
        jobs.append(
            Job(id=i, submit_s=t, num_gpus=rng.choice(sizes), work=max(1.0, dur),
                estimate_s=dur * rng.uniform(1.0, 3.0), topology=Topology.SPREAD)
        )
    return jobs


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PLACEMENT = "best-fit"


def csv_sha256(res: ReplayResult) -> str:
    """SHA-256 of the per-job CSV of ``res`` (the bytes ``--out jobs.csv`` writes)."""
    fd, path = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        write_jobs(job_records(res), path)
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    finally:
        os.remove(path)


def run(label: str, nodes: list[NodeSpec], jobs: list[Job], policy: str,
        placement: str = PLACEMENT, digest: bool = False) -> None:
    t0 = time.perf_counter()
    res = replay(nodes, jobs, make_policy(policy), ReplayConfig(placement=placement))
    wall = time.perf_counter() - t0
    s = summary(res)
    tail = f" jobs_csv_sha256={csv_sha256(res)[:16]}" if digest else ""
    print(
        f"{label}: policy={policy} placement={res.placement} jobs={s['jobs']} "
        f"gpus={sum(n.gpus for n in nodes)} "
        f"replay_s={res.seconds:.1f} wall_s={wall:.1f} events={res.events} "
        f"events_per_s={res.events / res.seconds:,.0f} avg_jct_h={s['avg_jct_h']:.2f} "
        f"avg_queue_h={s['avg_queue_h']:.2f} util_pct={s['gpu_util_pct']:.1f} "
        f"preemptions={s['preemptions']} peak_rss_mb={peak_rss_mb():.0f}{tail}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--philly", default=PHILLY)
    ap.add_argument("--gpus", type=int, default=2000)
    ap.add_argument("--million", action="store_true", help="also run 1 M jobs on 10k GPUs")
    ap.add_argument("--no-philly", action="store_true", help="skip the Philly replays")
    ap.add_argument("--synthetic", type=int, default=0, help="N jobs on N/100 GPUs")
    ap.add_argument("--load", type=float, default=0.8, help="offered load of --synthetic")
    ap.add_argument("--placement", default=PLACEMENT, help="sched policy that picks nodes")
    ap.add_argument("--philly-only", action="store_true", help="only Philly on --gpus GPUs")
    ap.add_argument("--policies", default="las,fifo,easy-backfill", help="for the Philly runs")
    ap.add_argument("--synthetic-policies", default="fifo,easy-backfill",
                    help="for the --synthetic runs")
    ap.add_argument("--million-load", type=float, default=0.8, help="offered load of --million")
    ap.add_argument("--hash", action="store_true", help="print each per-job CSV's SHA-256")
    args = ap.parse_args()
    pl, h = args.placement, args.hash
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not args.no_philly:
        t0 = time.perf_counter()
        trace = load_trace(args.philly, "pollux")
        print(f"loaded {len(trace.jobs)} Philly jobs in {time.perf_counter() - t0:.1f} s")
        for gpus in (args.gpus,) if args.philly_only else (args.gpus, args.gpus // 4):
            nodes = nodes_from_fleet(load_fleet(f"{gpus}xV100"))
            for policy in policies:
                run(f"philly-{gpus}", nodes, trace.jobs, policy, pl, h)
        if not args.philly_only:
            nodes = nodes_from_fleet(load_fleet("1000xV100"))
            run("synthetic-200k-load0.8", nodes, synthetic(200_000, 1000, 0.8, 0), "fifo", pl, h)
    if args.synthetic:
        n, gpus = args.synthetic, max(1, args.synthetic // 100)
        nodes = nodes_from_fleet(load_fleet(f"{gpus}xV100"))
        jobs = synthetic(n, gpus, args.load, 0)
        for policy in args.synthetic_policies.split(","):
            run(f"synthetic-{n}-load{args.load}", nodes, jobs, policy.strip(), pl, h)
    if args.million:
        nodes = nodes_from_fleet(load_fleet("10000xV100"))
        load = args.million_load
        run(f"synthetic-1M-load{load}", nodes, synthetic(1_000_000, 10_000, load, 0),
            "easy-backfill", pl, h)


if __name__ == "__main__":
    main()
