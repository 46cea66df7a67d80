"""Shared pieces of the trace loaders: the result type and line-numbered field parsing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gpuwise.errors import GpuwiseError, where
from gpuwise.replay.jobs import Job


@dataclass(slots=True)
class Trace:
    """Jobs read from a trace, plus what was left out and why (reason -> count)."""

    jobs: list[Job]
    source: str
    skipped: Counter[str] = field(default_factory=Counter)


def bad(path: str, line: int, name: str, value: str, expected: str) -> GpuwiseError:
    return GpuwiseError(f"{where(path, line)}{name}: expected {expected}, got {value!r}")


def to_float(path: str, line: int, name: str, value: str, minimum: float = 0.0) -> float:
    try:
        x = float(value)
    except ValueError:
        raise bad(path, line, name, value, "a number") from None
    if not x >= minimum or x != x or x in (float("inf"), float("-inf")):
        raise bad(path, line, name, value, f"a finite number >= {minimum:g}")
    return x


def to_int(path: str, line: int, name: str, value: str, minimum: int = 0) -> int:
    try:
        x = int(value)
    except ValueError:
        try:
            f = float(value)
        except ValueError:
            raise bad(path, line, name, value, "an integer") from None
        if not f.is_integer():
            raise bad(path, line, name, value, "an integer") from None
        x = int(f)
    if x < minimum:
        raise bad(path, line, name, value, f"an integer >= {minimum}")
    return x


def to_seconds(path: str, line: int, name: str, value: str) -> float:
    """Seconds: a plain number, or an ISO-8601 date-time (UTC if it has no zone)."""
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise bad(path, line, name, value, "seconds or an ISO date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def rebase(jobs: list[Job]) -> list[Job]:
    """Shift submit times so that the first job arrives at t = 0, and number jobs 0..n-1
    in submission order."""
    from dataclasses import replace

    jobs = sorted(jobs, key=lambda j: (j.submit_s, j.id))
    t0 = jobs[0].submit_s if jobs else 0.0
    return [replace(j, id=i, submit_s=j.submit_s - t0) for i, j in enumerate(jobs)]


def read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        raise GpuwiseError(f"{path}: no such trace file") from None
    except UnicodeDecodeError as exc:
        raise GpuwiseError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except IsADirectoryError:
        raise GpuwiseError(f"{path}: is a folder; expected a trace file") from None
