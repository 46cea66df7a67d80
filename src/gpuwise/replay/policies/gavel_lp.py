"""Gavel's heterogeneity-aware allocation LPs (Narayanan et al., OSDI'20), solved with HiGHS.

An allocation ``X`` (jobs x GPU types) gives the fraction of time job ``i`` should spend on
type ``t``.  With throughputs ``T[i, t]`` (work/s of the whole gang), scale factors (gang
sizes) ``s_i`` and ``C_t`` GPUs of type ``t``, every policy shares Gavel's constraints
(``policy.py: get_base_constraints``)::

    0 <= X[i, t] <= 1,   sum_t X[i, t] <= 1,   sum_i s_i X[i, t] <= C_t

plus ``X[i, t] = 0`` where the job cannot run (zero throughput, or a gang larger than the
type's fleet).  The effective throughput of job ``i`` is ``sum_t T[i, t] X[i, t]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, hstack, vstack

from gpuwise.errors import GpuwiseError

Array = NDArray[np.float64]


def _base(
    T: Array, scale: Array, caps: Array
) -> tuple[coo_matrix, Array, list[tuple[float, float]]]:
    """Capacity and per-job rows of Gavel's base constraints, and per-variable bounds."""
    n, m = T.shape
    rows, cols, vals = [], [], []
    for t in range(m):  # sum_i s_i x_it <= C_t
        for i in range(n):
            rows.append(t)
            cols.append(i * m + t)
            vals.append(scale[i])
    for i in range(n):  # sum_t x_it <= 1
        for t in range(m):
            rows.append(m + i)
            cols.append(i * m + t)
            vals.append(1.0)
    a = coo_matrix((vals, (rows, cols)), shape=(m + n, n * m))
    b = np.concatenate([caps, np.ones(n)])
    ok = (T > 0) & (scale[:, None] <= caps[None, :])
    bounds = [(0.0, 1.0 if ok[i, t] else 0.0) for i in range(n) for t in range(m)]
    return a, b, bounds


def _solve(c: Array, a: coo_matrix, b: Array, bounds: list[tuple[float, float]]) -> Array:
    res = linprog(c, A_ub=a.tocsr(), b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise GpuwiseError(f"allocation LP failed: {res.message}")
    return np.asarray(res.x, dtype=np.float64)


def max_min_allocation(coef: Array, T: Array, scale: Array, caps: Array) -> Array:
    """``argmax_X min_i sum_t coef[i, t] X[i, t]`` under the base constraints."""
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    a, b, bounds = _base(T, scale, caps)
    # variable z (last column): z - sum_t coef_it x_it <= 0 for every job
    rows = np.concatenate([np.repeat(np.arange(n), m), np.arange(n)])
    cols = np.concatenate([np.arange(n * m), np.full(n, n * m)])
    vals = np.concatenate([-coef.reshape(-1), np.ones(n)])
    zr = coo_matrix((vals, (rows, cols)), shape=(n, n * m + 1))
    a_full = vstack([hstack([a, coo_matrix((a.shape[0], 1))]), zr]).tocoo()
    b_full = np.concatenate([b, np.zeros(n)])
    c = np.zeros(n * m + 1)
    c[-1] = -1.0
    x = _solve(c, a_full, b_full, [*bounds, (0.0, 1e15)])
    return np.clip(x[:-1].reshape(n, m), 0.0, 1.0)


def equal_share_throughput(T: Array, scale: Array, weights: Array, caps: Array) -> Array:
    """Throughput of each job under Gavel's ``X^equal`` (paper, section 4.1): the job's equal
    share of time spread over the GPU types it can run on in proportion to their GPU counts.

    The heterogeneity-agnostic max-min LP gives job ``i`` a total time share ``z w_i / s_i``;
    ``z`` is common to all jobs and does not change the arg-max, so it is left out.
    """
    ok = (T > 0) & (scale[:, None] <= caps[None, :])
    share = ok * caps[None, :]
    p = share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12)
    return (weights / scale) * (T * p).sum(axis=1)


def max_min_fairness(T: Array, scale: Array, weights: Array, caps: Array) -> Array:
    """Gavel's heterogeneity-aware max-min fairness (``MaxMinFairnessPolicyWithPerf``).

    Each job's throughput is normalised by its throughput under the equal time share
    ``X^equal`` (:func:`equal_share_throughput`), multiplied by its scale factor and divided
    by its priority weight, as Gavel's code does::

        maximize min_i  s_i / w_i * (sum_t T_it X_it) / throughput_i(X^equal)

    With every ``T_it = 1`` (the agnostic twin) this is plain max-min fairness of GPU time.
    """
    base = equal_share_throughput(T, scale, weights, caps)
    base = np.where(base > 0, base, 1.0)
    coef = T * (scale / (weights * base))[:, None]
    return max_min_allocation(coef, T, scale, caps)


def min_avg_jct(T: Array, scale: Array, remaining: Array, caps: Array) -> Array:
    """A fluid LP for minimum average JCT: maximise the sum of completion rates.

    ``sum_t T_it X_it / R_i`` is the rate at which job ``i`` finishes its remaining work
    ``R_i``; maximising the sum favours short jobs on the GPU types where they are fastest
    (heterogeneity-aware SRPT, the LP surrogate of mean JCT).
    """
    n, m = T.shape
    if n == 0:
        return np.zeros((0, m))
    a, b, bounds = _base(T, scale, caps)
    c = -(T / np.maximum(remaining, 1e-9)[:, None]).reshape(-1)
    return np.clip(_solve(c, a, b, bounds).reshape(n, m), 0.0, 1.0)


def agnostic_throughputs(T: Array, caps: Array) -> Array:
    """One throughput for every GPU type: the capacity-weighted mean of a job's throughputs
    over the types it can run on (zero stays zero)."""
    ok = T > 0
    w = ok * caps[None, :]
    mean = (T * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)
    return np.where(ok, mean[:, None], 0.0)
