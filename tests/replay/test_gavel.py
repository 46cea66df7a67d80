"""Gavel's LPs on instances small enough to solve by hand, and heterogeneity awareness
winning on Gavel traces with Gavel's measured throughputs, for every aware policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from gpuwise.fleet import load_fleet
from gpuwise.replay.engine import replay
from gpuwise.replay.metrics import summary
from gpuwise.replay.placement import nodes_from_fleet
from gpuwise.replay.policies import gavel_lp, make_policy
from gpuwise.replay.traces import load_throughputs, load_trace

DATA = Path(__file__).parent.parent / "data" / "replay"
STATIC = Path(__file__).parent.parent / "data" / "gavel" / "gavel_static_multi_head60.trace"


def feasible(x: np.ndarray, scale: np.ndarray, caps: np.ndarray) -> bool:
    return bool(
        (x >= -1e-9).all()
        and (x.sum(axis=1) <= 1 + 1e-9).all()
        and ((scale[:, None] * x).sum(axis=0) <= caps + 1e-9).all()
    )


def test_proportional_throughput_is_the_capacity_weighted_mean() -> None:
    # Gavel's proportional allocation: C_t / sum(C) of every type, whatever the job.
    T = np.array([[4.0, 1.0], [1.0, 0.0]])
    prop = gavel_lp.proportional_throughput(T, np.array([1.0, 3.0]))
    assert prop == pytest.approx([(4 * 1 + 1 * 3) / 4, 1 / 4])


def test_max_min_fairness_shares_gpu_time_by_priority_weight_not_gang_size() -> None:
    # One type, 2 GPUs.  Normalised throughput s_i/w_i * x_i (the proportional throughput
    # of a one-type job is its own throughput), so the max-min optimum gives every job
    # s_i x_i = C w_i / sum(w) GPUs: 0.5, 0.5 and 1.0 for weights 1, 1, 2.
    T = np.array([[3.0], [5.0], [7.0]])
    scale = np.array([1.0, 2.0, 1.0])
    weights = np.array([1.0, 1.0, 2.0])
    caps = np.array([2.0])
    x = gavel_lp.max_min_fairness(T, scale, weights, caps)
    assert feasible(x, scale, caps)
    assert (scale * x[:, 0]) == pytest.approx([0.5, 0.5, 1.0], abs=1e-7)


def test_max_min_fairness_normalises_by_the_proportional_throughput() -> None:
    # One V100, three K80s.  Proportional throughputs: job 0 (4/s, 1/s) -> 1.75/s,
    # job 1 (2/s, 1/s) -> 1.25/s.  Every job reaching its proportional throughput is
    # feasible (1/4 of the V100 and 3/4 of the K80 time each would use 1.5 K80s), so the
    # optimum of the min is at least 1: each job gets at least its proportional throughput.
    T = np.array([[4.0, 1.0], [2.0, 1.0]])
    caps = np.array([1.0, 3.0])
    ones = np.ones(2)
    x = gavel_lp.max_min_fairness(T, ones, ones, caps)
    assert feasible(x, ones, caps)
    prop = gavel_lp.proportional_throughput(T, caps)
    assert ((T * x).sum(axis=1) >= prop - 1e-7).all()


def test_agnostic_max_min_ignores_throughput_values() -> None:
    T = np.array([[4.0, 1.0], [2.0, 1.0], [9.0, 0.5]])
    scale = np.array([1.0, 1.0, 2.0])
    caps = np.array([1.0, 2.0])
    a = gavel_lp.max_min_fairness_agnostic(T, scale, np.ones(3), caps)
    b = gavel_lp.max_min_fairness_agnostic(T * [[1.0], [7.0], [0.1]], scale, np.ones(3), caps)
    # the optimum of min_i s_i * sum_t x_it is the same for any positive throughputs
    za = (scale * a.sum(axis=1)).min()
    zb = (scale * b.sum(axis=1)).min()
    assert za == pytest.approx(zb, abs=1e-7)
    assert za == pytest.approx(caps.sum() / 3, abs=1e-7)  # 3 GPUs, 3 equal GPU-time shares


def test_lp_never_uses_a_type_a_job_cannot_run_on() -> None:
    T = np.array([[3.0, 0.0], [1.0, 1.0]])
    x = gavel_lp.max_min_fairness(T, np.array([1.0, 2.0]), np.ones(2), np.array([2.0, 2.0]))
    assert x[0, 1] == 0.0
    x = gavel_lp.max_min_fairness(T, np.array([1.0, 4.0]), np.ones(2), np.array([2.0, 2.0]))
    assert x[1].sum() == 0.0  # a 4-GPU gang fits on no 2-GPU type


def test_min_makespan_finishes_everything_together() -> None:
    # One GPU, 10 and 30 units left at 1/s: the least makespan is 40 s, which needs the
    # time split 1/4 : 3/4 so that both finish exactly at 40 s.
    x = gavel_lp.min_makespan(np.ones((2, 1)), np.ones(2), np.array([10.0, 30.0]),
                              np.array([1.0]))
    assert x[:, 0] == pytest.approx([0.25, 0.75], abs=1e-7)


def test_min_makespan_puts_each_job_where_it_is_relatively_fastest() -> None:
    # One V100, one K80; job 0 is 4x faster on the V100, job 1 equally fast on both and
    # with equal work.  Putting job 0 on the V100 and job 1 on the K80 finishes both by
    # max(10/4, 10/1) = 10 s; any time job 1 spends on the V100 can only come from job 0.
    T = np.array([[4.0, 1.0], [1.0, 1.0]])
    x = gavel_lp.min_makespan(T, np.ones(2), np.array([10.0, 10.0]), np.array([1.0, 1.0]))
    rates = (T * x).sum(axis=1)
    assert (np.array([10.0, 10.0]) / rates).max() == pytest.approx(10.0, rel=1e-6)


def test_max_sum_throughput_matches_jobs_to_their_best_types() -> None:
    # V100 + K80: job 0 (4/s, 1/s), job 1 (2/s, 1.5/s).  4 + 1.5 beats 2 + 1.
    T = np.array([[4.0, 1.0], [2.0, 1.5]])
    x = gavel_lp.max_sum_throughput(T, np.ones(2), np.array([1.0, 1.0]))
    assert x == pytest.approx(np.array([[1.0, 0.0], [0.0, 1.0]]), abs=1e-7)


def test_min_avg_jct_runs_the_shorter_job() -> None:
    # One GPU, equal throughputs, 10 vs 100 units left: all the time goes to the short job.
    x = gavel_lp.min_avg_jct(np.array([[1.0], [1.0]]), np.ones(2), np.array([10.0, 100.0]),
                             np.array([1.0]))
    assert x[:, 0] == pytest.approx([1.0, 0.0])


def test_reference_throughputs_copy_the_reference_type() -> None:
    T = np.array([[4.0, 2.0, 0.0], [0.0, 3.0, 1.0]])
    ref = gavel_lp.reference_throughputs(T, 0)
    assert ref == pytest.approx(np.array([[4.0, 4.0, 0.0], [0.0, 3.0, 3.0]]))


def test_isolated_throughput_is_a_one_over_n_slice_run_alone() -> None:
    # Two jobs, 2 GPUs of each type.  Job 0 (1 GPU): C_t / n = 1 GPU of each type, i.e.
    # time shares (1, 1), scaled to (1/2, 1/2).  Job 1 (2 GPUs): (1/2, 1/2) already.
    T = np.array([[4.0, 1.0], [2.0, 1.0]])
    iso = gavel_lp.isolated_throughput(T, np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert iso == pytest.approx([2.5, 1.5])


def test_finish_time_fairness_splits_evenly_between_fresh_equal_jobs() -> None:
    # One GPU, two jobs that just arrived with 10 and 30 units left.  Alone on half the
    # GPU they would take 20 and 60 s, so rho_i = (R_i / x_i) / (2 R_i) = 1 / (2 x_i):
    # the minimax is x = (1/2, 1/2), rho = 1.
    x = gavel_lp.finish_time_fairness(
        np.ones((2, 1)), np.ones(2), np.array([1.0]), np.zeros(2), np.array([10.0, 30.0]),
        np.array([20.0, 60.0]),
    )
    assert x[:, 0] == pytest.approx([0.5, 0.5], abs=2e-3)


def test_finish_time_fairness_catches_up_a_job_that_has_waited() -> None:
    # Same GPU, 10 units each, isolated finish 20 s each, but job 0 has already waited
    # 100 s.  The minimax equalises (100 + 10/a) / 20 = (10 / (1 - a)) / 20.
    a = brentq(lambda a: 100 + 10 / a - 10 / (1 - a), 0.5, 0.999)
    x = gavel_lp.finish_time_fairness(
        np.ones((2, 1)), np.ones(2), np.array([1.0]), np.array([100.0, 0.0]),
        np.array([10.0, 10.0]), np.array([20.0, 20.0]),
    )
    assert x[0, 0] == pytest.approx(a, abs=5e-3)


# the quantity each policy optimises, on which heterogeneity awareness must win
OBJECTIVE = {
    "max-min-fairness": "avg_jct_h",
    "min-avg-jct": "avg_jct_h",
    "min-makespan": "makespan_h",
    "max-sum-throughput": "makespan_h",
    "finish-time-fairness": "avg_jct_h",  # what the paper plots for FTF (its figure 10)
}


CONT = DATA / "gavel_cont_multi_head60.trace"
MSR = DATA / "msr_2869ce_head80.trace"
SMALL = "4xV100,4xP100,4xK80"


@pytest.mark.parametrize(
    ("policy", "trace_file", "fleet"),
    [(p, CONT, SMALL) for p in OBJECTIVE]
    + [
        ("max-min-fairness", MSR, "8xV100,8xP100,8xK80"),
        ("min-makespan", STATIC, SMALL),  # the paper's makespan setup
        ("max-sum-throughput", STATIC, SMALL),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_heterogeneity_awareness_wins_on_a_gavel_trace(
    policy: str, trace_file: Path, fleet: str
) -> None:
    tp = load_throughputs(str(DATA / "simulation_throughputs_isolated.json"))
    trace = load_trace(str(trace_file), "gavel", tp)
    nodes = nodes_from_fleet(load_fleet(fleet))
    aware = summary(replay(nodes, trace.jobs, make_policy(policy)))
    agnostic = summary(replay(nodes, trace.jobs, make_policy(policy + "-agnostic")))
    assert aware["jobs"] == agnostic["jobs"] > 40
    assert aware["unfinished"] == agnostic["unfinished"] == 0
    key = OBJECTIVE[policy]
    assert aware[key] < agnostic[key]
