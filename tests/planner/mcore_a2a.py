"""Megatron-Core MoE report (arXiv 2603.07685) Table 7, H100 columns, and the planner's NCCL
all-to-all charge for the same exchange; shared by the test and ``bench_nccl_busbw.py``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gpuwise.catalog import get_accelerator
from gpuwise.planner.collectives import node_links
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.moe_comm import nccl_alltoall_time
from gpuwise.planner.parallel import Setup

DATA = Path(__file__).resolve().parents[1] / "data" / "planner" / "mcore_moe_a2a_h100.csv"
ROWS = list(csv.DictReader(DATA.open()))
#: The table's shapes (hidden 7168, 4096-token sequence) and what it leaves unstated, assumed
#: here (SOURCE.md): DeepSeek-V3's top-8, one sequence per rank, 16-bit tokens, DGX H100 nodes
#: with one 400 Gb/s NIC per GPU.
HIDDEN, TOKENS, TOP_K, NIC_GBS = 7168, 4096, 8, 50.0


def modelled_us(ep: int) -> float:
    """The planner's time for one all-to-all of Table 7's shape on ``ep`` H100 ranks, in µs."""
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    setup = Setup(4096, 1, max(ep, 8), 8, NIC_GBS, engine=ENGINES["modern"])
    one = np.ones(1)
    nbytes = 2.0 * HIDDEN * TOKENS * TOP_K * one
    t = nccl_alltoall_time(nbytes, ep * one, ep * one, 8, *node_links(hw, setup, 1))
    return float(t[0] * 1e6)
