"""Hand-worked scenarios: every expected number below is derived in the comments."""

from __future__ import annotations

import pytest

from gpuwise.replay.engine import ReplayConfig, ReplayResult, replay
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.placement import NodeSpec
from gpuwise.replay.policies import make_policy
from gpuwise.replay.policies.easy_backfill import EasyBackfill
from gpuwise.replay.policies.fair_share import FairShare
from gpuwise.replay.policies.las import Las


def job(i: int, submit: float, dur: float, g: int = 1, **kw: object) -> Job:
    return Job(id=i, submit_s=submit, num_gpus=g, work=dur, **kw)  # type: ignore[arg-type]


def by_id(res: ReplayResult) -> dict[int, tuple[float, float]]:
    """job id -> (first start, finish)."""
    out = {}
    for r in res.runs:
        assert r.first_start is not None and r.finish is not None
        out[r.id] = (r.first_start, r.finish)
    return out


ONE_GPU = [NodeSpec("n0", "V100-16GB", 1)]
THREE = [job(0, 0, 10), job(1, 1, 2), job(2, 2, 4)]


def test_fifo_three_jobs_one_gpu() -> None:
    # A 0-10, B 10-12, C 12-16: JCTs 10, 11, 14.
    res = replay(ONE_GPU, THREE, make_policy("fifo"))
    assert by_id(res) == {0: (0, 10), 1: (10, 12), 2: (12, 16)}
    assert sum(r.preemptions for r in res.runs) == 0


def test_srtf_three_jobs_one_gpu() -> None:
    # t=1: B (2 s) preempts A (9 s left); t=2: C (4 s) waits behind B (1 s left);
    # t=3: C runs to 7; A resumes 7-16.  JCTs 16, 2, 5.
    res = replay(ONE_GPU, THREE, make_policy("srtf"))
    assert by_id(res) == {0: (0, 16), 1: (1, 3), 2: (3, 7)}
    assert [r.preemptions for r in sorted(res.runs, key=lambda r: r.id)] == [1, 0, 0]


TWO_NODES = [NodeSpec("n0", "V100-16GB", 4), NodeSpec("n1", "V100-16GB", 4)]


@pytest.mark.parametrize(("topology", "start"), [(Topology.PACK, 50.0), (Topology.SPREAD, 1.0)])
def test_gang_waits_for_a_whole_node(topology: Topology, start: float) -> None:
    # A (3 GPUs) fills n0 to 1 free; B (3 GPUs) takes n1 leaving 1 free.  C needs 2 GPUs:
    # 2 are free but on two nodes, so a packed gang waits for B to end at 50; a spread
    # gang starts at once.
    jobs = [job(0, 0, 100, 3), job(1, 0, 50, 3), job(2, 1, 10, 2, topology=topology)]
    res = replay(TWO_NODES, jobs, make_policy("fifo"))
    assert by_id(res)[2] == (start, start + 10)


def test_backfill_does_not_delay_head() -> None:
    # One 4-GPU node.  A (2 GPUs, 0-100).  Head H (4 GPUs) arrives at 1: shadow time 100.
    # S1 (1 GPU, 50 s) ends at 52 <= 100: backfilled at 2.  S2 (1 GPU, 200 s) fits now but
    # would hold a GPU the head needs at 100: it waits, and starts when H ends at 110.
    node = [NodeSpec("n0", "V100-16GB", 4)]
    jobs = [job(0, 0, 100, 2), job(1, 1, 10, 4), job(2, 2, 50, 1), job(3, 3, 200, 1)]
    easy = by_id(replay(node, jobs, make_policy("easy-backfill")))
    assert easy[1] == (100, 110)
    assert easy[2] == (2, 52)
    assert easy[3] == (110, 310)
    fifo = by_id(replay(node, jobs, make_policy("fifo")))
    assert fifo[1] == (100, 110) and fifo[2][0] == 110  # FIFO: S1 waits behind the head


def test_preemption_loses_work_since_last_checkpoint() -> None:
    # L (priority 0, 100 s) runs from 0; H (priority 1, 10 s) arrives at 25 and preempts it.
    # Checkpoints every 10 s: L saved 20 s of work and loses 5 s.  H runs 25-35; L resumes
    # at 35, pays 3 s restart, runs the remaining 80 s: finishes at 118.  Lost: 1 GPU x
    # (5 s + 3 s).
    jobs = [job(0, 0, 100, priority=0), job(1, 25, 10, priority=1)]
    cfg = ReplayConfig(checkpoint_s=10.0, restart_s=3.0)
    res = replay(ONE_GPU, jobs, make_policy("priority"), cfg)
    runs = {r.id: r for r in res.runs}
    assert by_id(res) == {0: (0, 118), 1: (25, 35)}
    assert runs[0].preemptions == 1
    assert runs[0].lost_gpu_s == pytest.approx(8.0)
    # Without periodic checkpoints the job checkpoints as it is preempted: nothing lost.
    res = replay(ONE_GPU, jobs, make_policy("priority"), ReplayConfig())
    assert by_id(res)[0] == (0, 110)
    assert {r.id: r.lost_gpu_s for r in res.runs}[0] == 0.0


