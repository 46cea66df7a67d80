"""Per-arrival-step curves, computed the way the FGD artifact's analysis scripts do.

The simulator logs one row per pod attempt: GPU milli-requests arrived so far (placed or not),
milli-GPU in use, fragment amount, idle milli-GPU.  ``merge_*_discrete.py`` then rounds the
arrival ratio to whole percent (Python's round-half-even) and, for each step ``k`` in 0..130,
averages the rows whose rounded ratio is ``k`` (or within ``k +- 1`` when there is none).

* allocation ratio (%) = used / total milli-GPU x 100, each row rounded to 2 decimals;
* fragment amount (% of GPUs) = fragment milli-GPU / total milli-GPU x 100;
* fragmentation rate (%) = fragment / idle milli-GPU x 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

STEPS = np.arange(0, 131)
"""Arrival steps (% of cluster GPU capacity) of the published curves."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RunTrace:
    """Rows of one packing run (one per pod attempt), all in milli-GPU."""

    policy: str
    seed: int
    total_gpus: int
    arrived: npt.NDArray[np.int64]
    used: npt.NDArray[np.int64]
    frag: FloatArray
    failed: npt.NDArray[np.bool_]

    @property
    def idle(self) -> npt.NDArray[np.int64]:
        return self.total_gpus * 1000 - self.used

    def arrival_pct(self) -> FloatArray:
        """Arrived GPU request as % of capacity, per row."""
        return np.asarray(self.arrived / (self.total_gpus * 10.0), dtype=np.float64)


def step_means(arrival_pct: FloatArray, values: FloatArray,
               steps: npt.NDArray[np.int64] = STEPS) -> FloatArray:
    """Mean of ``values`` over the rows whose rounded arrival % equals each step (NaN if none,
    even within +-1), rounded to 2 decimals."""
    k = np.rint(arrival_pct).astype(np.int64)  # rint rounds half to even, like Python round
    k = np.clip(k, -1, int(steps.max()) + 2) + 1
    size = int(steps.max()) + 4
    sums = np.bincount(k, weights=values, minlength=size)
    counts = np.bincount(k, minlength=size).astype(np.float64)
    out = np.full(len(steps), np.nan)
    for j, s in enumerate(steps):
        if counts[s + 1] > 0:
            out[j] = sums[s + 1] / counts[s + 1]
        elif counts[s:s + 3].sum() > 0:
            out[j] = sums[s:s + 3].sum() / counts[s:s + 3].sum()
    return np.round(out, 2)


def allocation_curve(t: RunTrace) -> FloatArray:
    """Allocation ratio (%) per arrival step."""
    rows = np.round(t.used / (t.total_gpus * 10.0), 2)
    return step_means(t.arrival_pct(), rows)


def frag_amount_curve(t: RunTrace) -> FloatArray:
    """Fragment amount (% of all GPUs) per arrival step."""
    return step_means(t.arrival_pct(), t.frag / (t.total_gpus * 10.0))


def frag_rate_curve(t: RunTrace) -> FloatArray:
    """Fragmentation rate (% of idle GPU milli that is fragment) per arrival step."""
    idle = t.idle.astype(np.float64)
    rate = np.divide(t.frag * 100.0, idle, out=np.full(len(idle), 100.0), where=idle > 0)
    return step_means(t.arrival_pct(), rate)


def first_failure_pct(t: RunTrace) -> float:
    """Arrival % (rounded) when the first pod failed; NaN when none failed."""
    idx = np.flatnonzero(t.failed)
    return float(np.rint(t.arrival_pct()[idx[0]])) if len(idx) else float("nan")
