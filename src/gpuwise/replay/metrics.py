"""Replay metrics: JCT and queueing statistics, makespan, utilisation, Themis fairness.

Definitions:

* JCT = finish - submit; queueing delay = first start - submit.
* makespan = last finish - first submit.
* GPU utilisation = allocated GPU-seconds / available GPU-seconds over the makespan, per
  GPU type and overall (from the engine's step series of busy and up GPUs).
* Finish-time fairness rho (Themis, Mahajan et al., NSDI'20): ``rho = T_shared / T_id``,
  where ``T_id`` is the job's completion time running alone in a cluster ``1/N`` the size,
  ``N`` being the average number of jobs contending during the job's life.  A ``1/N``
  slice holds ``G/N`` GPUs drawn proportionally from every type, so the job runs at
  ``sum_t (C_t/G) r_t`` (:func:`slice_rate`), slowed further by ``N g / G`` when its gang
  of ``g`` GPUs is larger than the slice.  rho <= 1 means the job did at least as well as
  in its fair slice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gpuwise.errors import GpuwiseError
from gpuwise.replay.engine import ReplayResult
from gpuwise.replay.jobs import Job, JobRun

HOUR = 3600.0


def slice_rate(job: Job, capacity: Mapping[str, int]) -> float:
    """Work/s of ``job`` on a proportional slice of every GPU type."""
    total = sum(capacity.values())
    return sum(c / total * job.rate(t) for t, c in capacity.items()) if total else 0.0


def isolated_time(job: Job, capacity: Mapping[str, int], n_avg: float) -> float:
    """Themis' ``T_id``: the run time on a ``1/n_avg`` slice of the fleet."""
    rate = slice_rate(job, capacity)
    if rate <= 0:
        return math.inf
    total = sum(capacity.values())
    return job.work / rate * max(1.0, n_avg * job.num_gpus / total)


def finish_time_fairness(run: JobRun, capacity: Mapping[str, int]) -> float:
    """Themis' rho of a finished job."""
    assert run.finish is not None
    t_id = isolated_time(run.job, capacity, max(1.0, run.mean_active))
    return (run.finish - run.job.submit_s) / t_id if t_id > 0 else math.inf


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


def utilisation(result: ReplayResult, start: float, end: float) -> dict[str, float]:
    """Busy / up GPU-seconds per type (and ``"all"``) between ``start`` and ``end``."""
    busy: dict[str, float] = defaultdict(float)
    up: dict[str, float] = defaultdict(float)
    series = result.alloc
    for k, (t0, b, u) in enumerate(series):
        t1 = series[k + 1][0] if k + 1 < len(series) else end
        lo, hi = max(t0, start), min(t1, end)
        if hi <= lo:
            continue
        for i, name in enumerate(result.types):
            busy[name] += b[i] * (hi - lo)
            up[name] += u[i] * (hi - lo)
    out = {t: busy[t] / up[t] if up[t] > 0 else 0.0 for t in result.types}
    total_up = sum(up.values())
    out["all"] = sum(busy.values()) / total_up if total_up > 0 else 0.0
    return out


def job_records(result: ReplayResult) -> list[dict[str, Any]]:
    """One row per finished job (the per-job CSV/Parquet)."""
    rows = []
    for r in sorted(result.runs, key=lambda r: r.id):
        assert r.finish is not None and r.first_start is not None
        rows.append(
            {
                "job_id": r.id,
                "name": r.job.name,
                "tenant": r.job.tenant,
                "priority": r.job.priority,
                "num_gpus": r.job.num_gpus,
                "job_type": r.job.job_type,
                "submit_s": r.job.submit_s,
                "start_s": r.first_start,
                "finish_s": r.finish,
                "jct_s": r.finish - r.job.submit_s,
                "queue_s": r.first_start - r.job.submit_s,
                "run_s": r.run_s,
                "gpu_types": "|".join(sorted(t for t, s in r.type_s.items() if s > 0)),
                "preemptions": r.preemptions,
                "lost_gpu_h": r.lost_gpu_s / HOUR,
                "rho": finish_time_fairness(r, result.capacity),
            }
        )
    return rows


def summary(result: ReplayResult) -> dict[str, Any]:
    """The JSON summary of one replay (the CLI contract's keys plus details)."""
    runs = result.runs
    jct = [r.finish - r.job.submit_s for r in runs if r.finish is not None]
    queue = [r.first_start - r.job.submit_s for r in runs if r.first_start is not None]
    start = min((r.job.submit_s for r in runs), default=0.0)
    end = max((r.finish for r in runs if r.finish is not None), default=start)
    util = utilisation(result, start, end) if end > start else {"all": 0.0}
    rho = [finish_time_fairness(r, result.capacity) for r in runs]
    tenants: dict[str, list[float]] = defaultdict(list)
    for r, v in zip(runs, rho, strict=True):
        tenants[r.job.tenant].append(v)
    return {
        "policy": result.policy,
        "jobs": len(runs),
        "avg_jct_h": float(np.mean(jct)) / HOUR if jct else 0.0,
        "p50_jct_h": percentile(jct, 50) / HOUR,
        "p99_jct_h": percentile(jct, 99) / HOUR,
        "avg_queue_h": float(np.mean(queue)) / HOUR if queue else 0.0,
        "p50_queue_h": percentile(queue, 50) / HOUR,
        "p99_queue_h": percentile(queue, 99) / HOUR,
        "makespan_h": (end - start) / HOUR,
        "gpu_util_pct": 100.0 * util["all"],
        "gpu_util_pct_by_type": {t: 100.0 * v for t, v in util.items() if t != "all"},
        "preemptions": sum(r.preemptions for r in runs),
        "gpu_hours_lost": sum(r.lost_gpu_s for r in runs) / HOUR,
        "rho_avg": float(np.mean(rho)) if rho else 0.0,
        "rho_max": float(np.max(rho)) if rho else 0.0,
        "rho_by_tenant": {
            t: {"avg": float(np.mean(v)), "max": float(np.max(v))} for t, v in tenants.items()
        },
        "rejected": len(result.rejected),
        "unfinished": len(result.unfinished),
        "events": result.events,
        "seconds": result.seconds,
    }


def write_jobs(rows: list[dict[str, Any]], path: str) -> None:
    """Write per-job records as CSV, or as Parquet when ``path`` ends in ``.parquet``."""
    if path.endswith(".parquet"):
        try:
            import pyarrow as pa  # optional dependency (gpuwise[parquet])
            import pyarrow.parquet as pq
        except ImportError as exc:
            msg = "--out *.parquet needs pyarrow: pip install gpuwise[parquet]"
            raise GpuwiseError(msg) from exc

        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    import csv

    with open(path, "w", newline="") as fh:
        fields = list(rows[0]) if rows else ["job_id"]
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def write_alloc(result: ReplayResult, path: str) -> None:
    """Write GPU allocation over time: one row per change, busy and up GPUs per type."""
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["time_s", *(f"busy:{t}" for t in result.types), *(f"up:{t}" for t in result.types)]
        )
        for t, busy, up in result.alloc:
            w.writerow([t, *busy, *up])
