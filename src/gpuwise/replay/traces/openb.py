"""Alibaba openb pod lists (FGD, ATC'23): ``openb_pod_list_*.csv`` with timestamps.

Columns used: ``name, num_gpu, gpu_milli, gpu_spec, creation_time, deletion_time,
scheduled_time`` (seconds from the trace start).  A pod is a job submitted at
``creation_time`` that runs for ``deletion_time - scheduled_time`` (or ``- creation_time``
when it was never scheduled).  CPU-only pods (``num_gpu == 0``) are left out.  This replay
allocates whole GPUs, so a GPU-sharing pod (``gpu_milli < 1000``) takes one whole GPU.
``gpu_spec`` (``V100M16|V100M32``) restricts the GPU types, mapped to catalog names as the
fleet loader maps the openb node models.  Pods with ``qos == LS`` get priority 1, others 0.
"""

from __future__ import annotations

from gpuwise.errors import GpuwiseError, where
from gpuwise.replay.jobs import Job
from gpuwise.replay.traces.common import Trace, rebase, to_float, to_int
from gpuwise.replay.traces.csvutil import rows
from gpuwise.replay.traces.throughputs import gpu_name

COLUMNS = ("name", "num_gpu", "gpu_milli", "creation_time", "deletion_time")


def load_openb(path: str) -> Trace:
    trace = Trace(jobs=[], source=path)
    for no, row in rows(path, COLUMNS):
        g = to_int(path, no, "num_gpu", row["num_gpu"])
        if g == 0:
            trace.skipped["CPU-only pod"] += 1
            continue
        to_int(path, no, "gpu_milli", row["gpu_milli"])
        created = to_float(path, no, "creation_time", row["creation_time"])
        deleted = to_float(path, no, "deletion_time", row["deletion_time"])
        sched = row.get("scheduled_time", "")
        began = to_float(path, no, "scheduled_time", sched) if sched else created
        if deleted < began:
            raise GpuwiseError(
                f"{where(path, no)}deletion_time: {deleted:g} is before the start {began:g}"
            )
        if deleted == began:
            trace.skipped["zero run time"] += 1
            continue
        spec = row.get("gpu_spec", "")
        allowed = frozenset(gpu_name(s) for s in spec.split("|") if s) or None
        trace.jobs.append(
            Job(
                id=len(trace.jobs),
                submit_s=created,
                num_gpus=g,
                work=deleted - began,
                allowed_types=allowed,
                priority=1 if row.get("qos") == "LS" else 0,
                name=row["name"],
            )
        )
    trace.jobs = rebase(trace.jobs)
    return trace
