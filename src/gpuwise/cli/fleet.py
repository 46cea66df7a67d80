"""CLI commands: ``gpuwise fleet show PATH``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from gpuwise.cli.apps import fleet_app
from gpuwise.fleet import load_fleet, summarize


def _fmt(x: float | None, digits: int = 1) -> str:
    return "?" if x is None else f"{x:,.{digits}f}"


@fleet_app.command("show")
def fleet_show(
    source: str = typer.Argument(
        ..., help="Fleet YAML, openb node CSV, nvidia-smi capture(s), kubectl JSON, or 64xA800"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    gpus_per_node: int = typer.Option(8, help="Node size for an NxTYPE shorthand."),
) -> None:
    """Totals of a fleet: nodes, GPUs, per GPU type memory, dense BF16 PFLOP/s and kW."""
    totals = summarize(load_fleet(source, gpus_per_node=gpus_per_node))
    if as_json:
        print(json.dumps(totals.as_json(), indent=1))
        return
    table = Table(title=f"Fleet {totals.name}: {totals.nodes} nodes, {totals.gpus:,} GPUs")
    for col in ("GPU type", "nodes", "GPUs", "GiB", "BF16 PFLOP/s", "kW"):
        table.add_column(col, justify="left" if col == "GPU type" else "right")
    for t in totals.by_type:
        shown = t.gpu_type + (f" ({', '.join(t.source_names)})" if t.source_names else "")
        table.add_row(
            shown + ("" if t.known else " (opaque)"), str(t.nodes), f"{t.gpus:,}",
            _fmt(t.memory_gib, 0), _fmt(t.bf16_pflops, 2), _fmt(t.kw, 1),
        )
    table.add_section()
    table.add_row("total", str(totals.gpu_nodes), f"{totals.gpus:,}", _fmt(totals.memory_gib, 0),
                  _fmt(totals.bf16_pflops, 2), _fmt(totals.kw, 1))
    console = Console(width=120)
    console.print(table)
    cpu_only = totals.nodes - totals.gpu_nodes
    notes = []
    if cpu_only:
        notes.append(f"{cpu_only} CPU-only nodes")
    if any(not t.known for t in totals.by_type):
        notes.append("opaque GPU types are not in the catalog: their compute and power are unknown")
    not_up = {k: v for k, v in totals.states.items() if k != "up"}
    if not_up:
        notes.append("not schedulable: " + ", ".join(f"{v} {k}" for k, v in not_up.items()))
    for note in notes:
        console.print(note)
