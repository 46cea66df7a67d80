"""Event-driven replay of GPU job traces on a heterogeneous fleet (``gpuwise sim replay``).

Quick start::

    from gpuwise.fleet import load_fleet
    from gpuwise.replay import (ReplayConfig, load_throughputs, load_trace, make_policy,
                                nodes_from_fleet, replay, summary)

    nodes = nodes_from_fleet(load_fleet("36xV100,36xP100,36xK80"))
    trace = load_trace("x.trace", "gavel", load_throughputs("simulation_throughputs.json"))
    result = replay(nodes, trace.jobs, make_policy("max-min-fairness"),
                    ReplayConfig(checkpoint_s=600, restart_s=30))
    print(summary(result)["avg_jct_h"])

Modules: ``jobs`` (Job, JobRun, the preemption/checkpoint formula), ``events`` (the heap),
``placement`` (the replay's adapter to the scheduling core: ``sched.gang`` on a
``sched.index.WholeGpuIndex``; the placement policy is ``ReplayConfig.placement``),
``engine`` (time, events, applying decisions), ``policies`` (registry; one file per policy; Gavel's
LPs in ``policies.gavel_lp``), ``traces`` (loaders), ``metrics`` (JCT, utilisation,
Themis' rho, per-job records), ``failures`` (random node failures).
"""

from __future__ import annotations

from gpuwise.replay.engine import ReplayConfig, ReplayResult, replay
from gpuwise.replay.jobs import Job, JobRun, Topology
from gpuwise.replay.metrics import job_records, summary
from gpuwise.replay.placement import NodeSpec, nodes_from_fleet
from gpuwise.replay.policies import REGISTRY, make_policy
from gpuwise.replay.traces import load_throughputs, load_trace

__all__ = [
    "REGISTRY",
    "Job",
    "JobRun",
    "NodeSpec",
    "ReplayConfig",
    "ReplayResult",
    "Topology",
    "job_records",
    "load_throughputs",
    "load_trace",
    "make_policy",
    "nodes_from_fleet",
    "replay",
    "summary",
]
