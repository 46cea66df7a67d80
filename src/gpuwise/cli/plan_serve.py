"""CLI command: ``gpuwise plan serve`` — inference capacity planning."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from gpuwise.catalog import resolve_name
from gpuwise.cli.apps import plan_app
from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig, get_model
from gpuwise.serving.batching import Slo
from gpuwise.serving.hw import Hardware, hardware, hardware_from_profile
from gpuwise.serving.plan import choose_tp, compare, plan_rate, single
from gpuwise.serving.timing import Deployment
from gpuwise.serving.workload import Workload, load_lengths, parse_length


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _model_from_args(
    model: str | None,
    layers: int | None,
    hidden: int | None,
    heads: int | None,
    kv_heads: int | None,
    ffn: int | None,
    ffn_type: str,
    vocab: int,
    experts: int,
    top_k: int,
) -> ModelConfig:
    if model is not None:
        return get_model(model)
    if layers is None or hidden is None or heads is None:
        raise GpuwiseError("give --model PRESET or all of --layers, --hidden and --heads")
    try:
        return ModelConfig(
            name="custom", layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
            ffn=ffn, ffn_type=ffn_type,
            vocab=vocab, experts=experts, top_k=top_k,
        )
    except ValueError as exc:
        first = str(exc).splitlines()
        raise GpuwiseError(f"model dimensions: {first[-1] if first else exc}") from None


def _workload(prompt: str, output: str, lengths: str | None) -> Workload:
    if lengths is not None:
        return load_lengths(lengths)
    p, p99 = parse_length(prompt, "--prompt-tokens")
    o, o99 = parse_length(output, "--output-tokens")
    return Workload(p, o, p99, o99)


def _hardware(gpu: str | None, profile: str | None) -> list[Hardware]:
    """The GPU types asked for; a device profile replaces the first one's rates."""
    names = _split(gpu or "")
    if profile is not None:
        from gpuwise.calibrate import DeviceProfile

        base = names[0] if names and resolve_name(names[0]) else None
        return [hardware_from_profile(DeviceProfile.load(profile), base)]
    if not names:
        raise GpuwiseError("give --gpu TYPE (e.g. --gpu H800 or --gpu H800,H20,L20)")
    return [hardware(n) for n in names]


