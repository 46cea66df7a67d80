"""CLI: ``gpuwise plan train`` (training-parallelism planner) and ``gpuwise plan models``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from gpuwise.catalog import get_accelerator, parse_gpu_spec
from gpuwise.cli.apps import plan_app
from gpuwise.errors import GpuwiseError
from gpuwise.planner.advice import ep_conflict, explain_no_fit, min_gpus_for_deadline
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.evaluate import resolve_engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig, list_models
from gpuwise.planner.parallel import PRECISIONS, RECOMPUTE, Setup
from gpuwise.planner.request import build_model, parse_count, parse_duration_days
from gpuwise.planner.search import RESULT_FIELDS, search

# The JSON contract: the configuration, then the search's result fields (energy is extra).
CONFIG_FIELDS = ("dp", "tp", "pp", "vpp", "cp", "ep", "zero", "recompute", "micro_batch",
                 "precision")
CONTRACT = CONFIG_FIELDS + tuple(f for f in RESULT_FIELDS if f != "energy_mwh")


@plan_app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List model presets with their dimensions and parameter counts."""
    rows = []
    for m in list_models():
        d = m.model_dump(exclude={"source"})
        d["params"] = m.num_params()
        d["active_params"] = m.active_params()
        d["source"] = m.source
        rows.append(d)
    if as_json:
        print(json.dumps({"models": rows}))
        return
    print(
        f"{'preset':<20} {'params':>9} {'active':>9} {'layers':>6} {'hidden':>6} "
        f"{'heads':>5} {'kv':>4} {'ffn':>6} {'type':<6} {'vocab':>7} {'experts':>8}"
    )
    for r in rows:
        exp = f"{r['experts']}/{r['top_k']}" if r["experts"] else "-"
        print(
            f"{r['name']:<20} {r['params'] / 1e9:>8.2f}B {r['active_params'] / 1e9:>8.2f}B "
            f"{r['layers']:>6} {r['hidden']:>6} {r['heads']:>5} {r['kv_heads'] or r['heads']:>4} "
            f"{r['ffn'] or 4 * r['hidden']:>6} {r['ffn_type']:<6} {r['vocab']:>7} {exp:>8}"
        )


Pool = tuple[int, str, int, float | None]


def _pools(gpus: str | None, fleet: Path | None) -> list[Pool]:
    """(count, canonical type, GPUs per node, network GB/s per GPU or None) per GPU type.

    With a fleet file, drained/down nodes do not count, and the network rate is the slowest
    node's ``network_gbps`` (Gbit/s per GPU) when every node of that type states it.
    """
    if fleet is not None:
        from gpuwise.fleet import load_fleet

        f = load_fleet(str(fleet))
        out = []
        for t in f.gpu_types():
            nodes = [n for n in f.nodes if n.gpu_type == t and n.schedulable and n.gpus]
            if not nodes:
                continue
            rates = [n.network_gbps for n in nodes]
            net = min(r for r in rates if r) / 8 if all(rates) else None
            out.append((sum(n.gpus for n in nodes), t, max(n.gpus for n in nodes), net))
        if not out:
            raise GpuwiseError(f"{fleet}: the fleet has no GPUs")
        return out
    if not gpus:
        raise GpuwiseError("give --gpus NxTYPE (e.g. 64xA800) or --fleet fleet.yaml")
    return [(n, get_accelerator(t).name, 8, None) for n, t in parse_gpu_spec(gpus)]


def _check_fixed(model_heads: int, layers: int, tp: int | None, pp: int | None) -> None:
    if tp is not None and (tp < 1 or model_heads % tp):
        ok = [d for d in (1, 2, 4, 8) if model_heads % d == 0]
        raise GpuwiseError(
            f"--tp {tp} does not divide the model's {model_heads} attention heads "
            f"(try {', '.join(map(str, ok))})"
        )
    if pp is not None and (pp < 1 or layers % pp):
        ok = [d for d in range(1, min(layers, 64) + 1) if layers % d == 0]
        raise GpuwiseError(
            f"--pp {pp} does not divide the model's {layers} layers (try one of "
            f"{', '.join(map(str, ok))})"
        )


def _contract(row: dict[str, object]) -> dict[str, object]:
    out = {k: row[k] for k in CONTRACT}
    out.update({k: v for k, v in row.items() if k not in out})
    return out


