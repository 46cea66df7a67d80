"""Out-of-sample check: every row of llm-foundry's MPT benchmark tables through the golden runner.

The llm-foundry golden (``tests/planner/test_planner_time.py::test_llm_foundry_tokens_per_gpu``)
checks 6 rows; ``tests/data/planner/llm_foundry_full.csv`` holds all 201 rows of the README's
four tables (H100 80GB BF16, H100 80GB FP8, A100 80GB and A100 40GB, the last two "with
1600 Gbps node-node interconnect"; sources in ``tests/data/planner/SOURCE.md``).  Each row runs
through the test's own ``run_foundry`` (Composer FSDP FULL_SHARD, the row's micro-batch,
gradient accumulation, mixed-precision mode and activation checkpointing), so nothing is
configured differently from the golden rows.  Nothing here feeds back into the planner: it is a
report, not a fit.

    .venv/bin/python benchmarks/bench_planner_foundry_full.py [--rows]

Prints predicted / published tokens/s per GPU per row (``--rows``), rows the planner cannot
express or says do not fit (excluded from the figures, with the reason), then the median ratio,
median |error| and the share within +-15 % by table, model size, GPU count, activation
checkpointing and sequence length, the worst rows, and how per-GPU throughput moves with the GPU
count in the table and in the model.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests/ rows

from gpuwise.errors import GpuwiseError  # noqa: E402
from tests.planner.test_planner_time import DATA, run_foundry  # noqa: E402

CSV = DATA / "llm_foundry_full.csv"
Row = dict[str, str]


def load(path: Path = CSV) -> list[Row]:
    return list(csv.DictReader(path.open()))


def label(r: Row) -> str:
    return (
        f"{r['table']:9} {r['model']:8} s{int(r['seq']):<5d} {int(r['gpus']):3d}g "
        f"mb{r['micro_batch']:>3}x{r['grad_accum']:<2} ac={r['activation_checkpointing']:3}"
    )


def evaluate(rows: Iterable[Row]) -> tuple[list[tuple[Row, float]], list[tuple[Row, str]]]:
    """(row, predicted / published) for rows the planner runs and fits; (row, reason) else."""
    done: list[tuple[Row, float]] = []
    skipped: list[tuple[Row, str]] = []
    for r in rows:
        try:
            out = run_foundry(r)
        except GpuwiseError as e:
            skipped.append((r, f"cannot be expressed: {e}"))
            continue
        ratio = float(out["tokens_per_s_per_gpu"]) / float(r["tokens_per_s_per_gpu"])
        if not out["fits"]:
            mem = out["memory_gib"]["total"]
            skipped.append((r, f"planner says it does not fit ({mem:.1f} GiB; ratio {ratio:.2f})"))
            continue
        done.append((r, ratio))
    return done, skipped


def summary(ratios: list[float]) -> str:
    n = len(ratios)
    within = sum(abs(x - 1.0) <= 0.15 for x in ratios)
    return (
        f"{n:4d} {statistics.median(ratios):6.2f} "
        f"{100 * statistics.median(abs(x - 1.0) for x in ratios):8.1f}% "
        f"{100 * within / n:7.0f}%  [{min(ratios):.2f}, {max(ratios):.2f}]"
    )


def by(done: list[tuple[Row, float]], title: str, key: Callable[[Row], str | int]) -> None:
    print(f"\nby {title}:{'':<{18 - len(title)}}   n median |error| ±15 %  [min, max]")
    groups: dict[str | int, list[float]] = {}
    for r, x in done:
        groups.setdefault(key(r), []).append(x)
    for k in sorted(groups, key=lambda v: (isinstance(v, str), v)):
        print(f"  {k!s:20} {summary(groups[k])}")


def size_key(r: Row) -> int:
    s = r["model"].removeprefix("mpt-")
    return int(float(s[:-1]) * (1e9 if s.endswith("b") else 1e6))


def scaling(done: list[tuple[Row, float]]) -> None:
    """Rows that differ only in GPU count: per-GPU throughput at the most GPUs over that at
    the fewest, published and predicted."""
    print("\nper-GPU throughput vs GPU count (same table, model, seq, recompute):")
    print("  table     model    seq   GPUs     published  predicted")
    groups: dict[tuple[str, str, str, str], list[tuple[Row, float]]] = {}
    for r, x in done:
        groups.setdefault(
            (r["table"], r["model"], r["seq"], r["activation_checkpointing"]), []
        ).append((r, x))
    for (table, model, seq, _), rs in groups.items():
        if len({r["gpus"] for r, _ in rs}) < 2:
            continue
        rs.sort(key=lambda t: int(t[0]["gpus"]))
        (lo, xlo), (hi, xhi) = rs[0], rs[-1]
        pub = float(hi["tokens_per_s_per_gpu"]) / float(lo["tokens_per_s_per_gpu"])
        pred = pub * xhi / xlo
        print(
            f"  {table:9} {model:8} {seq:>5} {lo['gpus']:>3}->{hi['gpus']:<4} {pub:9.2f} "
            f"{pred:10.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", action="store_true", help="print every row")
    ap.add_argument("--csv", type=Path, default=CSV)
    args = ap.parse_args()
    rows = load(args.csv)
    done, skipped = evaluate(rows)
    if args.rows:
        print("predicted / published tokens/s per GPU")
        for r, x in done:
            pred = x * float(r["tokens_per_s_per_gpu"])
            print(f"  {label(r)} {pred:9.0f} / {int(r['tokens_per_s_per_gpu']):7d}  {x:5.2f}")
    print(f"\n{len(rows)} rows; {len(done)} evaluated; {len(skipped)} excluded:")
    for r, why in skipped:
        print(f"  {label(r)}  {why}")
    ratios = [x for _, x in done]
    print(f"\n{'all rows':22} {summary(ratios)}  (n, median ratio, median |error|, ±15 %)")
    by(done, "table", lambda r: r["table"])
    by(done, "model size", size_key)
    by(done, "GPU count", lambda r: int(r["gpus"]))
    by(done, "recompute", lambda r: f"ac={r['activation_checkpointing']}")
    by(done, "sequence length", lambda r: int(r["seq"]))
    by(done, "MP mode", lambda r: r["mp_mode"])
    worst = sorted(done, key=lambda t: -abs(math.log(t[1])))[:12]
    print("\nworst rows (predicted / published):")
    for r, x in worst:
        print(f"  {label(r)}  {x:.2f}")
    scaling(done)


if __name__ == "__main__":
    main()
