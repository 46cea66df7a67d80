"""Gavel's LPs on instances small enough to solve by hand, and heterogeneity awareness
winning on a Gavel trace with Gavel's measured throughputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpuwise.fleet import load_fleet
from gpuwise.replay.engine import replay
from gpuwise.replay.metrics import summary
from gpuwise.replay.placement import nodes_from_fleet
from gpuwise.replay.policies import gavel_lp, make_policy
from gpuwise.replay.traces import load_throughputs, load_trace

DATA = Path(__file__).parent.parent / "data" / "replay"


def test_min_avg_jct_runs_the_shorter_job() -> None:
    # One GPU, equal throughputs, 10 vs 100 units left: all the time goes to the short job.
    x = gavel_lp.min_avg_jct(np.array([[1.0], [1.0]]), np.ones(2), np.array([10.0, 100.0]),
                             np.array([1.0]))
    assert x[:, 0] == pytest.approx([1.0, 0.0])


def test_max_min_fairness_normalises_by_the_equal_share() -> None:
    # One V100 and one K80.  Job 0 runs 4/s on the V100 and 1/s on the K80; job 1 runs 1/s
    # on both.  Equal shares (half of each type): 2.5/s and 1/s.  Job 1's normalised
    # throughput is its total time share, at most 1, so the optimum of the min is 1 and
    # needs job 1 busy all the time; job 0 must then reach at least 2.5/s.
    T = np.array([[4.0, 1.0], [1.0, 1.0]])
    caps = np.array([1.0, 1.0])
    assert gavel_lp.equal_share_throughput(T, np.ones(2), np.ones(2), caps) == pytest.approx(
        [2.5, 1.0]
    )
    x = gavel_lp.max_min_fairness(T, np.ones(2), np.ones(2), caps)
    assert (x.sum(axis=1) <= 1 + 1e-9).all() and (x.sum(axis=0) <= caps + 1e-9).all()
    assert x[1].sum() == pytest.approx(1.0)
    assert (T[0] * x[0]).sum() >= 2.5 - 1e-9


def test_lp_never_uses_a_type_a_job_cannot_run_on() -> None:
    T = np.array([[3.0, 0.0], [1.0, 1.0]])
    x = gavel_lp.max_min_fairness(T, np.array([1.0, 2.0]), np.ones(2), np.array([2.0, 2.0]))
    assert x[0, 1] == 0.0


def test_agnostic_throughputs_are_one_value_per_job() -> None:
    T = np.array([[4.0, 2.0, 0.0]])
    agn = gavel_lp.agnostic_throughputs(T, np.array([1.0, 3.0, 2.0]))
    assert agn[0, 0] == agn[0, 1] == pytest.approx((4 * 1 + 2 * 3) / 4) and agn[0, 2] == 0.0


@pytest.mark.parametrize("policy", ["max-min-fairness", "min-avg-jct"])
def test_heterogeneity_awareness_wins_on_a_gavel_trace(policy: str) -> None:
    tp = load_throughputs(str(DATA / "simulation_throughputs_isolated.json"))
    trace = load_trace(str(DATA / "gavel_cont_multi_head60.trace"), "gavel", tp)
    nodes = nodes_from_fleet(load_fleet("4xV100,4xP100,4xK80"))
    aware = summary(replay(nodes, trace.jobs, make_policy(policy)))
    agnostic = summary(replay(nodes, trace.jobs, make_policy(policy + "-agnostic")))
    assert aware["jobs"] == agnostic["jobs"] > 50
    assert aware["avg_jct_h"] < agnostic["avg_jct_h"]