def _table(rows: list[dict[str, object]]) -> str:
    head = (
        f"{'gpu':<10} {'dp':>4} {'tp':>3} {'pp':>3} {'vpp':>3} {'cp':>3} {'ep':>3} "
        f"{'zero':>4} {'recomp':<9} {'mb':>3} {'prec':<5} {'GiB':>6} {'step s':>8} "
        f"{'tok/s/gpu':>10} {'MFU':>6} {'days':>8}"
    )
    lines = [head]
    for r in rows:
        days = f"{r['days']:.1f}" if r.get("days") is not None else "-"
        lines.append(
            f"{r.get('gpu_type', ''):<10} {r['dp']:>4} {r['tp']:>3} {r['pp']:>3} {r['vpp']:>3} "
            f"{r['cp']:>3} {r['ep']:>3} {r['zero']:>4} {r['recompute']:<9} "
            f"{r['micro_batch']:>3} {r['precision']:<5} {r['memory_gib_per_gpu']:>6.1f} "
            f"{r['step_time_s']:>8.3f} {r['tokens_per_s_per_gpu']:>10.0f} "
            f"{100 * float(r['mfu']):>5.1f}% {days:>8}"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def _hardware(
    gpu_type: str, device_profile: Path | None, power_limit: float | None = None
) -> Hardware:
    if device_profile is None:
        acc = get_accelerator(gpu_type)
        if power_limit is not None:
            if power_limit > acc.tdp_w:
                raise GpuwiseError(
                    f"--power-limit {power_limit:g} W exceeds {acc.name}'s design TDP "
                    f"{acc.tdp_w:g} W; give at most {acc.tdp_w:g}"
                )
            acc = acc.model_copy(update={"power_limit_w": power_limit})
        return Hardware.from_catalog(acc)
    if power_limit is not None:
        raise GpuwiseError("--power-limit models catalog chips; a --device-profile already "
                           "measured the device at its own power limit")
    try:
        from gpuwise.calibrate.profile import DeviceProfile
    except ImportError as exc:  # pragma: no cover - the module ships with gpuwise
        raise GpuwiseError(f"--device-profile needs gpuwise.calibrate ({exc})") from None
    return Hardware.from_profile(DeviceProfile.load(device_profile))


@plan_app.command("train")
def train_cmd(
    model_name: str | None = typer.Option(None, "--model", help="Preset (see `plan models`)."),
    layers: int | None = typer.Option(None, "--layers"),
    hidden: int | None = typer.Option(None, "--hidden"),
    heads: int | None = typer.Option(None, "--heads"),
    kv_heads: int | None = typer.Option(None, "--kv-heads"),
    ffn: int | None = typer.Option(None, "--ffn"),
    ffn_type: str | None = typer.Option(None, "--ffn-type", help="gelu or swiglu"),
    vocab: int | None = typer.Option(None, "--vocab"),
    experts: int | None = typer.Option(None, "--experts"),
    top_k: int | None = typer.Option(None, "--top-k"),
    gpus: str | None = typer.Option(None, "--gpus", help="NxTYPE[,NxTYPE...], e.g. 64xA800"),
    fleet: Path | None = typer.Option(None, "--fleet", help="Fleet file instead of --gpus."),
    seq: int | None = typer.Option(None, "--seq", help="Sequence length (default: model's)."),
    global_batch: int = typer.Option(512, "--global-batch", help="Sequences per step."),
    tokens: str | None = typer.Option(None, "--tokens", help="Tokens to train on, e.g. 2T."),
    tp: int | None = typer.Option(None, "--tp"),
    pp: int | None = typer.Option(None, "--pp"),
    vpp: int | None = typer.Option(None, "--vpp"),
    cp: int | None = typer.Option(None, "--cp"),
    ep: int | None = typer.Option(None, "--ep"),
    zero: int | None = typer.Option(None, "--zero", min=0, max=3),
    recompute: str | None = typer.Option(None, "--recompute", help="none|selective|full"),
    micro_batch: int | None = typer.Option(None, "--micro-batch"),
    precision: str | None = typer.Option(None, "--precision", help="bf16|fp8"),
    engine: str = typer.Option(
        "modern", "--engine", help="|".join(ENGINES)
    ),
    net_gbs: float = typer.Option(
        25.0, "--net-gbs",
        help="Inter-node bandwidth per GPU, GB/s per direction (a fleet's network_gbps wins).",
    ),
    mem_margin: float = typer.Option(
        0.05, "--mem-margin",
        help="HBM fraction kept free for NCCL buffers and allocator fragmentation (not modelled).",
    ),
    top: int = typer.Option(10, "--top", help="Candidates to show."),
    rank: str = typer.Option("time", "--rank", help="time (to train) or gpu-hours."),
    min_gpus: bool = typer.Option(
        False, "--min-gpus", help="Smallest GPU count per type meeting --deadline."
    ),
    deadline: str | None = typer.Option(None, "--deadline", help="e.g. 14d (with --min-gpus)."),
    device_profile: Path | None = typer.Option(
        None, "--device-profile", help="Measured profile from `gpuwise calibrate`."
    ),
    power_limit: float | None = typer.Option(
        None, "--power-limit", min=1.0,
        help="Board power cap in W below the design TDP (nvidia-smi -pl), e.g. 500.",
    ),
    emit: str | None = typer.Option(None, "--emit", help="torchtitan|deepspeed|megatron"),
    emit_out: Path | None = typer.Option(None, "--emit-out", help="File for --emit."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find the fastest parallel configuration that fits, and how long training takes."""
    model = build_model(
        model_name,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        ffn=ffn,
        ffn_type=ffn_type,
        vocab=vocab,
        experts=experts,
        top_k=top_k,
        seq=seq,
    )
    if recompute is not None and recompute not in RECOMPUTE:
        raise GpuwiseError(f"--recompute: expected none, selective or full, got {recompute!r}")
    if precision is not None and precision not in PRECISIONS:
        raise GpuwiseError(f"--precision: expected bf16 or fp8, got {precision!r}")
    if emit is not None and emit not in ("torchtitan", "deepspeed", "megatron"):
        raise GpuwiseError(f"--emit: expected torchtitan, deepspeed or megatron, got {emit!r}")
    _check_fixed(model.heads, model.layers, tp, pp)
    for flag, value in (("--global-batch", global_batch), ("--micro-batch", micro_batch),
                        ("--vpp", vpp), ("--cp", cp), ("--ep", ep)):
        if value is not None and value < 1:
            raise GpuwiseError(f"{flag} must be at least 1, got {value}")
    bad_ep = ep_conflict(model, ep)
    if bad_ep is not None:
        raise GpuwiseError(bad_ep)
    fixed: dict[str, object] = {
        k: v
        for k, v in {
            "tp": tp,
            "pp": pp,
            "vpp": vpp,
            "cp": cp,
            "ep": ep,
            "zero": zero,
            "recompute": recompute,
            "micro_batch": micro_batch,
            "precision": precision,
        }.items()
        if v is not None
    }
    n_tokens = parse_count(tokens) if tokens else None
    eng = resolve_engine(engine)
    pools = _pools(gpus, fleet)
    base = Setup(model.seq_len, global_batch, 1, 8, net_gbs, mem_margin, eng, n_tokens)
    if min_gpus:
        _min_gpus(model, pools, fixed, base, deadline, device_profile, as_json, power_limit)
        return
    results = []
    failures = []
    for owned, gpu_type, per_node, net in pools:
        hw = _hardware(gpu_type, device_profile, power_limit)
        setup = replace(base, gpus=owned, gpus_per_node=per_node,
                        net_gbs_per_gpu=net or base.net_gbs_per_gpu)
        res = search(model, hw, setup, fixed, top=top)
        if not res.ranked:
            failures.append(explain_no_fit(model, res, hw, setup, fixed, gpu_type, owned))
        results.append((gpu_type, owned, res))
    rows = [dict(r, gpu_type=t, gpus=n) for t, n, res in results for r in res.ranked]
    if not rows:
        raise GpuwiseError("; ".join(failures))
    if rank not in ("time", "gpu-hours"):
        raise GpuwiseError(f"--rank: expected time or gpu-hours, got {rank!r}")
    # same global batch everywhere: time to train ~ step time, GPU-hours ~ step time x GPUs
    weight = (lambda r: 1.0) if rank == "time" else (lambda r: float(r["gpus"]))
    rows.sort(key=lambda r: float(r["step_time_s"]) * weight(r))  # type: ignore[arg-type]
    best = rows[0]
    evaluated = sum(res.evaluated for _, _, res in results)
    rejected: dict[str, int] = {}
    for _, _, res in results:
        for k, v in res.rejected.items():
            rejected[k] = rejected.get(k, 0) + v
    emitted = _emit(emit, emit_out, model, best, global_batch, eng) if emit else None
    if as_json:
        out: dict[str, object] = {
            "model": model.name,
            "best": _contract(best),
            "candidates": [_contract(r) for r in rows[:top]],
            "evaluated": evaluated,
            "rejected": rejected,
        }
        if emitted is not None and emit_out is None:
            out["emitted"] = emitted
        print(json.dumps(out))
        return
    print(
        f"{model.name}: {model.num_params() / 1e9:.1f}B parameters, seq {model.seq_len}, "
        f"global batch {global_batch}; evaluated {evaluated} configurations"
    )
    print(_table(rows[:top]))
    mem = best["memory_breakdown_gib"]
    tim = best["time_breakdown_s"]
    print("best, memory per GPU (GiB): " + ", ".join(f"{k} {v:.1f}" for k, v in mem.items()))  # type: ignore[attr-defined]
    print("best, step time parts (s): " + ", ".join(f"{k} {v:.3f}" for k, v in tim.items()))  # type: ignore[attr-defined]
    if best.get("energy_mwh") is not None:
        print(
            f"best, run: {best['days']:.1f} days, {best['gpu_hours']:,.0f} GPU-hours, "
            f"{best['energy_mwh']:.0f} MWh at board power"
        )
    if rejected:
        print("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
    for f in failures:
        print(f"note: {f}")
    if emitted is not None and emit_out is None:
        print(emitted)


def _emit(
    fmt: str,
    out: Path | None,
    model: ModelConfig,
    best: dict[str, object],
    global_batch: int,
    eng: Engine,
) -> str:
    try:
        from gpuwise.launch import emit as emit_fn
    except ImportError:
        raise GpuwiseError("--emit needs gpuwise.launch, which this build lacks") from None
    plan = dict(best, global_batch=global_batch, seq=model.seq_len, selective=eng.selective,
                fused_kernels=eng.fused_kernels)
    text: str = emit_fn(fmt, model, plan)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    return text


def _min_gpus(
    model: ModelConfig,
    pools: list[Pool],
    fixed: dict[str, object],
    base: Setup,
    deadline: str | None,
    device_profile: Path | None,
    as_json: bool,
    power_limit: float | None = None,
) -> None:
    if base.tokens is None or deadline is None:
        raise GpuwiseError("--min-gpus needs --tokens (e.g. 2T) and --deadline (e.g. 14d)")
    limit = parse_duration_days(deadline)
    found: list[dict[str, Any]] = []
    for owned, gpu_type, per_node, net in pools:
        hw = _hardware(gpu_type, device_profile, power_limit)
        setup = replace(base, gpus=owned, gpus_per_node=per_node,
                        net_gbs_per_gpu=net or base.net_gbs_per_gpu)
        hit = min_gpus_for_deadline(model, hw, setup, fixed, owned, limit)
        best = dict(_contract(hit[1]), gpu_type=gpu_type, gpus=hit[0]) if hit else None
        # when even every owned GPU misses the deadline, say by how much
        all_days = None
        if hit is None:
            res = search(model, hw, setup, fixed, top=1)
            all_days = res.ranked[0]["days"] if res.ranked else None
        found.append({"gpu_type": gpu_type, "owned": owned, "gpus": hit[0] if hit else None,
                      "best": best, "days_with_all_owned": all_days})
    if as_json:
        print(json.dumps({"model": model.name, "deadline_days": limit, "min_gpus": found}))
        return
    for f in found:
        if f["best"] is None and f["days_with_all_owned"] is None:
            print(f"{f['gpu_type']}: no configuration of all {f['owned']} GPUs fits the model")
        elif f["best"] is None:
            print(f"{f['gpu_type']}: all {f['owned']} GPUs need {f['days_with_all_owned']:.1f} "
                  f"days, over the {limit:g}-day deadline")
        else:
            b = f["best"]
            print(
                f"{f['gpu_type']}: {f['gpus']} of {f['owned']} GPUs finish in "
                f"{b['days']:.1f} days (tp={b['tp']} pp={b['pp']} zero={b['zero']} "
                f"recompute={b['recompute']} mb={b['micro_batch']})"
            )