def test_las_demotes_and_preempts() -> None:
    # Threshold 10 GPU-s.  A (30 s) runs from 0; B (10 s) arrives at 5 in queue 0 but A
    # (5 GPU-s, queue 0, earlier) keeps the GPU.  At 10 A reaches 10 GPU-s, drops to queue 1
    # and B preempts it: B 10-20.  A resumes 20-40.
    jobs = [job(0, 0, 30), job(1, 5, 10)]
    res = replay(ONE_GPU, jobs, Las(thresholds=(10.0,)))
    assert by_id(res) == {0: (0, 40), 1: (10, 20)}


def test_fair_share_reclaims_borrowed_gpus() -> None:
    # Quotas 2 + 2 on one 4-GPU node.  Tenant a starts 4 jobs at 0 (2 of them borrowed).
    # Tenant b's job at 10 is within quota: it reclaims the newest borrowed job of a.
    node = [NodeSpec("n0", "V100-16GB", 4)]
    jobs = [job(i, 0, 100, tenant="a") for i in range(4)] + [job(4, 10, 10, tenant="b")]
    res = replay(node, jobs, FairShare(quotas={"a": 2, "b": 2}))
    runs = {r.id: r for r in res.runs}
    assert by_id(res)[4] == (10, 20)
    assert sum(r.preemptions for r in res.runs) == 1
    assert runs[3].preemptions == 1  # the last-started of a's jobs
    # A tenant over its quota only borrows idle GPUs, it never reclaims.
    jobs = [job(i, 0, 100, tenant="a") for i in range(4)] + [job(4, 10, 10, tenant="a")]
    res = replay(node, jobs, FairShare(quotas={"a": 2, "b": 2}))
    assert by_id(res)[4] == (100, 110)


def test_heterogeneous_rates_and_type_choice() -> None:
    # A job of 100 work units at 4/s on V100 and 1/s on K80 takes 25 s on the V100.
    nodes = [NodeSpec("k", "K80", 1), NodeSpec("v", "V100-16GB", 1)]
    j = job(0, 0, 100, rates={"V100-16GB": 4.0, "K80": 1.0})
    res = replay(nodes, [j, job(1, 0, 100, rates={"V100-16GB": 4.0, "K80": 1.0})],
                 make_policy("fifo"))
    assert by_id(res) == {0: (0, 25), 1: (0, 100)}  # the second gets the K80


def test_rejects_jobs_the_fleet_cannot_run() -> None:
    res = replay(ONE_GPU, [job(0, 0, 10, 2), job(1, 0, 5, rates={"K80": 1.0})],
                 make_policy("fifo"))
    assert not res.runs and len(res.rejected) == 2


@pytest.mark.parametrize("placement", ["best-fit", "gpu-packing"])
def test_node_failure_kills_and_requeues(placement: str) -> None:
    # A (100 s) runs on n0; n0 fails at 30 for 20 s; with no periodic checkpoint the
    # failure loses the whole segment; A restarts on n1 at 30 and ends at 130.  (Both
    # placement policies put A on n0 first: equal scores, lowest node index.)
    nodes = [NodeSpec("n0", "V100-16GB", 1), NodeSpec("n1", "V100-16GB", 1)]
    cfg = ReplayConfig(failures=[(30.0, 0, 20.0)], placement=placement)
    res = replay(nodes, [job(0, 0, 100)], make_policy("fifo"), cfg)
    assert by_id(res)[0] == (0, 130)
    assert res.runs[0].lost_gpu_s == pytest.approx(30.0)


def test_backfill_trusts_user_estimates() -> None:
    # As in the head test, but S1 (true run 50 s) claims 150 s.  With estimates the
    # scheduler believes S1 would end at 152 > shadow 100 and would hold a GPU the head
    # needs, so S1 waits for the head (starts at 110); with true durations it backfills.
    node = [NodeSpec("n0", "V100-16GB", 4)]
    jobs = [job(0, 0, 100, 2), job(1, 1, 10, 4), job(2, 2, 50, 1, estimate_s=150.0)]
    assert by_id(replay(node, jobs, EasyBackfill(use_estimates=True)))[2] == (110, 160)
    assert by_id(replay(node, jobs, EasyBackfill(use_estimates=False)))[2] == (2, 52)


def test_no_spreading_where_the_spread_rate_is_zero() -> None:
    # An 8-GPU gang runs 2/s packed on one node but cannot run spread (rate 0, as Gavel's
    # k80_unconsolidated entries can be): with two 4-GPU nodes only it is rejected on
    # arrival; on an 8-GPU node it runs 100 units in 50 s.
    j = job(0, 0, 100, 8, rates={"K80": 2.0}, spread_rates={"K80": 0.0},
            topology=Topology.SPREAD)
    halves = [NodeSpec("a", "K80", 4), NodeSpec("b", "K80", 4)]
    res = replay(halves, [j], make_policy("fifo"))
    assert not res.runs and len(res.rejected) == 1  # it could never be placed
    res = replay([NodeSpec("c", "K80", 8)], [j], make_policy("fifo"))
    assert by_id(res) == {0: (0, 50)}
