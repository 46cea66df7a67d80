"""The planner's golden rows as figures: predicted / published for every row the tests check.

``tests/planner`` only passes or fails (Narayanan achieved TFLOP/s within 15 %, Korthikanti
step times within 10 % and MFU within 1 point, llm-foundry tokens/s within 15 %); this prints
the ratios and MFU points the closing notes quote, through the same row runners.

    .venv/bin/python benchmarks/bench_planner_goldens.py

The Narayanan rows run as Megatron-LM's own reproduction script sets them up
(``examples/sc21/run_table_1.sh``: micro-batch, ``--DDP-impl`` and layers per virtual stage,
``tests/data/planner/narayanan2021_sc21.csv``), exactly as the golden test runs them.

Limits (the time model of ``gpuwise.planner.time`` against these rows): the model is
optimistic on 2021-2022 Megatron-LM.  Narayanan et al.'s ten A100 runs, set up as the paper's
``run_table_1.sh`` sets them up, come out 2-12 % fast, the interleaved and the small torch-DDP
rows most; Korthikanti et al.'s sequence-parallel step times 0.4-3.3 % fast except 1T (1 MFU
point needs 2 %: 175B and 530B miss it by 0.3 and 0.9 points).  Collective bandwidth is not
the missing cost: the published A100 nccl-tests show all-gathers no slower than all-reduces
(``benchmarks/bench_nccl_busbw.py``).  An op-by-op replay of
Megatron-LM's schedules reproduces the planner's pipeline time exactly, so the interleaved
rows' extra cost is not in the schedule.  None of the candidate costs found in that code
(``torch.cuda.synchronize`` in Megatron's timers and p2p exchanges, ``get_batch``, fp16
unscaling where the precision is unknown) has a published size, so none is charged.  The
A100's forward dropout is paced by its random numbers, at the rate Dao et al. 2022's A100
timings give (``planner.dropout_rng``); with it the selective recompute of Korthikanti's 22B
layer is 0.98 of its Table 4 time.  Without dropout the unfused core's forward is still 12-15 %
faster than Dao et al.'s rows at s >= 2048 (they imply ``torch.softmax`` forward at 0.63-0.67
of HBM, unmeasured elsewhere), its backward within 2-7 % (``benchmarks/bench_attention_core.py``).
llm-foundry's golden rows are within 12 %; its whole table of 201 runs has a median |error| of
4.3 %, 93 % within 15 % (``benchmarks/bench_planner_foundry_full.py``).
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
