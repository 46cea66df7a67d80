"""FLOP budgets from GPU time, through the training planner's achievable throughput.

A GPU budget (``256xH800`` for 30 days) becomes training tokens by evaluating a model of the
size in question on those GPUs with :func:`gpuwise.planner.evaluate.evaluate_config` (the
best of a small grid of TP/PP/recompute settings), so the budget reflects achievable MFU on
that chip, not its peak.  Scaling-law FLOPs are then C = 6·N·D with D the tokens trained.

Models of a given size get a Llama-style shape (:func:`shape_for_params`): SwiGLU, head dim
128, GQA with 8 KV heads, d_model/n_layers = 128 — inside the flat optimum of aspect ratios
(Kaplan et al. 2020, Fig. 5) and close to Llama-2/3 7B-70B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from gpuwise.catalog import get_accelerator
from gpuwise.errors import GpuwiseError
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.models import ModelConfig

HEAD_DIM = 128
ASPECT = 128  # d_model / n_layers
KV_HEADS = 8
VOCAB = 32000
TOKENS_PER_STEP = 4.0e6  # global batch in tokens (Llama 2: 4M tokens per step)
TP_GRID = (1, 2, 4, 8)
PP_GRID = (1, 2, 4, 8, 16)
RECOMPUTE_GRID = ("selective", "full")


def shape_for_params(params: float, seq: int = 4096) -> ModelConfig:
    """A Llama-style dense decoder with about ``params`` parameters (see module docstring)."""
    # Depth from N ≈ 12·L·h² with h = ASPECT·L; then the width that makes
    # L·(2 + 2·kv/heads + 8)·h² + 2·V·h = N (attention with GQA, SwiGLU with ffn = 8h/3).
    layers = max(2, round((params / (12.0 * ASPECT**2)) ** (1.0 / 3.0)))
    per_layer_h2 = 2.0 + 2.0 * KV_HEADS / max(KV_HEADS, ASPECT * layers / HEAD_DIM) + 8.0
    a, b = layers * per_layer_h2, 2.0 * VOCAB
    h = (-b + math.sqrt(b * b + 4 * a * params)) / (2 * a)
    step = HEAD_DIM * KV_HEADS if h >= HEAD_DIM * KV_HEADS else HEAD_DIM  # heads divisible by 8
    hidden = max(HEAD_DIM, step * round(h / step))
    heads = hidden // HEAD_DIM
    kv = KV_HEADS if heads % KV_HEADS == 0 else heads
    # Re-fit the depth to the rounded width.
    per_layer = (2.0 + 2.0 * kv / heads + 8.0) * hidden**2
    layers = max(2, round((params - 2.0 * VOCAB * hidden) / per_layer))
    ffn = 256 * max(1, round(8 * hidden / 3 / 256))
    return ModelConfig(
        name=f"dense-{params / 1e9:.3g}b",
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv,
        ffn=ffn,
        ffn_type="swiglu",
        vocab=VOCAB,
        seq_len=seq,
    )


def _num(x: object) -> float:
    if not isinstance(x, int | float):
        raise TypeError(f"expected a number from the planner, got {x!r}")
    return float(x)


@dataclass(frozen=True)
class Throughput:
    """Best training throughput found for one model on one GPU set."""

    tokens_per_s_per_gpu: float
    mfu: float
    config: dict[str, object]


@lru_cache(maxsize=256)
def training_throughput(
    params: float, gpu: str, gpus: int, seq: int, precision: str = "bf16"
) -> Throughput:
    """Best tokens/s per GPU over a small TP × PP × recompute grid (ZeRO-1, micro-batch 1)."""
    acc = get_accelerator(gpu)
    model = shape_for_params(params, seq)
    gb = gpus * max(1, math.ceil(TOKENS_PER_STEP / seq / gpus))
    best: Throughput | None = None
    for tp in TP_GRID:
        for pp in PP_GRID:
            if gpus % (tp * pp) or model.heads % tp or pp > model.layers:
                continue
            for rc in RECOMPUTE_GRID:
                r = evaluate_config(
                    model, acc, seq=seq, global_batch=gb, gpus=gpus, tp=tp, pp=pp, zero=1,
                    recompute=rc, micro_batch=1, precision=precision,
                )
                tps = _num(r["tokens_per_s_per_gpu"])
                if r["fits"] and (best is None or tps > best.tokens_per_s_per_gpu):
                    cfg = r["config"]
                    best = Throughput(tps, _num(r["mfu"]), cfg if isinstance(cfg, dict) else {})
    if best is None:
        raise GpuwiseError(
            f"a {params / 1e9:.3g}B-parameter model does not fit for training on {gpus}×{gpu} "
            f"with TP ≤ 8, PP ≤ 16 and full recomputation; use more GPUs or a smaller model"
        )
    return best


def tokens_in_budget(
    params: float, gpu: str, gpus: int, seconds: float, seq: int, precision: str = "bf16"
) -> float:
    """Training tokens a ``params`` model processes on ``gpus`` GPUs in ``seconds``."""
    tps = training_throughput(round(params, -6), gpu, gpus, seq, precision).tokens_per_s_per_gpu
    return tps * gpus * seconds


def gpu_days_for(
    params: float, tokens: float, gpu: str, gpus: int, seq: int, precision: str = "bf16"
) -> float:
    """GPU-days to train ``params`` on ``tokens`` with ``gpus`` GPUs (its own achievable MFU)."""
    tps = training_throughput(round(params, -6), gpu, gpus, seq, precision).tokens_per_s_per_gpu
    return tokens / tps / 86400.0


def largest_trainable(
    gpu: str, gpus: int, seq: int, precision: str = "bf16", lo: float = 7.0e7, hi: float = 2e12
) -> float | None:
    """The largest model size (±10 %) that fits for training on ``gpus`` × ``gpu``."""

    def fits(n: float) -> bool:
        try:
            training_throughput(round(n, -6), gpu, gpus, seq, precision)
        except GpuwiseError:
            return False
        return True

    if not fits(lo):
        return None
    while hi / lo > 1.1:  # bisection in log space
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
