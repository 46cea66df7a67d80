"""The planner's golden rows as figures: predicted / published for every row the tests check.

``tests/planner`` only passes or fails (Narayanan achieved TFLOP/s within 15 %, Korthikanti
step times within 10 % and MFU within 1 point, llm-foundry tokens/s within 15 %); this prints
the ratios and MFU points the closing notes quote, through the same row runners.

    .venv/bin/python benchmarks/bench_planner_goldens.py [--sc21]

``--sc21`` also prints the Narayanan rows as Megatron-LM's own reproduction script sets them up
(``examples/sc21/run_table_1.sh``: the micro-batch size, ``DDP=torch`` -- PyTorch DDP, whose
bucketed fp16 gradient all-reduce overlaps the backward pass -- for 1.7B-18B and ``DDP=local``
above, and the layers per virtual stage), where the test searches the micro-batch and runs
every row with local DDP: a report, not what the test checks.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests/ rows

from gpuwise.planner.evaluate import evaluate_config  # noqa: E402
from gpuwise.planner.models import list_models  # noqa: E402
from gpuwise.planner.parallel import ENGINES  # noqa: E402
from tests.planner.korthikanti import KORTHIKANTI, run_korthikanti
from tests.planner.test_planner_time import (
    FOUNDRY,
    K_ENGINE,
    NARAYANAN,
    narayanan_best,
    run_foundry,
)

#: Megatron-LM examples/sc21/run_table_1.sh per model size: (MBS, DDP impl, NUM_LAYERS per
#: virtual pipeline stage or None).
SC21: dict[str, tuple[int, str, int | None]] = {
    "1.7": (16, "torch", None), "3.6": (16, "torch", None), "7.5": (16, "torch", None),
    "18.4": (8, "torch", None), "39.1": (4, "local", None), "76.1": (2, "local", 5),
    "145.6": (2, "local", 5), "310.1": (1, "local", 3), "529.6": (1, "local", 1),
    "1008.0": (1, "local", None),
}


def sc21_ratio(row: dict[str, str]) -> float:
    """Predicted / published HFU rate with run_table_1.sh's settings: ``DDP=torch`` rows
    all-reduce 16-bit gradients overlapped with the backward pass (no local-DDP buffer pass)."""
    m = next(x for x in list_models()
             if (x.hidden, x.layers, x.vocab) == (int(row["hidden"]), int(row["layers"]), 51200))
    mbs, ddp, per_chunk = SC21[row["params_b"]]
    pp = int(row["pp"])
    eng = ENGINES["megatron-2021"]
    if ddp == "torch":
        eng = replace(eng, name="megatron-2021-torch-ddp", overlap_dp=True, grad_bytes=2,
                      grad_buffer_scale=False)
    r = evaluate_config(m, "A100-80GB", seq=2048, global_batch=int(row["global_batch"]),
                        gpus=int(row["gpus"]), tp=int(row["tp"]), pp=pp,
                        vpp=m.layers // (pp * per_chunk) if per_chunk else 1,
                        recompute="full", micro_batch=mbs, engine=eng)
    return float(r["hw_tflops_per_gpu"]) / float(row["achieved_tflops_per_gpu"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sc21", action="store_true", help="Narayanan rows as run_table_1.sh")
    args = ap.parse_args()
    print("Narayanan 2021 Table 1: predicted / published achieved TFLOP/s per GPU (HFU rate)")
    for row in NARAYANAN:
        got = float(narayanan_best(row)["hw_tflops_per_gpu"])  # type: ignore[arg-type]
        print(f"  {row['params_b']:>7}B  {got:7.1f} / {row['achieved_tflops_per_gpu']:>5}"
              f"  = {got / float(row['achieved_tflops_per_gpu']):.3f}"
              + (f"   sc21 {sc21_ratio(row):.3f}" if args.sc21 else ""))
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
