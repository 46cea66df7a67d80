"""Parse CPU and memory quantities as people and Kubernetes write them."""

from __future__ import annotations

import re

_MEM_UNITS: dict[str, float] = {
    "": 1 / (1024 * 1024),  # bare number: bytes (Kubernetes convention)
    "k": 1e3 / 2**20, "m": 1e6 / 2**20, "g": 1e9 / 2**20, "t": 1e12 / 2**20,
    "kb": 1e3 / 2**20, "mb": 1e6 / 2**20, "gb": 1e9 / 2**20, "tb": 1e12 / 2**20,
    "ki": 1 / 1024, "mi": 1, "gi": 1024, "ti": 1024 * 1024,
    "kib": 1 / 1024, "mib": 1, "gib": 1024, "tib": 1024 * 1024,
}
_QTY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory_mib(value: str | int | float) -> int:
    """``"2048GiB"`` -> 2097152; ``"1056457868Ki"`` -> MiB; bare numbers are bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a memory size such as '512GiB', got {value!r}")
    if isinstance(value, int | float):
        return int(value / (1024 * 1024))
    m = _QTY.match(value)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _MEM_UNITS:
        raise ValueError(f"expected a memory size such as '512GiB' or '1024Mi', got {value!r}")
    return int(round(float(m.group(1)) * _MEM_UNITS[unit]))


def parse_cpu_milli(value: str | int | float) -> int:
    """``96`` or ``"96"`` cores -> 96000; ``"95500m"`` -> 95500."""
    if isinstance(value, bool):
        raise ValueError(f"expected CPU cores such as 96 or '95500m', got {value!r}")
    if isinstance(value, int | float):
        return int(round(value * 1000))
    m = _QTY.match(value)
    if not m or m.group(2) not in ("", "m"):
        raise ValueError(f"expected CPU cores such as 96 or '95500m', got {value!r}")
    number = float(m.group(1))
    return int(round(number if m.group(2) == "m" else number * 1000))
