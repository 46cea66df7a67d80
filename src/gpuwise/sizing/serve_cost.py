"""Serving cost of a model size, from the serving model (``gpuwise.serving``).

GPU-hours per million output tokens for a chat-like workload — 1024-token prompts, 256
output tokens, TPOT ≤ 50 ms and TTFT p99 ≤ 2 s — with bf16 weights, at the highest rate
meeting those objectives, on the tensor-parallel degree (≤ 8) that makes it cheapest.
"""

from __future__ import annotations

from gpuwise.planner.models import ModelConfig
from gpuwise.serving.batching import Slo, Workload, max_rate
from gpuwise.serving.hw import hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.search import tp_choices
from gpuwise.serving.timing import Deployment

WORKLOAD = Workload(prompt=1024, output=256)
OBJECTIVES = Slo(ttft_s=2.0, tpot_s=0.050, quantile=0.99)


def gpu_hours_per_mtok(model: ModelConfig, gpu: str, precision: str = "bf16") -> float | None:
    """GPU-hours per 10⁶ output tokens (None when no TP ≤ 8 holds it or meets the SLOs)."""
    hw = hardware(gpu)
    seq = WORKLOAD.prompt + WORKLOAD.output
    best: float | None = None
    for tp in tp_choices(model):
        mf = memory_fit(model, hw.memory_bytes, tp, precision, "bf16", seq)
        if not mf.fits:
            continue
        op = max_rate(Deployment(model, hw, tp, precision), WORKLOAD, OBJECTIVES, mf.max_batch)
        if op is not None:
            cost = 1e6 / (op.output_tokens_per_s / tp) / 3600.0
            best = cost if best is None else min(best, cost)
    return best