@plan_app.command("serve")
def plan_serve(
    model: str | None = typer.Option(None, "--model", help="Preset, e.g. llama-2-70b."),
    layers: int | None = typer.Option(None, "--layers"),
    hidden: int | None = typer.Option(None, "--hidden"),
    heads: int | None = typer.Option(None, "--heads"),
    kv_heads: int | None = typer.Option(None, "--kv-heads"),
    ffn: int | None = typer.Option(None, "--ffn"),
    ffn_type: str = typer.Option("swiglu", "--ffn-type", help="gelu or swiglu"),
    vocab: int = typer.Option(32000, "--vocab"),
    experts: int = typer.Option(0, "--experts"),
    top_k: int = typer.Option(0, "--top-k"),
    alt_model: list[str] = typer.Option(
        [], "--alt-model", help="Another preset to compare side by side (repeatable)."
    ),
    gpu: str | None = typer.Option(None, "--gpu", help="GPU type(s), comma-separated."),
    tp: int | None = typer.Option(None, "--tp", help="Tensor parallelism (default: searched)."),
    precision: str = typer.Option(
        "bf16", "--precision", help="Weight precision(s): bf16, fp8, int8, int4 (comma list)."
    ),
    kv_precision: str = typer.Option("bf16", "--kv-precision"),
    act_precision: str = typer.Option("bf16", "--act-precision"),
    group_size: int | None = typer.Option(None, "--group-size", help="int4 group (def. 128)."),
    prompt_tokens: str = typer.Option(
        "1024", "--prompt-tokens", help="N, or MEAN:P99 for a length distribution."
    ),
    output_tokens: str = typer.Option("256", "--output-tokens", help="N, or MEAN:P99."),
    lengths: str | None = typer.Option(
        None, "--lengths", help="CSV of requests (prompt_tokens,output_tokens): mean and p99."
    ),
    batch: int = typer.Option(1, "--batch", min=1, help="Concurrent sequences (no --rate)."),
    rate: float | None = typer.Option(None, "--rate", help="Requests/s to serve."),
    ttft_slo: float | None = typer.Option(None, "--ttft-slo", help="TTFT objective, ms."),
    tpot_slo: float | None = typer.Option(None, "--tpot-slo", help="Time/output token, ms."),
    slo_quantile: str = typer.Option("p99", "--slo-quantile", help="p50 or p99 (TTFT)."),
    compare_: str | None = typer.Option(
        None, "--compare",
        help="Configurations side by side: MODEL:PREC:NxGPU,... (N = TP).",
    ),
    device_profile: str | None = typer.Option(None, "--device-profile", help="calibrate JSON"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """How many GPUs serve a model at a rate and latency; or one configuration's numbers."""
    if slo_quantile not in ("p50", "p99"):
        raise GpuwiseError(f"--slo-quantile must be p50 or p99, got {slo_quantile!r}")
    slo = Slo(
        ttft_s=ttft_slo / 1e3 if ttft_slo else None,
        tpot_s=tpot_slo / 1e3 if tpot_slo else None,
        quantile=0.99 if slo_quantile == "p99" else 0.5,
    )
    wl = _workload(prompt_tokens, output_tokens, lengths)
    if compare_ is not None:
        rows = compare(compare_, wl, rate, slo, kv_precision, act_precision, group_size)
        if as_json:
            print(json.dumps({"comparison": rows}))
        else:
            _print_rows("Side by side", rows)
        return
    m = _model_from_args(model, layers, hidden, heads, kv_heads, ffn, ffn_type, vocab,
                         experts, top_k)
    hws = _hardware(gpu, device_profile)
    precs = _split(precision)
    if rate is None:
        hw = hws[0]
        t = tp if tp is not None else choose_tp(m, hw, precs[0], kv_precision, wl.seq_tail, batch)
        dep = Deployment(m, hw, t, precs[0], act_precision, kv_precision, group_size)
        out = single(dep, wl, batch, tp_given=tp is not None)
        _emit_single(out, as_json)
        return
    models = [m, *(get_model(a) for a in alt_model)]
    res = plan_rate(models, hws, precs, wl, rate, slo, [tp] if tp else None,
                    kv_precision, act_precision, group_size)
    if as_json:
        print(json.dumps(res))
        return
    _print_options(res)


def _emit_single(out: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(out))
        return
    c = Console(width=120)
    c.print(
        f"{out['model']} {out['precision']} on {out['tp']}×{out['gpu']}, batch {out['batch']}: "
        f"{'fits' if out['fits'] else 'does NOT fit'} "
        f"({out['memory_gib_per_gpu']:.1f} GiB/GPU, max batch {out['max_batch']})"
    )
    c.print(
        f"TTFT {out['ttft_ms']:.1f} ms · TPOT {out['tpot_ms']:.2f} ms · "
        f"decode {out['decode_tokens_per_s']:.1f} tok/s ({out['decode_bound']}-bound)"
    )
    for key in ("reason", "suggestion"):
        if key in out:
            c.print(f"{key}: {out[key]}")


def _f(x: object, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _print_options(res: dict[str, object]) -> None:
    options = res["options"]
    assert isinstance(options, list)
    _print_rows(f"Serving options (best needs {res['gpus_needed']} GPUs)", options)


def _print_rows(title: str, options: list[dict[str, object]]) -> None:
    table = Table(title=title)
    for col in ("model", "GPU", "TP", "weights", "fits", "max batch", "TTFT ms", "TPOT ms",
                "tok/s/GPU", "req/s/replica", "GPUs", "loss", "why not"):
        table.add_column(col)
    for o in options:
        table.add_row(
            str(o["model"]), str(o["gpu"]), str(o["tp"]), str(o["precision"]),
            "yes" if o["fits"] else "no",
            str(o["max_batch"]), _f(o["ttft_ms"], ".0f"), _f(o["tpot_ms"], ".1f"),
            _f(o["tokens_per_s_per_gpu"], ".0f"), _f(o["max_rate_per_replica"], ".2f"),
            _f(o["gpus_needed"], "d"), _f(o["loss"], ".3f"), str(o["reason"]),
        )
    Console(width=160).print(table)
