"""``plan serve`` as a library: one configuration at a batch, or a rate-driven search.

Returns plain dicts (the CLI's JSON contract); user mistakes and impossible requests raise
:class:`GpuwiseError` with one sentence and the nearest configuration that would work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig, get_model
from gpuwise.serving.batching import Slo
from gpuwise.serving.hw import Hardware, hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.search import Option, evaluate, search, tp_choices
from gpuwise.serving.timing import Deployment, decode_step, prefill
from gpuwise.serving.workload import Workload
from gpuwise.sizing.quality import preset_loss

FALLBACK_PRECISIONS: tuple[str, ...] = ("bf16", "fp8", "int8", "int4")


def _fits(model: ModelConfig, hw: Hardware, tp: int, prec: str, kv: str, seq: int) -> bool:
    return memory_fit(model, hw.memory_bytes, tp, prec, kv, seq).fits


def nearest_fit(model: ModelConfig, hws: Sequence[Hardware], kv: str, seq: int) -> str:
    """Describe the smallest (GPUs, precision) that does fit, or that nothing does."""
    found: list[tuple[int, int, str, str]] = []
    for i, prec in enumerate(FALLBACK_PRECISIONS):
        for hw in hws:
            for tp in tp_choices(model):
                if _fits(model, hw, tp, prec, kv, seq):
                    found.append((tp, i, prec, hw.name))
                    break
    if not found:
        return "it fits no precision down to int4 on 8 of these GPUs"
    tp, _, prec, gpu = min(found)
    return f"{prec} weights on {tp}×{gpu} fit"


def choose_tp(
    model: ModelConfig, hw: Hardware, prec: str, kv: str, seq: int, batch: int = 1
) -> int:
    """The smallest TP at which ``batch`` sequences of ``seq`` tokens fit."""
    for tp in tp_choices(model):
        if memory_fit(model, hw.memory_bytes, tp, prec, kv, seq).max_batch >= batch:
            return tp
    raise GpuwiseError(
        f"{model.name} with {prec} weights does not fit on {hw.name} at any TP up to 8 "
        f"(for {batch} sequence(s) of {seq} tokens); {nearest_fit(model, [hw], kv, seq)}"
    )


def single(
    dep: Deployment, wl: Workload, batch: int, tp_given: bool
) -> dict[str, object]:
    """One configuration at a fixed batch: memory, TTFT (batch prefill), TPOT, tokens/s."""
    m, hw, tp = dep.model, dep.hw, dep.tp
    seq = wl.seq_mean
    mf = memory_fit(m, hw.memory_bytes, tp, dep.weights, dep.kv, seq, dep.group_size)
    pf = prefill(dep, batch, wl.prompt)
    step = decode_step(dep, batch, wl.mean_context)
    out: dict[str, object] = {
        "model": m.name,
        "gpu": hw.name,
        "tp": tp,
        "precision": dep.weights,
        "kv_precision": dep.kv,
        "batch": batch,
        "fits": mf.max_batch >= batch and mf.holds(wl.seq_tail),
        "memory_gib_per_gpu": mf.used_bytes(batch, seq) / 2**30,
        "weights_gib_per_gpu": mf.weights_bytes / 2**30,
        "kv_cache_bytes_per_token": mf.kv_bytes_per_token * min(tp, m.kv),
        "max_batch": mf.max_batch,
        "ttft_ms": pf.total_s * 1e3,
        "tpot_ms": step.total_s * 1e3,
        "decode_tokens_per_s": batch / step.total_s,
        "decode_tokens_per_s_per_gpu": batch / step.total_s / tp,
        "prefill_tokens_per_s": batch * wl.prompt / pf.total_s,
        "decode_bound": step.bound,
        "decode_breakdown_ms": {
            "memory": step.memory_s * 1e3,
            "compute": step.compute_s * 1e3,
            "dequant": step.dequant_s * 1e3,
            "kernel_overhead": step.overhead_s * 1e3,
            "tp_allreduce": step.comm_s * 1e3,
        },
        "loss": preset_loss(m.name, m.num_params()) if not m.is_moe else None,
    }
    if not out["fits"]:
        out["reason"] = (
            f"needs {out['memory_gib_per_gpu']:.1f} GiB per GPU, "
            f"{mf.usable_bytes / 2**30:.1f} GiB usable on {hw.name}"
        )
        if tp_given:
            out["suggestion"] = nearest_fit(m, [hw], dep.kv, seq)
    return out


def plan_rate(
    models: Sequence[ModelConfig],
    hws: Sequence[Hardware],
    precisions: Sequence[str],
    wl: Workload,
    rate: float,
    slo: Slo,
    tps: Sequence[int] | None = None,
    kv: str = "bf16",
    act: str = "bf16",
    group_size: int | None = None,
) -> dict[str, object]:
    """Search every option and size it for ``rate`` req/s, ranked by GPUs needed.

    The top-level answer is the best option for ``models[0]``; the other models (smaller
    alternatives) appear in ``options`` with their scaling-law loss for comparison.
    """
    if rate <= 0:
        raise GpuwiseError(f"--rate must be > 0 requests/s, got {rate:g}")
    opts = search(models, hws, precisions, wl, rate, slo, tps, kv, act, group_size)
    rows = [_with_loss(o, models) for o in opts]
    primary = [o for o in opts if o.model == models[0].name]
    best = next((o for o in primary if o.feasible), None)
    if best is None:
        raise GpuwiseError(
            _no_option_message(primary, models[:1], hws, wl, slo, kv, act, group_size)
        )
    out = _with_loss(best, models)
    out["options"] = rows
    return out


def _with_loss(o: Option, models: Sequence[ModelConfig]) -> dict[str, object]:
    d = o.as_dict()
    m = next(x for x in models if x.name == o.model)
    d["loss"] = None if m.is_moe else preset_loss(m.name, m.num_params())
    return d


def _no_option_message(
    opts: Sequence[Option],
    models: Sequence[ModelConfig],
    hws: Sequence[Hardware],
    wl: Workload,
    slo: Slo,
    kv: str,
    act: str,
    group_size: int | None,
) -> str:
    fitting = [o for o in opts if o.fits]
    names = ", ".join(sorted({h.name for h in hws}))
    if not fitting:
        m = models[0]
        return (
            f"{m.name} does not fit on {names} in the precisions asked at any TP up to 8; "
            f"{nearest_fit(m, hws, kv, wl.seq_tail)}"
        )
    # Idle latency of each fitting option: the best any load could do.
    best_ratio, best_txt = math.inf, ""
    hw_by = {h.name: h for h in hws}
    m_by = {m.name: m for m in models}
    for o in fitting:
        dep = Deployment(m_by[o.model], hw_by[o.gpu], o.tp, o.precision, act, kv, group_size)
        t_dec = decode_step(dep, 1, wl.mean_context).total_s
        ttft = prefill(dep, 1, wl.prompt).total_s + t_dec
        ratio = max(
            ttft / slo.ttft_s if slo.ttft_s else 0.0, t_dec / slo.tpot_s if slo.tpot_s else 0.0
        )
        if ratio < best_ratio:
            best_ratio = ratio
            best_txt = (
                f"the closest is {o.model} {o.precision} on {o.tp}×{o.gpu} with TTFT "
                f"{ttft * 1e3:.0f} ms and TPOT {t_dec * 1e3:.1f} ms when idle"
            )
    return f"no configuration meets the latency objectives on {names}; {best_txt}"


def parse_compare(spec: str) -> list[tuple[ModelConfig, str, int, Hardware]]:
    """``"llama-2-70b:bf16:8xH800,llama-3-8b:bf16:1xL20"`` → (model, precision, tp, GPU)."""
    out = []
    for item in (t.strip() for t in spec.split(",") if t.strip()):
        parts = item.split(":")
        if len(parts) != 3 or "x" not in parts[2].lower():
            raise GpuwiseError(
                f"--compare: {item!r} is not MODEL:PRECISION:NxGPU (e.g. llama-2-70b:int4:2xH20)"
            )
        count, _, gpu = parts[2].lower().partition("x")
        if not count.isdigit() or int(count) < 1:
            raise GpuwiseError(f"--compare: {parts[2]!r} needs a GPU count such as 2xH20")
        out.append((get_model(parts[0]), parts[1], int(count), hardware(parts[2][len(count) + 1:])))
    if not out:
        raise GpuwiseError("--compare: give at least one MODEL:PRECISION:NxGPU")
    return out


def compare(
    spec: str, wl: Workload, rate: float | None, slo: Slo, kv: str = "bf16", act: str = "bf16",
    group_size: int | None = None,
) -> list[dict[str, object]]:
    """Named configurations side by side, with the scaling-law loss and its cost vs the first."""
    rows = []
    for model, prec, tp, hw in parse_compare(spec):
        o = evaluate(model, hw, tp, prec, wl, rate, slo, kv, act, group_size)
        rows.append(_with_loss(o, [model]))
    base = rows[0]["loss"]
    for r in rows:
        loss = r["loss"]
        r["loss_delta"] = (
            loss - base if isinstance(loss, float) and isinstance(base, float) else None
        )
    return rows
