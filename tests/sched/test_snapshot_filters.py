"""Snapshot transitions, the derived-value cache, feasibility and rejection reasons."""

from __future__ import annotations

import numpy as np
import pytest

from gpuwise.sched import ClusterSnapshot, Placement, explain, feasible
from gpuwise.sched.frag import node_frag, node_stats
from gpuwise.sched.mix import WorkloadMix
from tests.sched.helpers import node, occupy, share, whole


def test_place_returns_new_snapshot_and_release_restores() -> None:
    s0 = ClusterSnapshot.from_nodes([node("a", 4), node("b", 2, "T4")])
    p = Placement(whole(2), 0, "a", (1, 3))
    s1 = s0.place(p)
    assert s0.gpu_free.tolist() == [[1000] * 4, [1000, 1000, 0, 0]]  # old one untouched
    assert s1.gpu_free[0, :4].tolist() == [1000, 0, 1000, 0]
    assert s1.cpu_free[0] == s0.cpu_free[0] - 8_000
    assert s1.used_gpu_milli == 2000
    s2 = s1.release(p)
    assert np.array_equal(s2.gpu_free, s0.gpu_free) and np.array_equal(s2.cpu_free, s0.cpu_free)
    with pytest.raises(ValueError):
        s0.gpu_free[0, 0] = 5  # read-only


def test_place_rejects_overcommit_and_wrong_model() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 2, "T4")])
    s = occupy(s, 0, 0, 600)
    with pytest.raises(ValueError):
        s.place(Placement(share(500), 0, "a", (0,)))
    with pytest.raises(ValueError):
        s.place(Placement(share(100, models=frozenset({"A10"})), 0, "a", (1,)))
    with pytest.raises(ValueError):
        s.place(Placement(whole(1, cpu=10**9), 0, "a", (1,)))


def test_derived_recomputes_only_changed_rows_consistently() -> None:
    reqs = [share(300), share(500), whole(1), whole(2), whole(0)]
    mix = WorkloadMix.from_requests(reqs, popularity=1.0)
    s = ClusterSnapshot.from_nodes([node("a", 8), node("b", 4, "T4"), node("c", 2, "P100")])
    node_frag(s, mix)  # fill the parent's cache
    s2 = occupy(s, 1, 2, 700, cpu=1_000)
    incremental = node_frag(s2, mix)
    fresh = ClusterSnapshot.from_nodes([node("a", 8), node("b", 4, "T4"), node("c", 2, "P100")])
    fresh = occupy(fresh, 1, 2, 700, cpu=1_000)
    assert np.allclose(incremental, node_frag(fresh, mix))
    assert np.array_equal(node_stats(s2, mix), node_stats(fresh, mix))


def test_feasible_share_whole_and_model() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 2, "T4"), node("b", 2, "V100M32"), node("c", 0)])
    s = occupy(s, 0, 0, 800)  # a: [200, 1000]
    s = occupy(s, 1, 0, 1000)  # b: [0, 1000]
    assert feasible(s, share(300)).tolist() == [True, True, False]
    assert feasible(s, whole(2)).tolist() == [False, False, False]
    assert feasible(s, share(300, models=frozenset({"V100M32"}))).tolist() == [False, True, False]
    assert feasible(s, whole(0)).tolist() == [True, True, True]


def test_explain_fragmented_and_other_reasons() -> None:
    s = ClusterSnapshot.from_nodes([node(f"n{i}", 8) for i in range(3)] + [node("t", 2, "T4")])
    for i in range(3):
        for g in range(6):
            s = occupy(s, i, g, 1000)  # 2 free GPUs left on each V100 node
    code, reason = explain(s, whole(4, models=frozenset({"V100M32"})))
    assert code == "fragmented"
    assert reason == ("fragmented: 3 nodes have 6 V100M32 GPUs free in total "
                      "but none has 4 on one node")
    assert explain(s, whole(1, models=frozenset({"A100"})))[0] == "no-model"
    assert explain(s, whole(4, models=frozenset({"T4"})))[1] == \
        "no node has 4 T4 GPUs (the largest has 2)"
    assert explain(s, whole(1, cpu=10**7))[0] == "host"
    assert explain(s, whole(0, cpu=10**7))[1].startswith("no node has 10000 CPU cores")
