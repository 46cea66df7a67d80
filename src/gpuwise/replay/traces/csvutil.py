"""Reading delimited trace files with a header, with line numbers for error messages."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.replay.traces.common import read_lines


def rows(
    path: str, required: Sequence[str], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` for each data row; check the header has ``required``."""
    lines = read_lines(path)
    if not lines:
        raise GpuwiseError(f"{path}: empty file; expected a header line")
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    for name in required:
        if name not in header:
            raise GpuwiseError(
                f"{path}:1: missing column {name!r}{did_you_mean(name, header)}; "
                f"the header has: {', '.join(header)}"
            )
    for no, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise GpuwiseError(
                f"{path}:{no}: expected {len(header)} fields like the header, got {len(values)}"
            )
        yield no, {h: v.strip() for h, v in zip(header, values, strict=True)}
