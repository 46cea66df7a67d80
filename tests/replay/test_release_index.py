"""The EASY release index gives exactly the stable sort of running jobs by estimated end."""

from __future__ import annotations

import random

import pytest

from gpuwise.replay.jobs import Job, JobRun, Status
from gpuwise.replay.placement import NodeSpec, Placer
from gpuwise.replay.policies.base import PendingIndex, Snapshot
from gpuwise.replay.policies.easy_backfill import ReleaseIndex, estimated_end


def _running(seq: int, rng: random.Random) -> JobRun:
    # coarse values so that ends tie often, and some estimates are overrun at ``now``
    job = Job(
        id=seq, submit_s=0.0, num_gpus=1, work=float(rng.randint(1, 6) * 10),
        estimate_s=float(rng.randint(1, 4) * 10) if rng.random() < 0.7 else None,
    )
    run = JobRun(job=job, status=Status.RUNNING, seg_start=float(rng.randint(0, 3) * 10))
    run.seg_rate, run.start_seq, run.version, run.placement = 1.0, seq, 1, ((seq, 1),)
    return run


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("use_estimates", [True, False])
def test_release_order_matches_stable_sort(seed: int, use_estimates: bool) -> None:
    rng = random.Random(seed)
    placer = Placer([NodeSpec("n", "V100", 1)])
    index = ReleaseIndex(use_estimates)
    runs: list[JobRun] = []
    now = 0.0
    for step in range(4):
        new = [_running(len(runs) + i, rng) for i in range(rng.randint(1, 8))]
        runs += new
        for r in rng.sample(runs, k=len(runs) // 4):  # some jobs finished meanwhile
            r.status, r.version = Status.DONE, r.version + 1
        now = 10.0 * step + 5.0
        live = [r for r in runs if r.status is Status.RUNNING]
        snap = Snapshot(now=now, pending=[], running=live, placer=placer, started=new)
        index.sync(snap)
        expected = sorted(
            ((estimated_end(r, now, use_estimates), r.placement) for r in live),
            key=lambda e: e[0],
        )
        assert list(index.ordered(now, live)) == expected


@pytest.mark.parametrize("seed", range(10))
def test_pending_index_follows_deltas_and_missed_calls(seed: int) -> None:
    """Fed the engine's deltas (with some calls it never saw), the index still gives
    exactly the queue sorted by its key."""
    rng = random.Random(seed)
    placer = Placer([NodeSpec("n", "V100", 1)])
    index = PendingIndex(lambda r: (r.job.num_gpus, r.job.submit_s, r.id))
    pending: dict[int, JobRun] = {}
    next_id = 0
    for call in range(30):
        arrived = []
        for _ in range(rng.randint(0, 4)):
            job = Job(id=next_id, submit_s=float(next_id), num_gpus=rng.randint(1, 3), work=1.0)
            pending[next_id] = run = JobRun(job=job)
            arrived.append(run)
            next_id += 1
        started = [pending.pop(i) for i in rng.sample(sorted(pending), k=len(pending) // 3)]
        snap = Snapshot(
            now=float(call), pending=list(pending.values()), running=[], placer=placer,
            pending_map=dict(pending), started=started, arrived=arrived, call=call,
        )
        if rng.random() < 0.3:
            continue  # the policy was not asked this time: the next call must resync
        got = [r.id for r in index.ordered(snap)]
        assert got == [r.id for r in sorted(pending.values(), key=index.key)]
