"""Summaries (the CLI's JSON contract) and curve files (the FGD artifact's CSV layout)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gpuwise.errors import GpuwiseError
from gpuwise.packsim.metrics import (
    STEPS,
    FloatArray,
    RunTrace,
    allocation_curve,
    first_failure_pct,
    frag_amount_curve,
    frag_rate_curve,
)

CURVES: dict[str, Callable[[RunTrace], FloatArray]] = {
    "allo": allocation_curve,
    "frag": frag_amount_curve,
    "frag_ratio": frag_rate_curve,
}
"""Curve kinds, named as in the artifact's ``analysis_{allo,frag,frag_ratio}_discrete.csv``."""

LAST_STEP = int(STEPS[-1])


def _at(curve: FloatArray, step: int) -> float:
    """The curve at ``step``, or at the nearest earlier step that has data (a small cluster's
    coarse arrivals can skip steps)."""
    upto = curve[: int(np.searchsorted(STEPS, step)) + 1]
    ok = np.flatnonzero(~np.isnan(upto))
    return float(upto[ok[-1]]) if len(ok) else float("nan")


def last_step(tune: float) -> int:
    """The last arrival step a run with this ``tune`` reaches (at most 130)."""
    return max(0, min(LAST_STEP, int(math.floor(tune * 100 + 1e-9))))


def summarize(policy: str, traces: Sequence[RunTrace], seconds: float,
              tune: float = 1.3) -> dict[str, Any]:
    """The JSON object of ``gpuwise sim pack --json`` for one policy: figures at the last
    arrival step (130 % by default), means over seeds."""
    alloc = np.array([_at(allocation_curve(t), last_step(tune)) for t in traces])
    rate90 = np.array([_at(frag_rate_curve(t), 90) for t in traces])
    first = np.array([first_failure_pct(t) for t in traces])
    total = traces[0].total_gpus
    mean = float(np.mean(alloc))
    first_ok = first[~np.isnan(first)]
    return {
        "policy": policy,
        "seeds": [t.seed for t in traces],
        "total_gpus": total,
        "allocation_pct_mean": round(mean, 3),
        "allocation_pct_std": round(float(np.std(alloc, ddof=1)) if len(alloc) > 1 else 0.0, 3),
        "unallocated_gpus": round(total * (100.0 - mean) / 100.0, 2),
        "frag_rate_pct_at_90": round(float(np.nanmean(rate90)), 3),
        "first_failure_pct": int(round(float(first_ok.mean()))) if len(first_ok) else None,
        "seconds": round(seconds, 2),
    }


def curve_rows(workload: str, tune: float, traces: Sequence[RunTrace],
               kind: str = "allo") -> list[list[Any]]:
    """Rows ``workload, sc_policy, tune, seed, total_gpus, 0..130`` (no header)."""
    fn = CURVES[kind]
    rows: list[list[Any]] = []
    for t in traces:
        vals = ["" if math.isnan(v) else round(float(v), 2) for v in fn(t)]
        rows.append([workload, t.policy, tune, t.seed, t.total_gpus, *vals])
    return rows


def curve_header() -> list[str]:
    return ["workload", "sc_policy", "tune", "seed", "total_gpus", *(str(s) for s in STEPS)]


def sibling(path: Path, kind: str) -> Path:
    """``curves.csv`` for allocation, ``curves-frag.csv`` / ``curves-frag_ratio.csv`` beside it."""
    return path if kind == "allo" else path.with_name(f"{path.stem}-{kind}{path.suffix}")


def write_curves(path: Path, workload: str, tune: float,
                 traces: Sequence[RunTrace]) -> list[Path]:
    """Write the three curve files; returns their paths."""
    written = []
    for kind in CURVES:
        p = sibling(path, kind)
        try:
            with p.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(curve_header())
                w.writerows(curve_rows(workload, tune, traces, kind))
        except OSError as exc:
            raise GpuwiseError(f"{p}: cannot write ({exc.strerror or exc})") from None
        written.append(p)
    return written
