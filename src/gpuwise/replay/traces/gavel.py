"""Gavel job traces (Narayanan et al., OSDI'20), in both layouts, tab-separated, no header.

* 7 fields, the Philly-derived per-VC traces (``traces/msr/seed=N/<vc>.trace``)::

    job_type, command, num_steps_arg, needs_data_dir, total_steps, arrival_time, scale_factor

* 10 fields, the current layout (``Job.__str__`` plus the arrival time)::

    job_type, command, working_directory, num_steps_arg, needs_data_dir, total_steps,
    scale_factor, priority_weight, SLO, arrival_time

A job's work is ``total_steps`` and its rate on a GPU type is the throughput of
``(job_type, scale_factor)`` in the throughputs file; jobs whose pair has no entry are left
out and counted (Gavel's own converted traces drop them too), as are ``scale_factor == 0``
rows (Gavel's parser skips them).  Multi-GPU jobs may spread over servers, at Gavel's
``_unconsolidated`` throughput.  The tenant of a 7-field trace is the VC (the file name).
"""

from __future__ import annotations

import os

from gpuwise.errors import GpuwiseError, where
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.traces.common import Trace, read_lines, rebase, to_float, to_int
from gpuwise.replay.traces.throughputs import Throughputs

MSR_FIELDS = 7
CURRENT_FIELDS = 10


def _fields(parts: list[str], n: int) -> tuple[str, str, str, str, str]:
    """(job_type, total_steps, scale_factor, arrival_time, priority_weight) of a row."""
    if n == MSR_FIELDS:
        return parts[0], parts[4], parts[6], parts[5], "1"
    return parts[0], parts[5], parts[6], parts[9], parts[7]


def load_gavel(path: str, throughputs: Throughputs) -> Trace:
    """Read a Gavel trace (either layout); see the module docstring."""
    lines = read_lines(path)
    tenant = os.path.splitext(os.path.basename(path))[0]
    trace = Trace(jobs=[], source=path)
    layout: int | None = None
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) not in (MSR_FIELDS, CURRENT_FIELDS):
            raise GpuwiseError(
                f"{where(path, no)}expected 7 (Philly-derived) or 10 (current Gavel) "
                f"tab-separated fields, got {len(parts)}"
            )
        if layout is None:
            layout = len(parts)
        elif len(parts) != layout:
            raise GpuwiseError(
                f"{where(path, no)}this row has {len(parts)} fields but the first row has "
                f"{layout}; a trace must use one layout"
            )
        model, steps, scale, arrival, weight = _fields(parts, layout)
        total_steps = to_float(path, no, "total_steps", steps)
        sf = to_int(path, no, "scale_factor", scale)
        submit = to_float(path, no, "arrival_time", arrival)
        pw = to_float(path, no, "priority_weight", weight) if layout == CURRENT_FIELDS else 1.0
        if sf == 0:
            trace.skipped["scale_factor 0"] += 1
            continue
        if pw <= 0:
            raise GpuwiseError(f"{where(path, no)}priority_weight: expected > 0, got {weight!r}")
        rates = throughputs.packed.get((model, sf))
        if rates is None or not any(v > 0 for v in rates.values()):
            trace.skipped[f"no throughput for ({model}, {sf})"] += 1
            continue
        spread = throughputs.spread.get((model, sf)) if sf > 1 else None
        trace.jobs.append(
            Job(
                id=len(trace.jobs),
                submit_s=submit,
                num_gpus=sf,
                work=total_steps,
                rates=dict(rates),
                spread_rates=dict(spread) if spread else None,
                tenant=tenant if layout == MSR_FIELDS else "default",
                weight=pw,
                topology=Topology.SPREAD if spread else Topology.PACK,
                name=f"{tenant}-{no}",
                job_type=model,
            )
        )
    if not trace.jobs:
        raise GpuwiseError(f"{path}: no runnable jobs (skipped: {dict(trace.skipped)})")
    trace.jobs = rebase(trace.jobs)
    return trace
