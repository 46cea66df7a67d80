"""Decode-shaped GEMM measurements and their interpolation.

Decoding multiplies a few token rows by every weight matrix once per step: ``y = x W^T`` with
``x`` of ``m`` rows (the batch) and a weight ``W[n, k]`` read from memory, not from a cache.
How fast that runs depends on all three sizes (on a CPU the GEMV bandwidth grows with the row
length ``k``; with 8 rows the output width ``n`` matters more), so ``gpuwise calibrate``
measures a full grid ``m x n x k`` and :func:`interp_grid` interpolates it trilinearly in
``(log m, log n, log k)``, geometrically in the rate, clamped at the edges of the grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuwise.errors import GpuwiseError

#: Bytes per element of the precisions a decode GEMM is measured in.
ELEMENT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


class DecodeGemmPoint(BaseModel):
    """One decode-layout GEMM ``x[m,k] @ W[n,k]^T`` with the weight cache-cold (rotated
    through more than twice the last-level cache): best time of one call, its TFLOP/s
    ``2mnk / seconds`` and the rate at which it streams the weight, ``n k bytes / seconds``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: int = Field(gt=0, description="token rows (the batch of a decode step)")
    n: int = Field(gt=0, description="output features (rows of the weight)")
    k: int = Field(gt=0, description="input features (the weight's row length)")
    precision: Literal["fp32", "bf16", "fp16"]
    seconds: float = Field(gt=0)
    tflops: float = Field(gt=0)
    weight_gbs: float = Field(gt=0, description="weight bytes / seconds, GB/s")


def decode_point(m: int, n: int, k: int, precision: str, seconds: float) -> DecodeGemmPoint:
    """A :class:`DecodeGemmPoint` with its rates derived from ``seconds``."""
    elem = ELEMENT_BYTES[precision]
    return DecodeGemmPoint(m=m, n=n, k=k, precision=precision, seconds=seconds,
                           tflops=2.0 * m * n * k / seconds / 1e12,
                           weight_gbs=float(n) * k * elem / seconds / 1e9)


def grid_problem(points: Iterable[DecodeGemmPoint]) -> str | None:
    """Why ``points`` are not a full ``m x n x k`` grid per precision (None when they are)."""
    by_prec: dict[str, set[tuple[int, int, int]]] = {}
    for p in points:
        key = (p.m, p.n, p.k)
        have = by_prec.setdefault(p.precision, set())
        if key in have:
            return f"{p.precision} point m={p.m} n={p.n} k={p.k} appears twice"
        have.add(key)
    for prec, have in by_prec.items():
        ms, ns, ks = ({x[i] for x in have} for i in range(3))
        if len(have) != len(ms) * len(ns) * len(ks):
            missing = next((m, n, k) for m in sorted(ms) for n in sorted(ns) for k in sorted(ks)
                           if (m, n, k) not in have)
            return (f"{prec} points are not a full m x n x k grid (missing m={missing[0]} "
                    f"n={missing[1]} k={missing[2]})")
    return None


def _interp1(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear ``y(x)`` over sorted, distinct ``xs``, clamped at both ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]  # unreachable: x lies within [xs[0], xs[-1]]


def interp_grid(points: Iterable[DecodeGemmPoint], m: float, n: float, k: float,
                value: str = "tflops") -> float:
    """Trilinear interpolation of ``value`` ("tflops", "weight_gbs" or "seconds") in
    ``(log m, log n, log k)``, linear in ``log value`` (geometric between grid points), clamped
    outside the grid.  ``points``: one precision's full grid (see :func:`grid_problem`)."""
    table = {(p.m, p.n, p.k): math.log(getattr(p, value)) for p in points}
    if not table:
        raise GpuwiseError("no decode GEMM measurements to interpolate")
    if min(m, n, k) <= 0:
        raise GpuwiseError(f"GEMM dimensions must be positive, got m={m} n={n} k={k}")
    ms, ns, ks = (sorted({key[i] for key in table}) for i in range(3))
    lks = [math.log(v) for v in ks]
    lns = [math.log(v) for v in ns]
    lms = [math.log(v) for v in ms]
    along_n = []
    for gm in ms:
        along_k = [_interp1(math.log(k), lks, [table[gm, gn, gk] for gk in ks]) for gn in ns]
        along_n.append(_interp1(math.log(n), lns, along_k))
    return math.exp(_interp1(math.log(m), lms, along_n))
