"""Evaluate training configurations: memory terms, step time, throughput, MFU, cost.

``evaluate(model, hw, setup, cands)`` is the vectorized core used by the search;
``evaluate_config(...)`` evaluates one configuration and returns plain numbers::

    evaluate_config(model, "A100-80GB", seq=2048, global_batch=512, gpus=64,
                    tp=8, pp=2, recompute="full", micro_batch=1, engine="megatron-2021")
    -> {"config": {...}, "memory_gib": {"weights", "gradients", "optimizer", "activations",
        "logits", "overhead", "total"}, "fits": bool, "time_s": {"step", "pipeline_bubble",
        "dp_exposed", "optimizer", "tp_comm", "microbatch", "embedding_sync", "vocab_comm"},
        "model_flops_per_step",
        "hardware_flops_per_step", "tokens_per_s_per_gpu", "tflops_per_gpu",
        "hw_tflops_per_gpu", "mfu", "hfu", "days", "gpu_hours", "energy_mwh"}
"""

from __future__ import annotations

import numpy as np

from gpuwise.catalog import Accelerator, get_accelerator
from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.flops import model_flops_per_token, recompute_flops_per_token
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.memory import GIB, memory_breakdown
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.overhead import runtime_overhead
from gpuwise.planner.parallel import RECOMPUTE, Candidates, Setup, single
from gpuwise.planner.time import step_time

MEMORY_TERMS = ("weights", "gradients", "optimizer", "activations", "logits", "overhead", "total")
TIME_TERMS = ("step", "pipeline_bubble", "dp_exposed", "optimizer", "tp_comm", "microbatch",
              "embedding_sync", "vocab_comm")


def evaluate(
    model: ModelConfig, hw: Hardware, setup: Setup, c: Candidates
) -> dict[str, np.ndarray]:
    """Memory terms (bytes), time terms (s) and throughput metrics for every candidate."""
    runtime = runtime_overhead(hw.acc.vendor, hw.acc.name, setup.engine)
    mem = memory_breakdown(model, c, setup, hw.acc.memory_gib, runtime=runtime)
    tm = step_time(model, c, setup, hw)
    tokens = float(setup.seq) * setup.global_batch
    mf_tok = model_flops_per_token(model, setup.seq)
    sel = setup.engine.selective
    rc_tok = np.array([recompute_flops_per_token(model, setup.seq, r, sel) for r in RECOMPUTE])[
        c.recompute
    ]
    model_flops = tokens * mf_tok
    hw_flops = tokens * (mf_tok + rc_tok)
    step = tm["step"]
    # MFU/HFU against the dense BF16 peak whatever the precision (torchtitan's convention:
    # its ``get_peak_flops`` returns the BF16 peak for float8 runs too), so BF16 and FP8 plans
    # are on one scale and an FP8 speed-up shows as a higher MFU
    peak = hw.peak_tflops("bf16") * 1e12
    out: dict[str, np.ndarray] = {f"mem_{k}": v for k, v in mem.items()}
    out.update({f"time_{k}": v for k, v in tm.items()})
    out["model_flops_per_step"] = np.full(len(c), model_flops)
    out["hardware_flops_per_step"] = hw_flops
    out["tokens_per_s_per_gpu"] = tokens / (step * setup.gpus)
    out["tflops_per_gpu"] = model_flops / (step * setup.gpus) / 1e12
    out["hw_tflops_per_gpu"] = hw_flops / (step * setup.gpus) / 1e12
    out["mfu"] = model_flops / (step * setup.gpus) / peak
    out["hfu"] = hw_flops / (step * setup.gpus) / peak
    if setup.tokens:
        seconds = setup.tokens / tokens * step
        out["days"] = seconds / 86400.0
        out["gpu_hours"] = seconds / 3600.0 * setup.gpus
        out["energy_mwh"] = seconds / 3600.0 * setup.gpus * hw.acc.board_power_w / 1e6
    return out


def resolve_hardware(gpu: str | Accelerator | Hardware) -> Hardware:
    """A :class:`Hardware` from a catalog name, an ``Accelerator`` or a ready ``Hardware``."""
    if isinstance(gpu, Hardware):
        return gpu
    acc = gpu if isinstance(gpu, Accelerator) else get_accelerator(gpu)
    return Hardware.from_catalog(acc)


def resolve_engine(engine: str | Engine) -> Engine:
    if isinstance(engine, Engine):
        return engine
    if engine not in ENGINES:
        raise GpuwiseError(
            f"--engine: unknown engine {engine!r}{did_you_mean(engine, ENGINES)}; "
            f"expected one of {', '.join(ENGINES)}"
        )
    return ENGINES[engine]


def evaluate_config(
    model: ModelConfig,
    gpu: str | Accelerator | Hardware,
    *,
    seq: int,
    global_batch: int,
    gpus: int,
    tp: int = 1,
    pp: int = 1,
    vpp: int = 1,
    cp: int = 1,
    ep: int = 1,
    zero: int = 0,
    recompute: str = "none",
    micro_batch: int = 1,
    precision: str = "bf16",
    engine: str | Engine = "modern",
    tokens: float | None = None,
    net_gbs_per_gpu: float = 25.0,
    gpus_per_node: int = 8,
    mem_margin: float = 0.05,
    pipeline_runs: int = 1,
) -> dict[str, object]:
    """Evaluate one configuration (``dp = gpus / (tp * pp * cp)``); see the module docstring."""
    if gpus % (tp * pp * cp):
        raise GpuwiseError(f"--gpus {gpus} is not divisible by tp*pp*cp = {tp * pp * cp}")
    dp = gpus // (tp * pp * cp)
    hw = resolve_hardware(gpu)
    setup = Setup(
        seq,
        global_batch,
        gpus,
        gpus_per_node,
        net_gbs_per_gpu,
        mem_margin,
        resolve_engine(engine),
        tokens,
        pipeline_runs,
    )
    c = single(dp, tp, pp, vpp, cp, ep, zero, recompute, micro_batch, precision)
    r = evaluate(model, hw, setup, c)
    return {
        "config": c.row(0),
        "memory_gib": {k: float(r[f"mem_{k}"][0]) / GIB for k in MEMORY_TERMS},
        "fits": bool(r["mem_fits"][0]),
        "time_s": {k: float(r[f"time_{k}"][0]) for k in TIME_TERMS},
        **{
            k: float(r[k][0])
            for k in (
                "model_flops_per_step",
                "hardware_flops_per_step",
                "tokens_per_s_per_gpu",
                "tflops_per_gpu",
                "hw_tflops_per_gpu",
                "mfu",
                "hfu",
            )
        },
        **{k: (float(r[k][0]) if k in r else None) for k in ("days", "gpu_hours", "energy_mwh")},
        "layer_activation_bytes": float(r["mem_layer_activation"][0]),
        "model_state_mean_bytes": float(r["mem_model_state_mean"][0]),
    }
