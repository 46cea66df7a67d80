"""CLI commands: ``gpuwise catalog`` and ``gpuwise catalog show TYPE``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from gpuwise.catalog import NUMERIC_FIELDS, Accelerator, get_accelerator, load_catalog
from gpuwise.cli.apps import catalog_app

JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _as_json(acc: Accelerator) -> dict[str, object]:
    return acc.model_dump(mode="json")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


@catalog_app.callback(invoke_without_command=True)
def catalog_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """List every accelerator with its dense peaks, memory and interconnect."""
    if ctx.invoked_subcommand is not None:
        return
    accs = load_catalog().accelerators
    if as_json:
        print(json.dumps([_as_json(a) for a in accs], indent=1))
        return
    table = Table(title="Accelerator catalog (dense peaks)")
    for col in ("name", "GiB", "BF16 TF", "FP8 TF", "INT8 TOPS", "FP32 TF", "HBM GB/s",
                "link GB/s/dir", "TDP W", "export of"):
        table.add_column(col, justify="left" if col in ("name", "export of") else "right")
    for a in accs:
        table.add_row(
            a.name, _fmt(a.memory_gib), _fmt(a.bf16_tflops or a.fp16_tflops) +
            ("" if a.bf16_tflops else "*"), _fmt(a.fp8_tflops), _fmt(a.int8_tops),
            _fmt(a.fp32_tflops), _fmt(a.mem_bw_gbs),
            f"{_fmt(a.interconnect_gbs)} {a.interconnect_kind}", _fmt(a.tdp_w),
            a.export_of or "",
        )
    console = Console(width=140)
    console.print(table)
    console.print("* no BF16 on this chip: FP16 shown. `gpuwise catalog show NAME` for sources.")


@catalog_app.command("show")
def catalog_show(name: str = typer.Argument(..., help="Any common spelling, e.g. 'NVIDIA H20'"),
                 as_json: bool = JSON_OPT) -> None:
    """Show one accelerator with the source of every number."""
    acc = get_accelerator(name)
    if as_json:
        print(json.dumps(_as_json(acc), indent=1))
        return
    console = Console(width=140)
    table = Table(title=f"{acc.vendor} {acc.name} (confidence: {acc.confidence})")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_column("source")
    refs: dict[str, int] = {}
    for field in (*NUMERIC_FIELDS, "interconnect_kind"):
        value = getattr(acc, field)
        src = acc.source_of(field) or "(no source)"
        ref = refs.setdefault(src, len(refs) + 1)
        table.add_row(field, value if isinstance(value, str) else _fmt(value), f"[{ref}]")
    console.print(table)
    for src, ref in refs.items():
        console.print(f"[{ref}] {src}", markup=False)
    if acc.export_edition:
        console.print(f"Export-control edition of {acc.export_of}: {acc.export_cuts}")
    if acc.aliases:
        console.print("Also known as: " + ", ".join(acc.aliases))
    if acc.notes:
        console.print(acc.notes)
