"""Measure the training-plan search: 64 GPUs x a 70B model, every valid configuration.

Prints configurations evaluated, wall time (best of 5, one process) and configurations/second.
Target (issue 4): <= 1 s for the whole search on one core.

    .venv/bin/python benchmarks/bench_plan_search.py [--model llama-3-70b] [--gpus 64xH800]
"""

from __future__ import annotations

import argparse
import time

from gpuwise.catalog import get_accelerator, parse_gpu_spec
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup
from gpuwise.planner.search import search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="llama-3-70b")
    ap.add_argument("--gpus", default="64xH800")
    ap.add_argument("--global-batch", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    (count, gpu_type), *_ = parse_gpu_spec(args.gpus)
    model = get_model(args.model)
    hw = Hardware.from_catalog(get_accelerator(gpu_type))
    setup = Setup(seq=model.seq_len, global_batch=args.global_batch, gpus=count)
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = search(model, hw, setup)
        best = min(best, time.perf_counter() - t0)
    print(f"model={model.name} gpus={count}x{gpu_type} evaluated={res.evaluated} "
          f"rejected={sum(res.rejected.values())} fitting_best_step_s="
          f"{res.ranked[0]['step_time_s']:.3f}" if res.ranked else "no fit")
    print(f"search_time_s={best:.3f} configs_per_second={res.evaluated / best:,.0f}")


if __name__ == "__main__":
    main()
