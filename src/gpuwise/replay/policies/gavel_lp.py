"""Gavel's heterogeneity-aware allocation LPs (Narayanan et al., OSDI'20), solved with HiGHS.

An allocation ``X`` (jobs x GPU types) gives the fraction of time job ``i`` should spend on
type ``t``.  With throughputs ``T[i, t]`` (work/s of the whole gang), scale factors (gang
sizes) ``s_i`` and ``C_t`` GPUs of type ``t``, every policy shares Gavel's constraints
(``scheduler/policies/policy.py``, ``get_base_constraints``)::

    X[i, t] >= 0,   sum_t X[i, t] <= 1,   sum_i s_i X[i, t] <= C_t

plus ``X[i, t] = 0`` where the job cannot run (zero throughput, or a gang larger than the
type's fleet; Gavel leaves these free, but they can only add idle time).  The effective
throughput of job ``i`` is ``sum_t T[i, t] X[i, t]``.  Gavel solves with cvxpy (ECOS); an
LP's optimum is the same whatever the solver, though ties between optimal allocations may be
broken differently.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, hstack, vstack

from gpuwise.errors import GpuwiseError

Array = NDArray[np.float64]
Bounds = list[tuple[float, float | None]]


def runnable(T: Array, scale: Array, caps: Array) -> NDArray[np.bool_]:
    """Pairs (job, type) that can hold the job: positive throughput and enough GPUs."""
    return (T > 0) & (scale[:, None] <= caps[None, :])


def _base(
    T: Array, scale: Array, caps: Array
) -> tuple[coo_matrix, Array, Bounds]:
    """Capacity and per-job rows of Gavel's base constraints, and per-variable bounds."""
    n, m = T.shape
    cap_rows = np.repeat(np.arange(m)[None, :], n, axis=0).reshape(-1)  # variable i*m+t -> t
    job_rows = m + np.repeat(np.arange(n), m)
    cols = np.arange(n * m)
    rows = np.concatenate([cap_rows, job_rows])
    vals = np.concatenate([np.repeat(scale, m), np.ones(n * m)])
    a = coo_matrix((vals, (rows, np.concatenate([cols, cols]))), shape=(m + n, n * m))
    b = np.concatenate([caps, np.ones(n)])
    ok = runnable(T, scale, caps).reshape(-1)
    bounds: Bounds = [(0.0, 1.0 if o else 0.0) for o in ok]
    return a, b, bounds


