"""The policy registry: ``make_policy("las")`` builds a fresh policy by name.

Each heterogeneity-aware policy ``X`` also has ``X-agnostic``: the same policy fed one
throughput for every GPU type, so the gain from heterogeneity awareness can be measured
by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.replay.policies.base import Decision, Policy, Snapshot
from gpuwise.replay.policies.easy_backfill import EasyBackfill
from gpuwise.replay.policies.fair_share import FairShare
from gpuwise.replay.policies.fifo import Fifo
from gpuwise.replay.policies.gavel_policies import (
    FinishTimeFairness,
    MaxMinFairness,
    MaxSumThroughput,
    MinAvgJct,
    MinMakespan,
)
from gpuwise.replay.policies.las import Las
from gpuwise.replay.policies.priority import PriorityPreemptive
from gpuwise.replay.policies.srtf import Srtf

REGISTRY: dict[str, Callable[[], Policy]] = {
    "fifo": Fifo,
    "easy-backfill": EasyBackfill,
    "srtf": Srtf,
    "las": Las,
    "max-min-fairness": lambda: MaxMinFairness(agnostic=False),
    "max-min-fairness-agnostic": lambda: MaxMinFairness(agnostic=True),
    "min-avg-jct": lambda: MinAvgJct(agnostic=False),
    "min-avg-jct-agnostic": lambda: MinAvgJct(agnostic=True),
    "min-makespan": lambda: MinMakespan(agnostic=False),
    "min-makespan-agnostic": lambda: MinMakespan(agnostic=True),
    "max-sum-throughput": lambda: MaxSumThroughput(agnostic=False),
    "max-sum-throughput-agnostic": lambda: MaxSumThroughput(agnostic=True),
    "finish-time-fairness": lambda: FinishTimeFairness(agnostic=False),
    "finish-time-fairness-agnostic": lambda: FinishTimeFairness(agnostic=True),
    "fair-share": FairShare,
    "priority": PriorityPreemptive,
}


def make_policy(name: str) -> Policy:
    """A new policy instance for the registry name ``name``."""
    factory = REGISTRY.get(name.strip())
    if factory is None:
        raise GpuwiseError(
            f"--policy: unknown policy {name!r}{did_you_mean(name, REGISTRY)}; "
            f"known: {', '.join(REGISTRY)}"
        )
    return factory()


__all__ = ["REGISTRY", "Decision", "Policy", "Snapshot", "make_policy"]
