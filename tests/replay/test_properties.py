"""Properties of every policy on random small workloads: no GPU is ever double-booked,
every job finishes exactly once, and a job's productive time covers its work."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuwise.replay.engine import ReplayConfig, replay
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.placement import NodeSpec
from gpuwise.replay.policies import REGISTRY, make_policy

TYPES = ("V100-16GB", "K80")
NODES = [
    NodeSpec("a", "V100-16GB", 4),
    NodeSpec("b", "V100-16GB", 2),
    NodeSpec("c", "K80", 4),
]


@st.composite
def workloads(draw: st.DrawFn) -> list[Job]:
    n = draw(st.integers(1, 14))
    jobs = []
    for i in range(n):
        fast = draw(st.floats(1.0, 4.0))
        jobs.append(
            Job(
                id=i,
                submit_s=draw(st.floats(0, 2000)),
                num_gpus=draw(st.sampled_from([1, 1, 2, 4, 6])),
                work=draw(st.floats(10, 3000)),
                rates={"V100-16GB": fast, "K80": 1.0},
                tenant=draw(st.sampled_from(["x", "y"])),
                priority=draw(st.integers(0, 2)),
                topology=draw(st.sampled_from([Topology.PACK, Topology.SPREAD])),
            )
        )
    return jobs


def check(jobs: list[Job], policy: str, cfg: ReplayConfig) -> None:
    res = replay(NODES, jobs, make_policy(policy), cfg)
    assert not res.unfinished, [r.reason for r in res.unfinished]
    done = [r.id for r in res.runs]
    rejected = [j.id for j, _ in res.rejected]
    assert len(done) == len(set(done))
    assert sorted(done + rejected) == sorted(j.id for j in jobs)
    # Sweep every segment boundary: GPUs in use per node never exceed the node's GPUs.
    deltas: dict[float, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in res.runs:
        assert r.finish is not None and r.finish >= r.job.submit_s
        assert r.segments and r.segments[-1][1] == r.finish
        for start, end, gpu_type, placement in r.segments:
            assert start >= r.job.submit_s and end >= start
            assert sum(k for _, k in placement) == r.job.num_gpus
            for node, k in placement:
                assert NODES[node].gpu_type == gpu_type
                deltas[start][node] += k
                deltas[end][node] -= k
        productive = sum(
            (end - start) * r.job.rate(t, spread=len(p) > 1) for start, end, t, p in r.segments
        )
        assert productive >= r.job.work * (1 - 1e-9)
    used = [0] * len(NODES)
    for t in sorted(deltas):
        for node, k in deltas[t].items():
            used[node] += k
        assert all(0 <= u <= NODES[i].gpus for i, u in enumerate(used)), (t, used)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=workloads(), policy=st.sampled_from(sorted(REGISTRY)))
def test_no_double_booking_and_each_job_finishes_once(jobs: list[Job], policy: str) -> None:
    check(jobs, policy, ReplayConfig(record_segments=True))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=workloads(), policy=st.sampled_from(["las", "srtf", "priority", "fair-share"]))
def test_invariants_hold_with_checkpoints_and_restarts(jobs: list[Job], policy: str) -> None:
    check(jobs, policy, ReplayConfig(record_segments=True, checkpoint_s=120.0, restart_s=15.0))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=workloads(), policy=st.sampled_from(["fifo", "easy-backfill", "las", "fair-share"]),
       placement=st.sampled_from(["gpu-packing", "random", "fgd", "gpu-clustering"]))
def test_invariants_hold_under_every_placement_policy(jobs: list[Job], policy: str,
                                                      placement: str) -> None:
    # Policies that score the core's snapshot (not the best-fit shortcut) keep the index
    # and its snapshot in step through starts, preemptions, backfill look-ahead and ends.
    check(jobs, policy, ReplayConfig(record_segments=True, placement=placement))
