"""The planner's intra-node collective cost next to published nccl-tests bus bandwidths.

``tests/data/planner/nccl_busbw.csv`` holds published ``all_reduce_perf`` / ``all_gather_perf``
/ ``reduce_scatter_perf`` results on one NVSwitch node (sources in
``tests/data/planner/SOURCE.md``).  For every row with a GPU count this prints the busbw the
planner's ring model gives at that size -- ``planner.collectives.ring_allreduce`` on the chip's
``link_gbs``, ``ring_gather`` on its ``gather_link_gbs``, with NCCL's intra-node latency model
-- and the ratio published / modelled.  nccl-tests' ``size`` is the whole buffer for every op (the
all-reduce vector; the gathered output; the reduce-scatter input), which is what the planner's
``nbytes`` means too; busbw = size / time x 2(n-1)/n (all-reduce) or (n-1)/n (all-gather,
reduce-scatter) (NVIDIA/nccl-tests ``doc/PERFORMANCE.md``).

A diagnostic of the model against its sources: ``efficiency.yaml`` ``gather_link_fraction``
(NVLink 4) is taken from the all-gather / reduce-scatter rows at their largest sizes; nothing
else is set from these numbers.

It then prints the planner's MoE all-to-all (``planner.moe_comm.nccl_alltoall_time``) beside
Megatron-Core's published H100 all-to-all dispatcher latencies, EP 8-64 (arXiv 2603.07685
Table 7, ``tests/data/planner/mcore_moe_a2a_h100.csv``; shapes and assumptions in
``tests/planner/mcore_a2a.py``).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_nccl_busbw.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.collectives import LAT_INTRA_S, ring_allreduce, ring_gather
from gpuwise.planner.efficiency import gather_link_gbs, link_gbs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests/ rows
from tests.planner import mcore_a2a  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "planner" / "nccl_busbw.csv"


def bus_factor(op: str, n: int) -> float:
    """nccl-tests' busbw / algbw for ``op`` on ``n`` ranks (doc/PERFORMANCE.md)."""
    return 2.0 * (n - 1) / n if op == "all_reduce" else (n - 1) / n


def modelled_busbw(gpu: str, op: str, n: int, size: float) -> float:
    """Bus bandwidth (GB/s) of the planner's ring cost for one intra-node collective."""
    s, k, acc = np.array([size]), np.array([float(n)]), get_accelerator(gpu)
    rate = link_gbs(acc) if op == "all_reduce" else gather_link_gbs(acc)
    bw, lat = np.array([rate]), np.array([LAT_INTRA_S])
    cost = ring_allreduce if op == "all_reduce" else ring_gather
    return float(bus_factor(op, n) * size / cost(s, k, bw, lat)[0] / 1e9)


def main() -> None:
    rows = [r for r in csv.DictReader(DATA.open()) if r["gpus"]]
    print("published nccl-tests busbw vs the planner's ring model (GB/s); ratio = pub / model")
    key = None
    for r in rows:
        head = (r["source"], r["gpu"], r["gpus"], r["nccl"], r["op"], r["algo"] or "auto")
        if head != key:
            key = head
            nccl = head[3] or "?"
            print(f"\n{head[0]}: {head[1]} x{head[2]}, NCCL {nccl}, {head[4]} ({head[5]})")
            print(f"  {'size':>8} {'published':>9} {'model':>7} {'ratio':>6}")
        n, size, pub = int(r["gpus"]), float(r["size_bytes"]), float(r["busbw_gbs"])
        mod = modelled_busbw(r["gpu"], r["op"], n, size)
        label = f"{size / 2**20:.0f}M" if size < 2**30 else f"{size / 2**30:.0f}G"
        print(f"  {label:>8} {pub:9.1f} {mod:7.1f} {pub / mod:6.2f}")
    print("\nMegatron-Core all-to-all dispatcher on H100 (arXiv 2603.07685 Table 7), microseconds;"
          " ratio = model / published")
    print(f"  {'phase':>8} {'EP':>3} {'published':>9} {'model':>7} {'ratio':>6}")
    for r in mcore_a2a.ROWS:
        pub, mod = float(r["h100_alltoall_us"]), mcore_a2a.modelled_us(int(r["ep"]))
        print(f"  {r['phase']:>8} {r['ep']:>3} {pub:9.0f} {mod:7.0f} {mod / pub:6.2f}")


if __name__ == "__main__":
    main()
