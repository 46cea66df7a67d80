"""Slurm accounting: ``sacct --parsable2 --allocations --format=JobID,Submit,Start,End,
AllocTRES,Partition,Account,State[,Timelimit]`` (``|``-separated, with a header).

A job is submitted at ``Submit`` and runs ``End - Start`` seconds.  Its GPUs come from
``AllocTRES`` (``gres/gpu=4`` or ``gres/gpu:a100=4``; a typed entry restricts the job to
that type).  Jobs that never ran (``Start``/``End`` ``Unknown`` or ``None``) and jobs
without GPUs are left out and counted.  ``Account`` is the tenant; ``Timelimit``
(``[D-]HH:MM:SS``) becomes the user estimate for backfill.
"""

from __future__ import annotations

import re

from gpuwise.errors import GpuwiseError, where
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.traces.common import Trace, rebase, to_seconds
from gpuwise.replay.traces.csvutil import rows
from gpuwise.replay.traces.throughputs import gpu_name

COLUMNS = ("Submit", "Start", "End", "AllocTRES")
_GRES = re.compile(r"gres/gpu(?::([^=,]+))?=(\d+)")
_NEVER = {"", "unknown", "none", "n/a"}


def parse_tres(path: str, line: int, tres: str) -> tuple[int, str | None]:
    """``(GPUs, type or None)`` from an AllocTRES string."""
    total, typed = 0, {}
    for m in _GRES.finditer(tres):
        if m.group(1):
            typed[m.group(1)] = int(m.group(2))
        else:
            total = int(m.group(2))
    if len(typed) > 1:
        raise GpuwiseError(
            f"{where(path, line)}AllocTRES: a job with several GPU types is not supported, "
            f"got {tres!r}"
        )
    if typed:
        (name, count), = typed.items()
        return max(total, count), name
    return total, None


def parse_timelimit(value: str) -> float | None:
    """Seconds of a Slurm time limit ``[D-]HH:MM:SS`` / ``MM:SS`` (None if unlimited)."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", value.strip())
    if m is None:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


def load_sacct(path: str) -> Trace:
    trace = Trace(jobs=[], source=path)
    for no, row in rows(path, COLUMNS, delimiter="|"):
        if row["Start"].lower() in _NEVER or row["End"].lower() in _NEVER:
            trace.skipped["never ran (Start/End unknown)"] += 1
            continue
        g, gtype = parse_tres(path, no, row["AllocTRES"])
        if g == 0:
            trace.skipped["no GPUs"] += 1
            continue
        start = to_seconds(path, no, "Start", row["Start"])
        end = to_seconds(path, no, "End", row["End"])
        if end < start:
            raise GpuwiseError(f"{where(path, no)}End: {row['End']!r} is before Start")
        if end == start:
            trace.skipped["zero run time"] += 1
            continue
        trace.jobs.append(
            Job(
                id=len(trace.jobs),
                submit_s=to_seconds(path, no, "Submit", row["Submit"]),
                num_gpus=g,
                work=end - start,
                tenant=row.get("Account", "") or "default",
                allowed_types=frozenset({gpu_name(gtype)}) if gtype else None,
                topology=Topology.SPREAD,
                estimate_s=parse_timelimit(row.get("Timelimit", "")),
                name=row.get("JobID", "") or f"job-{no}",
            )
        )
    trace.jobs = rebase(trace.jobs)
    return trace