def _solve(c: Array, a: coo_matrix, b: Array, bounds: Bounds) -> Array:
    res = linprog(c, A_ub=a.tocsr(), b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise GpuwiseError(f"allocation LP failed: {res.message}")
    return np.asarray(res.x, dtype=np.float64)


def _with_z(
    coef: Array, rhs_per_z: Array, T: Array, scale: Array, caps: Array
) -> Array:
    """``argmax z`` subject to ``rhs_per_z[i] * z <= sum_t coef[i, t] X[i, t]`` for every job
    and the base constraints; returns ``X``."""
    n, m = T.shape
    a, b, bounds = _base(T, scale, caps)
    rows = np.concatenate([np.repeat(np.arange(n), m), np.arange(n)])
    cols = np.concatenate([np.arange(n * m), np.full(n, n * m)])
    vals = np.concatenate([-coef.reshape(-1), rhs_per_z])
    zr = coo_matrix((vals, (rows, cols)), shape=(n, n * m + 1))
    a_full = vstack([hstack([a, coo_matrix((a.shape[0], 1))]), zr]).tocoo()
    b_full = np.concatenate([b, np.zeros(n)])
    c = np.zeros(n * m + 1)
    c[-1] = -1.0
    x = _solve(c, a_full, b_full, [*bounds, (0.0, None)])
    return np.clip(x[:-1].reshape(n, m), 0.0, 1.0)


def max_min_allocation(coef: Array, T: Array, scale: Array, caps: Array) -> Array:
    """``argmax_X min_i sum_t coef[i, t] X[i, t]`` under the base constraints."""
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    return _with_z(coef, np.ones(n), T, scale, caps)


def proportional_throughput(T: Array, caps: Array) -> Array:
    """Throughput of each job under Gavel's ``proportional`` allocation
    (``scheduler/policies/proportional.py``): every job gets ``C_t / sum(C)`` of its time on
    type ``t``, whatever the number of jobs, its gang size or whether it can run there."""
    return np.asarray(T @ (caps / max(float(caps.sum()), 1e-12)), dtype=np.float64)


def max_min_fairness(T: Array, scale: Array, weights: Array, caps: Array) -> Array:
    """Gavel's heterogeneity-aware max-min fairness (``MaxMinFairnessPolicyWithPerf``)::

        maximize min_i  s_i / w_i * (sum_t T_it X_it) / throughput_i(X^proportional)

    Each job's effective throughput is normalised by its throughput under the proportional
    allocation (:func:`proportional_throughput`), multiplied by its scale factor (a job on
    one GPU gets ``s`` times the time of an equal job on ``s`` GPUs) and divided by its
    priority weight.
    """
    prop = proportional_throughput(T, caps)
    prop = np.where(prop > 0, prop, 1.0)
    coef = T * (scale / (weights * prop))[:, None]
    return max_min_allocation(coef, T, scale, caps)


def max_min_fairness_agnostic(T: Array, scale: Array, weights: Array, caps: Array) -> Array:
    """Gavel's heterogeneity-agnostic max-min fairness (``MaxMinFairnessPolicy``): the
    ``WithPerf`` LP fed a throughput of 1 on every type, so each job's normalised
    throughput is its total time share times ``s_i / w_i`` (the proportional throughput of
    an all-ones row is 1).  ``T`` only says where a job can run."""
    ones = runnable(T, scale, caps).astype(np.float64)
    return max_min_allocation(ones * (scale / weights)[:, None], T, scale, caps)


def max_sum_throughput(T: Array, scale: Array, caps: Array) -> Array:
    """Gavel's ``ThroughputSumWithPerf`` (``max_sum_throughput.py``, no costs, no SLOs)::

        maximize sum_i sum_t T_it X_it
    """
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    a, b, bounds = _base(T, scale, caps)
    return np.clip(_solve(-T.reshape(-1), a, b, bounds).reshape(n, m), 0.0, 1.0)


def min_makespan(T: Array, scale: Array, remaining: Array, caps: Array) -> Array:
    """Gavel's ``MinTotalDurationPolicyWithPerf`` (``min_total_duration.py``): the smallest
    ``M`` such that every job can finish its remaining work ``R_i`` within ``M``::

        minimize M  s.t.  sum_t T_it X_it >= R_i / M

    Gavel bisects on ``M`` (to within 5 %) with a feasibility LP per step; with
    ``z = 1 / M`` the problem is one LP (maximize ``z`` s.t. ``R_i z <= sum_t T_it X_it``),
    solved here exactly.
    """
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    return _with_z(T, np.maximum(remaining, 0.0), T, scale, caps)


def min_avg_jct(T: Array, scale: Array, remaining: Array, caps: Array) -> Array:
    """gpuwise's fluid LP for minimum average JCT (Gavel publishes no such policy): maximise
    the sum of completion rates ``sum_i sum_t T_it X_it / R_i``.

    ``sum_t T_it X_it / R_i`` is the rate at which job ``i`` finishes its remaining work
    ``R_i``; maximising the sum favours short jobs on the GPU types where they are fastest,
    a heterogeneity-aware shortest-remaining-time-first (SRPT is optimal for mean response
    time on one server, Schrage 1968).
    """
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    a, b, bounds = _base(T, scale, caps)
    c = -(T / np.maximum(remaining, 1e-9)[:, None]).reshape(-1)
    return np.clip(_solve(c, a, b, bounds).reshape(n, m), 0.0, 1.0)


def reference_throughputs(T: Array, ref: int) -> Array:
    """Gavel's heterogeneity-agnostic input for its remaining-work policies (``MinTotalDuration``,
    ``FinishTimeFairness``): every type gets the job's throughput on the reference type
    (Gavel hard-codes the V100).  A job that cannot run on the reference type gets its best
    throughput; a type where the job cannot run stays at 0 (Gavel would give it the V100
    value and leave its share of the allocation idle)."""
    if T.shape[1] == 0:
        return T.copy()
    base = T[:, ref]
    base = np.where(base > 0, base, T.max(axis=1))
    return np.where(T > 0, base[:, None], 0.0)


def isolated_throughput(T: Array, scale: Array, caps: Array) -> Array:
    """Throughput of each job under Gavel's ``isolated`` allocation
    (``scheduler/policies/isolated.py``): ``C_t / (n s_i)`` of its time on every type, scaled
    down so that it sums to at most 1 (its ``1/n`` slice of the cluster, run alone)."""
    n = T.shape[0]
    if n == 0:
        return np.zeros(0)
    x = (caps[None, :] / n) / scale[:, None]
    x = x / np.maximum(x.sum(axis=1, keepdims=True), 1.0)
    return np.asarray((T * x).sum(axis=1), dtype=np.float64)


class _RatesAtLeast:
    """Allocations that give every job at least ``need_i`` work/s; the constraint matrix is
    built once and only the right-hand side changes between calls."""

    def __init__(self, T: Array, scale: Array, caps: Array) -> None:
        n, m = T.shape
        a, self.b, self.bounds = _base(T, scale, caps)
        rows = np.repeat(np.arange(n), m)
        rate = coo_matrix((-T.reshape(-1), (rows, np.arange(n * m))), shape=(n, n * m))
        self.a = vstack([a, rate]).tocsr()
        self.T = T

    def __call__(self, need: Array) -> Array | None:
        """The allocation maximising ``sum_i rate_i / need_i`` (it uses spare GPUs), or
        ``None`` if no allocation reaches ``need``."""
        c = -(self.T / np.maximum(need, 1e-12)[:, None]).reshape(-1)
        res = linprog(c, A_ub=self.a, b_ub=np.concatenate([self.b, -need]),
                      bounds=self.bounds, method="highs")
        if res.status != 0:
            return None
        return np.clip(np.asarray(res.x, dtype=np.float64).reshape(self.T.shape), 0.0, 1.0)


def finish_time_fairness(
    T: Array, scale: Array, caps: Array, since_start: Array, remaining: Array,
    isolated_s: Array, rel_tol: float = 1e-3,
) -> Array:
    """Gavel's ``FinishTimeFairnessPolicyWithPerf`` (Themis' finish-time fairness)::

        minimize max_i  (t_i + R_i / sum_t T_it X_it) / E_i

    with ``t_i`` the time since the job arrived, ``R_i`` its remaining work and ``E_i`` its
    finish time alone on its isolated share (``isolated_s``: time already spent, counted in
    isolated-share seconds, plus ``R_i`` at the isolated throughput).  Gavel hands the
    convex program to cvxpy; here the optimum ``rho`` is bisected (to ``rel_tol``) with one
    LP per step: ``rho`` is reachable iff every job can get ``R_i / (rho E_i - t_i)`` work/s.
    The isolated allocation bounds ``rho`` from above, each job alone on its best type from
    below.
    """
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    T = np.where(runnable(T, scale, caps), T, 0.0)
    iso = isolated_throughput(T, scale, caps)
    x_iso = (caps[None, :] / n) / scale[:, None]
    x = np.where(T > 0, x_iso / np.maximum(x_iso.sum(axis=1, keepdims=True), 1.0), 0.0)
    best = np.maximum(T.max(axis=1), 1e-12)
    hi = float(((since_start + remaining / np.maximum(iso, 1e-12)) / isolated_s).max())
    lo = float(((since_start + remaining / best) / isolated_s).max())
    reach = _RatesAtLeast(T, scale, caps)
    for _ in range(60):
        if hi - lo <= rel_tol * hi:
            break
        mid = 0.5 * (lo + hi)
        slack = mid * isolated_s - since_start
        got = reach(remaining / slack) if (slack > 0).all() else None
        if got is None:
            lo = mid
        else:
            hi, x = mid, got
    return x
