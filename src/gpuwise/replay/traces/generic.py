"""A generic job CSV, for replaying one's own cluster history.

Required columns: ``submit_time`` (seconds, or an ISO date-time), ``duration_s``,
``num_gpus``.  Optional: ``gpu_type`` (allowed types, ``|``-separated, catalog names or
aliases; empty = any), ``tenant``, ``priority`` (integer class, higher first),
``estimate_s`` (the user's run-time estimate, for backfill), ``weight``, ``topology``
(``pack`` or ``spread``), ``name``.
"""

from __future__ import annotations

from gpuwise.errors import GpuwiseError, where
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.traces.common import Trace, rebase, to_float, to_int, to_seconds
from gpuwise.replay.traces.csvutil import rows
from gpuwise.replay.traces.throughputs import gpu_name

COLUMNS = ("submit_time", "duration_s", "num_gpus")


def load_generic(path: str) -> Trace:
    trace = Trace(jobs=[], source=path)
    for no, row in rows(path, COLUMNS):
        g = to_int(path, no, "num_gpus", row["num_gpus"])
        duration = to_float(path, no, "duration_s", row["duration_s"])
        if g == 0 or duration == 0:
            trace.skipped["no GPUs or zero duration"] += 1
            continue
        types = row.get("gpu_type", "")
        allowed = frozenset(gpu_name(t.strip()) for t in types.split("|") if t.strip()) or None
        topo = row.get("topology", "") or "pack"
        if topo not in ("pack", "spread"):
            raise GpuwiseError(f"{where(path, no)}topology: expected pack or spread, got {topo!r}")
        est = row.get("estimate_s", "")
        trace.jobs.append(
            Job(
                id=len(trace.jobs),
                submit_s=to_seconds(path, no, "submit_time", row["submit_time"]),
                num_gpus=g,
                work=duration,
                tenant=row.get("tenant", "") or "default",
                priority=to_int(path, no, "priority", row.get("priority") or "0", minimum=-10**9),
                weight=to_float(path, no, "weight", row.get("weight") or "1", minimum=1e-9),
                allowed_types=allowed,
                topology=Topology(topo),
                estimate_s=to_float(path, no, "estimate_s", est) if est else None,
                name=row.get("name", "") or f"job-{no}",
            )
        )
    trace.jobs = rebase(trace.jobs)
    return trace
