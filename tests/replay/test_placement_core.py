"""The replay places through the scheduling core: the placement policy changes node
choices, spread gangs use the fewest nodes, and waiting reasons are the core's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuwise.cli.main import main
from gpuwise.replay.engine import ReplayConfig, ReplayResult, replay
from gpuwise.replay.jobs import Job, Topology
from gpuwise.replay.placement import NodeSpec, Placer
from gpuwise.replay.policies import make_policy
from gpuwise.replay.policies.base import wait_reason

DATA = Path(__file__).parent.parent / "data" / "replay"
T = "V100-16GB"


def job(i: int, submit: float, dur: float, g: int, **kw: object) -> Job:
    return Job(id=i, submit_s=submit, num_gpus=g, work=dur, **kw)  # type: ignore[arg-type]


def segments(res: ReplayResult) -> dict[int, tuple[float, tuple[tuple[int, int], ...]]]:
    """job id -> (first start, placement of the first segment)."""
    return {r.id: (r.segments[0][0], r.segments[0][3]) for r in res.runs}


def test_placement_policy_changes_node_choice_and_what_follows() -> None:
    # "big" (8 GPUs) and "small" (2).  A (3 GPUs) fits only on big: 5 left there.  B (2)
    # at t=1: best-fit takes the tightest node, small (2 free); gpu-packing prefers a used
    # node over an idle one, big.  C (5 GPUs, packed) at t=2 then starts at once under
    # best-fit (big still has 5), but under gpu-packing big has 3 and small 2, so C waits
    # until B ends at 1 + 50 = 51.
    nodes = [NodeSpec("big", T, 8), NodeSpec("small", T, 2)]
    jobs = [job(0, 0, 100, 3), job(1, 1, 50, 2), job(2, 2, 10, 5)]
    runs = {}
    for placement in ("best-fit", "gpu-packing"):
        cfg = ReplayConfig(record_segments=True, placement=placement)
        res = replay(nodes, jobs, make_policy("fifo"), cfg)
        assert res.placement == placement
        runs[placement] = segments(res)
    assert runs["best-fit"][1] == (1, ((1, 2),))
    assert runs["gpu-packing"][1] == (1, ((0, 2),))
    assert runs["best-fit"][2] == (2, ((0, 5),))
    assert runs["gpu-packing"][2] == (51, ((0, 5),))


def test_spread_gang_uses_the_fewest_nodes() -> None:
    # Four nodes of 4, 4, 4 and 2 GPUs.  A (3 GPUs) goes to n0 (best fit: the 4-GPU nodes
    # are the tightest that hold 3; lowest index), leaving free 1, 4, 4, 2.  B (6 GPUs,
    # spread) needs two nodes: 4 on n1, and the other 2 where best-fit puts 2 GPUs: n3.
    nodes = [NodeSpec("n0", T, 4), NodeSpec("n1", T, 4), NodeSpec("n2", T, 4),
             NodeSpec("n3", T, 2)]
    jobs = [job(0, 0, 100, 3), job(1, 1, 10, 6, topology=Topology.SPREAD)]
    res = replay(nodes, jobs, make_policy("fifo"), ReplayConfig(record_segments=True))
    assert segments(res) == {0: (0, ((0, 3),)), 1: (1, ((1, 4), (3, 2)))}


def test_waiting_reason_is_the_cores() -> None:
    # Two 4-GPU nodes with 3 GPUs taken on each: a packed 2-GPU gang sees the core's
    # "fragmented" sentence; spread, it would fit.
    placer = Placer([NodeSpec("n0", T, 4), NodeSpec("n1", T, 4)])
    placer.reserve(((0, 3), (1, 3)))
    packed = job(0, 0, 10, 2)
    assert wait_reason(placer, packed) == (
        "waiting for free GPUs: fragmented: 2 nodes have 2 V100-16GB GPUs free in total but "
        "none has 2 on one node")
    assert placer.find(packed, T) is None
    assert placer.why(packed, T).code == "fragmented"
    assert placer.find(job(1, 0, 10, 2, topology=Topology.SPREAD), T) == ((0, 1), (1, 1))


def test_cli_placement_flag(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sim", "replay", "--fleet", "16xV100", "--trace", str(DATA / "philly_head400.csv"),
            "--policy", "fifo", "--json"]
    assert main([*args, "--placement", "gpu-packing"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["placement"] == "gpu-packing" and out["jobs"] == 400
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["placement"] == "best-fit"
    assert main([*args, "--placement", "bestfit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --placement: unknown policy 'bestfit' (did you mean best-fit")
    assert err.count("\n") == 1
