"""Configuration search: GPU type × TP × precision → fits, latency, rate, GPUs needed.

Every option is evaluated with the same model (``memory``, ``timing``, ``batching``); options
that do not fit or cannot meet the objectives are kept with a reason so the caller can say
what would work instead.  Ranking: feasible first, then fewest GPUs, then lowest TPOT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gpuwise.planner.models import ModelConfig
from gpuwise.serving.batching import OperatingPoint, Slo, max_rate
from gpuwise.serving.hw import Hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.timing import Deployment, decode_step, prefill
from gpuwise.serving.workload import Workload

TP_CHOICES: tuple[int, ...] = (1, 2, 4, 8)


@dataclass(frozen=True)
class Option:
    """One evaluated configuration."""

    model: str
    gpu: str
    tp: int
    precision: str
    kv_precision: str
    fits: bool
    memory_gib_per_gpu: float
    max_batch: int
    ttft_ms: float | None = None  # at the operating point (SLO quantile) or batch 1
    tpot_ms: float | None = None
    tokens_per_s_per_gpu: float | None = None
    decode_tokens_per_s: float | None = None  # output tokens/s of one replica, all sequences
    max_rate_per_replica: float | None = None
    replicas: int | None = None
    gpus_needed: int | None = None
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return self.gpus_needed is not None

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def tp_choices(model: ModelConfig, max_tp: int = 8) -> list[int]:
    """Tensor-parallel degrees that split the attention heads evenly."""
    return [t for t in TP_CHOICES if t <= max_tp and model.heads % t == 0]


def evaluate(
    model: ModelConfig,
    hw: Hardware,
    tp: int,
    precision: str,
    wl: Workload,
    rate: float | None,
    slo: Slo,
    kv_precision: str = "bf16",
    act_precision: str = "bf16",
    group_size: int | None = None,
) -> Option:
    """Evaluate one configuration; with ``rate``, size the replica count to meet it."""
    dep = Deployment(model, hw, tp, precision, act_precision, kv_precision, group_size)
    mf = memory_fit(model, hw.memory_bytes, tp, precision, kv_precision, wl.seq_mean)
    fits = mf.fits and mf.holds(wl.seq_tail)
    base = Option(
        model=model.name,
        gpu=hw.name,
        tp=tp,
        precision=precision,
        kv_precision=kv_precision,
        fits=fits,
        memory_gib_per_gpu=mf.used_bytes(max(1, mf.max_batch), wl.seq_mean) / 2**30,
        max_batch=mf.max_batch,
    )
    if not fits:
        need = mf.weights_bytes / 2**30
        return replace(base, reason=f"weights alone need {need:.1f} GiB per GPU"
                       if not mf.fits else f"a p99 request ({wl.seq_tail} tokens) does not fit")
    if rate is None:
        t_dec = decode_step(dep, 1, wl.mean_context).total_s
        return replace(
            base,
            ttft_ms=prefill(dep, 1, wl.prompt).total_s * 1e3,
            tpot_ms=t_dec * 1e3,
            tokens_per_s_per_gpu=1.0 / t_dec / tp,
            decode_tokens_per_s=1.0 / t_dec,
        )
    op = max_rate(dep, wl, slo, mf.max_batch)
    if op is None:
        return replace(base, reason="cannot meet the latency objectives even when idle")
    return _sized(base, op, slo, rate, tp)


def _sized(base: Option, op: OperatingPoint, slo: Slo, rate: float, tp: int) -> Option:
    replicas = max(1, math.ceil(rate / op.rate - 1e-9))
    ttft = op.ttft_p99_s if slo.quantile > 0.5 else op.ttft_p50_s
    return replace(
        base,
        ttft_ms=ttft * 1e3,
        tpot_ms=op.tpot_s * 1e3,
        tokens_per_s_per_gpu=op.output_tokens_per_s / tp,
        decode_tokens_per_s=op.output_tokens_per_s,
        max_rate_per_replica=op.rate,
        replicas=replicas,
        gpus_needed=replicas * tp,
    )


def search(
    models: Sequence[ModelConfig],
    hws: Sequence[Hardware],
    precisions: Sequence[str],
    wl: Workload,
    rate: float | None,
    slo: Slo,
    tps: Sequence[int] | None = None,
    kv_precision: str = "bf16",
    act_precision: str = "bf16",
    group_size: int | None = None,
) -> list[Option]:
    """Every (model, GPU, TP, precision) option, ranked (see module docstring)."""
    out: list[Option] = []
    for model in models:
        for hw in hws:
            for tp in tps or tp_choices(model):
                if model.heads % tp:
                    continue
                for prec in precisions:
                    out.append(
                        evaluate(
                            model, hw, tp, prec, wl, rate, slo, kv_precision, act_precision,
                            group_size,
                        )
                    )
    return sorted(out, key=_rank)


def _rank(o: Option) -> tuple[int, float, float]:
    if o.gpus_needed is not None:
        return (0, float(o.gpus_needed), o.tpot_ms or 0.0)
    if o.fits:
        return (1, float(o.tp), o.tpot_ms or math.inf)
    return (2, float(o.tp), 0.0)
