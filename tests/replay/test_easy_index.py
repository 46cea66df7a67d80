"""EASY backfill's resumed passes decide exactly what a fresh scan decides.

``EasyBackfill(indexed=False)`` scans the queue afresh on every call (the plain algorithm);
the default resumes the previous pass when nothing but the queue's tail changed.  On random
overloaded queues (mixed GPU types, gang sizes, pack/spread, estimates that are exact,
generous or overrun, node failures) both must start the same jobs at the same instants on
the same GPUs and leave every waiting job with the same reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from gpuwise.replay.engine import ReplayConfig, replay
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.placement import NodeSpec
from gpuwise.replay.policies import easy_window
from gpuwise.replay.policies.base import Decision, Snapshot
from gpuwise.replay.policies.easy_backfill import EasyBackfill

TYPES = ("V100", "P100", "K80")


@dataclass
class Recorder:
    """Wraps a policy and logs each decision: starts, and the reasons that change."""

    inner: EasyBackfill
    log: list[tuple[Any, ...]] = field(default_factory=list)

    name: str = ""
    round_s: float | None = None
    preemptive: bool = False

    def __post_init__(self) -> None:
        self.name, self.round_s = self.inner.name, self.inner.round_s
        self.preemptive = self.inner.preemptive

    def decide(self, snap: Snapshot) -> Decision:
        d = self.inner.decide(snap)
        pend = snap.pending_map
        started = {r.id for r, _, _ in d.starts}
        changed = sorted(
            (i, why) for i, why in d.reasons.items()
            if i in pend and i not in started and pend[i].reason != why
        )
        starts = [(r.id, t, p) for r, t, p in d.starts]
        self.log.append((snap.now, starts, changed))
        return d


def _fleet(rng: random.Random) -> list[NodeSpec]:
    nodes = []
    for i in range(rng.randint(3, 9)):
        nodes.append(NodeSpec(f"n{i}", rng.choice(TYPES), rng.choice([1, 2, 4, 8])))
    return nodes


def _jobs(rng: random.Random, n: int) -> list[Job]:
    jobs = []
    t = 0.0
    for i in range(n):
        t += rng.choice([0.0, 0.0, 1.0, 3.0, 10.0, rng.expovariate(1 / 20)])
        rates = {ty: rng.choice([0.0, 1.0, 1.0, 2.0]) for ty in TYPES}
        if not any(rates.values()):
            rates["K80"] = 1.0
        work = float(rng.choice([2, 5, 10, 20, 30, 60, 100, 400]))
        est = rng.random()
        estimate = None if est < 0.25 else work * rng.choice([0.5, 1.0, 1.0, 2.0, 3.0])
        jobs.append(Job(
            id=i, submit_s=round(t), num_gpus=rng.choice([1, 1, 1, 2, 2, 3, 4, 8]),
            work=work, rates=rates, estimate_s=estimate,
            topology=rng.choice([Topology.PACK, Topology.SPREAD]),
        ))
    return jobs


def _run(policy: EasyBackfill, nodes: list[NodeSpec], jobs: list[Job],
         cfg: ReplayConfig) -> Recorder:
    rec = Recorder(policy)
    replay(nodes, jobs, rec, cfg)
    return rec


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("use_estimates", [True, False])
@pytest.mark.parametrize(("index_from", "group_cost"), [(0, 0), (12, 0), (0, 8)])
def test_indexed_passes_decide_like_fresh_scans(
    seed: int, use_estimates: bool, index_from: int, group_cost: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(easy_window, "GROUP_COST", group_cost)  # 0: always use the groups
    rng = random.Random(seed)
    nodes = _fleet(rng)
    jobs = _jobs(rng, 150)
    fails = [(rng.uniform(0, 800), rng.randrange(len(nodes)), 60.0)] if seed % 3 == 0 else []
    cfg = ReplayConfig(failures=fails)
    max_scan = rng.choice([3, 10, 1000])
    fresh = _run(EasyBackfill(use_estimates, max_scan, indexed=False), nodes, jobs, cfg)
    fast = _run(EasyBackfill(use_estimates, max_scan, index_from=index_from), nodes, jobs, cfg)
    assert fresh.inner.resumed == 0
    assert fast.log == fresh.log


@pytest.mark.parametrize("max_scan", [2, 5, 1000])
def test_resuming_happens_on_a_long_queue(max_scan: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(easy_window, "GROUP_COST", 0)
    """The comparison is not vacuous: on an overloaded fleet many calls resume (and short
    jobs queued past the first ``max_scan`` must not be backfilled)."""
    rng = random.Random(1)
    nodes = [NodeSpec("a", "V100", 4), NodeSpec("b", "V100", 4)]
    works = [rng.choice([3.0, 500.0]) for _ in range(120)]
    jobs = [Job(id=i, submit_s=float(i), num_gpus=rng.choice([1, 1, 8]),
                work=w, estimate_s=2 * w) for i, w in enumerate(works)]
    fast = _run(EasyBackfill(max_scan=max_scan, index_from=0), nodes, jobs, ReplayConfig())
    fresh = _run(EasyBackfill(max_scan=max_scan, indexed=False), nodes, jobs, ReplayConfig())
    assert fast.log == fresh.log
    assert fast.inner.resumed > 10
