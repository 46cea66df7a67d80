"""Speed and memory of one packing run per policy (openb default trace, 1,213 nodes, 130 %).

Each policy runs once (seed 42) in a fresh single-threaded process; prints CPU seconds (so
other processes on the machine do not inflate it), wall seconds, peak RSS, pods tried and the
allocation at 130 %.  Targets (issue 3): FGD <= 20 s on one core and <= 500 MB RSS; the
simpler policies <= 5 s.

    .venv/bin/python benchmarks/bench_pack.py [--data DIR] [--policies fgd,best-fit] [--seed 42]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the project root (the team's shared material); override with --data.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alibaba-gpu-2023"
FALLBACK_DATA = REPO / "tests" / "data" / "openb"


def one(data: Path, policy: str, seed: int) -> dict[str, object]:
    """Run one policy in this process and measure it."""
    from gpuwise.packsim.experiment import run_once
    from gpuwise.packsim.metrics import allocation_curve
    from gpuwise.packsim.openb import load_nodes, load_pods

    nodes = load_nodes(data / "openb_node_list_gpu_node.csv")
    pods = load_pods(data / "openb_pod_list_default.csv")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trace = run_once(nodes, pods, policy, seed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"policy": policy, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "rss_mb": round(rss_mb), "pods": len(trace.arrived),
            "alloc_130": float(allocation_curve(trace)[130])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists()
                    else FALLBACK_DATA)
    ap.add_argument("--policies", default="random,dotprod,gpu-clustering,gpu-packing,"
                    "best-fit,fgd,fgd-cpu")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.data, args.one, args.seed)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"{'policy':<16}{'cpu s':>8}{'wall s':>8}{'RSS MB':>8}{'pods':>7}{'alloc@130':>11}"
          f"{'target':>9}")
    for pol in args.policies.split(","):
        out = subprocess.run([sys.executable, __file__, "--data", str(args.data), "--seed",
                              str(args.seed), "--one", pol], capture_output=True, text=True,
                             env=env, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        target = 20.0 if pol.startswith("fgd") else 5.0
        ok = "ok" if float(r["cpu_s"]) <= target and int(r["rss_mb"]) <= 500 else "MISS"
        print(f"{pol:<16}{r['cpu_s']:>8}{r['wall_s']:>8}{r['rss_mb']:>8}{r['pods']:>7}"
              f"{r['alloc_130']:>11.2f}{ok:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
