"""The Philly job log as condensed by the Pollux OSDI'21 artifact (``philly.csv``).

Columns: ``timestamp`` (submission, ``YYYY-MM-DD HH:MM:SS``), ``duration`` (seconds it ran
on Philly), ``num_gpus``, ``gpu_time``, ``cluster`` (the virtual cluster, used as tenant).
Rows are not sorted; the loader sorts them.  A job runs for its logged duration on any GPU
type (Philly's durations are not device-independent work).  Gangs may spread over nodes,
as on Philly.
"""

from __future__ import annotations

from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.traces.common import Trace, rebase, to_float, to_int, to_seconds
from gpuwise.replay.traces.csvutil import rows

COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")


def load_pollux(path: str) -> Trace:
    trace = Trace(jobs=[], source=path)
    for no, row in rows(path, COLUMNS):
        g = to_int(path, no, "num_gpus", row["num_gpus"])
        duration = to_float(path, no, "duration", row["duration"])
        if g == 0:
            trace.skipped["num_gpus 0"] += 1
            continue
        if duration <= 0:
            trace.skipped["duration 0"] += 1
            continue
        trace.jobs.append(
            Job(
                id=len(trace.jobs),
                submit_s=to_seconds(path, no, "timestamp", row["timestamp"]),
                num_gpus=g,
                work=duration,
                tenant=row["cluster"] or "default",
                topology=Topology.SPREAD,
                name=f"philly-{no}",
            )
        )
    trace.jobs = rebase(trace.jobs)
    return trace
