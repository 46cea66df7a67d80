"""Gavel's ``simulation_throughputs.json``: steps/s per (model, scale factor) per GPU type.

Layout: ``{worker_type: {"('<model>', <scale>)": {"null": steps_per_s, ...}}}``.  Worker
types ``v100``/``p100``/``k80`` are mapped to catalog names with
:func:`gpuwise.catalog.get_accelerator`; ``<type>_unconsolidated`` gives the rate of a
multi-GPU job whose workers are spread over several servers.  Only the isolated
(``"null"``) throughputs are used (no space sharing).  A 0.0 throughput means "cannot run".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from gpuwise.catalog import get_accelerator
from gpuwise.errors import GpuwiseError

_KEY = re.compile(r"^\('(.*)', (\d+)\)$")
_SPREAD = "_unconsolidated"

JobKey = tuple[str, int]  # (model, scale factor)


@dataclass(slots=True)
class Throughputs:
    """Isolated throughputs: ``packed[(model, scale)][gpu type]`` (and ``spread``)."""

    packed: dict[JobKey, dict[str, float]] = field(default_factory=dict)
    spread: dict[JobKey, dict[str, float]] = field(default_factory=dict)

    def models(self) -> list[str]:
        return sorted({m for m, _ in self.packed})


def gpu_name(worker_type: str) -> str:
    """Catalog name of a Gavel worker type, or the name itself if the catalog lacks it."""
    try:
        return get_accelerator(worker_type).name
    except GpuwiseError:
        return worker_type


def load_throughputs(path: str) -> Throughputs:
    """Read a Gavel throughputs JSON file."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        raise GpuwiseError(f"{path}: no such throughputs file") from None
    except json.JSONDecodeError as exc:
        raise GpuwiseError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise GpuwiseError(f"{path}: expected a JSON object of worker types")
    out = Throughputs()
    for worker, table in raw.items():
        spread = worker.endswith(_SPREAD)
        name = gpu_name(worker[: -len(_SPREAD)] if spread else worker)
        if not isinstance(table, dict):
            raise GpuwiseError(f"{path}: {worker}: expected an object of job keys")
        target = out.spread if spread else out.packed
        for key, entry in table.items():
            m = _KEY.match(key)
            if m is None:
                raise GpuwiseError(
                    f"{path}: {worker}: job key {key!r} is not of the form \"('model', n)\""
                )
            value = entry.get("null") if isinstance(entry, dict) else None
            if not isinstance(value, int | float) or value < 0:
                raise GpuwiseError(
                    f"{path}: {worker}: {key}: expected a non-negative \"null\" throughput"
                )
            target.setdefault((m.group(1), int(m.group(2))), {})[name] = float(value)
    if not out.packed:
        raise GpuwiseError(f"{path}: no throughputs found")
    return out
