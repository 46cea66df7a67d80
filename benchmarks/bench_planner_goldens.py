"""The planner's golden rows as figures: predicted / published for every row the tests check.

``tests/planner`` only passes or fails (Narayanan achieved TFLOP/s within 15 %, Korthikanti
step times within 10 % and MFU within 1 point, llm-foundry tokens/s within 15 %); this prints
the ratios and MFU points the closing notes quote, through the same row runners.

    .venv/bin/python benchmarks/bench_planner_goldens.py

The Narayanan rows run as Megatron-LM's own reproduction script sets them up
(``examples/sc21/run_table_1.sh``: micro-batch, ``--DDP-impl`` and layers per virtual stage,
``tests/data/planner/narayanan2021_sc21.csv``), exactly as the golden test runs them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests/ rows

from tests.planner.korthikanti import KORTHIKANTI, run_korthikanti
from tests.planner.test_planner_time import (
    FOUNDRY,
    K_ENGINE,
    NARAYANAN,
    SC21,
    narayanan_sc21,
    run_foundry,
)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    print("Narayanan 2021 Table 1 as run_table_1.sh runs it: predicted / published achieved"
          " TFLOP/s per GPU (HFU rate)")
    for row in NARAYANAN:
        sc = SC21[row["params_b"]]
        got = float(narayanan_sc21(row)["hw_tflops_per_gpu"])
        print(f"  {row['params_b']:>7}B  {got:7.1f} / {row['achieved_tflops_per_gpu']:>5}"
              f"  = {got / float(row['achieved_tflops_per_gpu']):.3f}"
              f"   mbs {sc['micro_batch']:>2} {sc['ddp_impl']:<5} DDP"
              f"  layers/virtual stage {sc['layers_per_virtual_stage'] or '-'}")
    print("Korthikanti 2022: step time predicted / published; MFU (SP + selective) in points")
    for row in KORTHIKANTI:
        sel = run_korthikanti(row, "selective", K_ENGINE["selective"])
        full = run_korthikanti(row, "full", K_ENGINE["full"])
        r_sel = sel["time_s"]["step"] / float(row["step_s_sp_selective"])
        r_full = full["time_s"]["step"] / float(row["step_s_full_recompute"])
        print(f"  {row['model']:>5}  SP+selective {r_sel:.3f}  full {r_full:.3f}"
              f"  MFU {100 * sel['mfu']:.1f} vs {row['mfu_pct_sp_selective']}")
    print("llm-foundry: predicted / published tokens/s per GPU")
    for row in FOUNDRY:
        ratio = run_foundry(row)["tokens_per_s_per_gpu"] / float(row["tokens_per_s_per_gpu"])
        print(f"  {row['model']:>8} {row['gpu']:<10} {ratio:.3f}")


if __name__ == "__main__":
    main()
