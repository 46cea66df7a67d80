"""All-reduce bandwidth between local processes (gloo on CPU, NCCL on GPUs).

The ranks are separate interpreters started with ``python -m gpuwise.calibrate.collective``
(not ``multiprocessing``), so calibration works from any caller -- a console script, a
test, a notebook -- without the ``if __name__ == "__main__"`` guard ``spawn`` needs.
Rank 0 prints its timings as one JSON line on stdout.

Bus bandwidth follows nccl-tests: ``2(n-1)/n * bytes / time``, so a ring all-reduce over
a link of bandwidth B reports about B whatever the process count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from gpuwise.calibrate.profile import CollectivePoint


def busbw_gbs(nbytes: int, world: int, seconds: float) -> float:
    """All-reduce bus bandwidth (nccl-tests convention) in GB/s."""
    return 2 * (world - 1) / world * nbytes / seconds / 1e9


def bench_allreduce(device: str, sizes: tuple[int, ...], world: int = 2,
                    budget_s: float = 0.2, timeout_s: float = 120.0
                    ) -> tuple[list[CollectivePoint], str | None, list[str]]:
    """Time fp32 all-reduces of each size in ``sizes`` (bytes) between ``world`` processes.

    Returns (points, backend, notes); points are empty when the collective cannot run
    (a single GPU: NCCL needs one device per rank) or did not finish.
    """
    from gpuwise.calibrate.torch_env import require_torch

    torch = require_torch()
    backend = "nccl" if device == "cuda" else "gloo"
    if backend == "nccl" and torch.cuda.device_count() < world:
        return [], None, [f"all-reduce skipped: NCCL needs {world} GPUs, "
                          f"{torch.cuda.device_count()} visible"]
    # the ranks import this package the way the parent did, installed or not
    src_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (src_root, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    with tempfile.TemporaryDirectory(prefix="gpuwise-calib-") as tmp:
        cmd = [sys.executable, "-m", "gpuwise.calibrate.collective", "--world", str(world),
               "--backend", backend, "--store", str(Path(tmp) / "store"),
               "--sizes", ",".join(str(s) for s in sizes), "--budget", str(budget_s)]
        procs = [subprocess.Popen([*cmd, "--rank", str(r)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
                 for r in range(world)]
        outputs: list[tuple[str, str]] = []
        failed = False
        for p in procs:
            try:
                outputs.append(p.communicate(timeout=timeout_s))
            except subprocess.TimeoutExpired:
                failed = True
                for q in procs:
                    q.kill()
                break
    if failed or any(p.returncode != 0 for p in procs):
        why = "timed out" if failed else _last_line(outputs)
        return [], backend, [f"all-reduce ({backend}, {world} processes) failed: {why}"]
    raw = json.loads(outputs[0][0].strip().splitlines()[-1])
    points = [CollectivePoint(nbytes=nb, world=world, seconds=t, bus_gbs=busbw_gbs(nb, world, t))
              for nb, t in raw]
    return points, backend, []


def _last_line(outputs: list[tuple[str, str]]) -> str:
    for _out, err in outputs:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        if lines:
            return lines[-1][:200]
    return "a rank exited with an error"


def _worker(rank: int, world: int, backend: str, store: str, sizes: list[int],
            budget_s: float) -> list[tuple[int, float]]:
    """One rank: best time of each all-reduce size; all ranks run the same collectives."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    device = f"cuda:{rank}" if backend == "nccl" else "cpu"
    if backend == "nccl":
        torch.cuda.set_device(rank)

    def sync() -> None:
        if backend == "nccl":
            torch.cuda.synchronize()

    dist.init_process_group(backend, init_method=f"file://{store}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    try:
        results = []
        for nbytes in sizes:
            x = torch.ones(max(1, nbytes // 4), dtype=torch.float32, device=device)
            dist.all_reduce(x)  # warm-up: connection set-up, buffer allocation
            sync()
            best = float("inf")
            deadline = time.perf_counter() + budget_s
            reps = 0
            while True:
                dist.barrier()
                t0 = time.perf_counter()
                dist.all_reduce(x)
                sync()
                best = min(best, time.perf_counter() - t0)
                reps += 1
                # agree on when to stop, so every rank issues the same collectives
                done = 1.0 if (reps >= 3 and time.perf_counter() > deadline) else 0.0
                flag = torch.tensor([done], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MIN)
                if flag.item() > 0 or reps >= 1000:
                    break
            results.append((x.numel() * 4, best))
        return results
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """Entry point of one rank (``python -m gpuwise.calibrate.collective``)."""
    ap = argparse.ArgumentParser(description="one rank of the gpuwise all-reduce benchmark")
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--backend", choices=["gloo", "nccl"], required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--budget", type=float, default=0.2)
    a = ap.parse_args(argv)
    res = _worker(a.rank, a.world, a.backend, a.store, [int(s) for s in a.sizes.split(",")],
                  a.budget)
    if a.rank == 0:
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
