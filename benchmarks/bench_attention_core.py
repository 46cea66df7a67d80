"""The planner's unfused attention core against published measurements of it.

1. Dao et al. 2022 (FlashAttention, arXiv 2205.14135v2, appendix E.6) time the attention call
   alone -- "Megatron" (Megatron-LM's fused softmax) and "PyTorch Attention" -- on one
   A100-SXM4-40GB in FP16, 8 heads of dimension 64, batch 16, dropout 0.1, forward and backward
   separately (``tests/data/planner/dao2022_attention_a100.csv``).  Printed: the rows without
   the padding mask (a causal GPT runs Megatron's upper-triangular kernel, which reads no mask,
   and the model has no padding-mask term).  Without a mask both methods run ``torch.softmax``:
   Megatron-LM's ``FusedScaleMaskSoftmax`` uses its fused kernel only when given a mask
   (``megatron/model/fused_softmax.py`` @aed2f75e), so these rows are modelled with PyTorch's
   softmax (``unfused_attention.TORCH_SOFTMAX_BYTES``: two kernels backward).
   With the padding mask, Megatron's method does run its fused kernel (``ScaledMaskedSoftmax``),
   whose backward reads only the gradient and the saved probabilities, so those rows check the
   fused kernel's backward; their forward also reads and applies the mask, which the model
   has no term for, so only the backward is printed.
2. Korthikanti et al. 2022 (arXiv 2205.05198) Table 4, 22B per layer on A100-80GB: selective
   recompute adds 1.3 ms to the backward pass (13.2 vs 11.9 ms; with sequence parallelism 13.1
   vs 11.8 ms) -- the attention core's forward run once more.  Independent of item 1, which
   is the source of the forward dropout's random-number rate (``planner.dropout_rng``): the
   dropout rows' forward therefore checks only the rest of the core.
3. Implied kernel rates (diagnostic, :func:`implied_rates`): the HBM rate, as a fraction of the
   datasheet bandwidth, that Dao et al.'s unmasked rows leave to one kernel class -- dropout
   from the difference of the rows with and without it (same softmax, same GEMMs), and
   ``torch.softmax`` from the rows without dropout less the modelled GEMMs.  Where a class's
   implied rate sits below the model's stream rate (``Hardware.mem_bw_gbs``), that class is
   where the model's missing time would be; a published microbenchmark of the class, not these
   numbers, would be the source for a term.

Each is printed next to the planner's modelled time
(:func:`gpuwise.planner.unfused_attention.unfused_attention`).  Validation only: nothing in
the model is fitted to these numbers.

    .venv/bin/python benchmarks/bench_attention_core.py
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.dropout_rng import rng_excess
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import single
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup
from gpuwise.planner.unfused_attention import (
    DROPOUT_BYTES,
    TORCH_SOFTMAX_BYTES,
    unfused_attention,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "planner"
BATCH, HEADS, HEAD_DIM = 16, 8, 64  # Dao et al. appendix E.6 setup
#: Korthikanti et al. Table 4, 22B: backward ms with selective recompute minus without
K22_SELECTIVE_MS = 13.2 - 11.9


def published_rows(padding_mask: str = "0") -> list[dict[str, str]]:
    """Dao et al.'s rows without (``"0"``) or with (``"1"``) the padding mask
    (``dao2022_attention_a100.csv``)."""
    rows = csv.DictReader((DATA / "dao2022_attention_a100.csv").open())
    return [r for r in rows if r["padding_mask"] == padding_mask]


def modelled_ms(
    hw: Hardware, seq: int, dropout: bool, softmax: str = "torch"
) -> tuple[float, float]:
    """Planner forward and backward milliseconds of Dao et al.'s attention call at ``seq``."""
    core = unfused_attention(
        hw, np.array([float(BATCH * HEADS)]), np.array([float(seq)]), float(seq),
        HEAD_DIM, HEAD_DIM, dropout, softmax,
    )
    rng = rng_excess(hw, core.dropout_bytes_f / DROPOUT_BYTES, DROPOUT_BYTES)
    fwd = core.gemm_f + hw.stream_time(core.scores_bytes_f) + rng
    bwd = core.gemm_b + hw.stream_time(core.scores_bytes_b)
    return 1e3 * float(fwd[0]), 1e3 * float(bwd[0])


def korthikanti_22b_recompute_ms() -> float:
    """The planner's selective-recompute time per layer for Korthikanti's 22B row (TP 8,
    micro-batch 4, sequence 2048, ``megatron-2022``): the attention core's forward."""
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    setup = Setup(2048, 4, 8, 8, 25.0, 0.05, ENGINES["megatron-2022"], None)
    c = single(1, 8, 1, 1, 1, 1, 0, "selective", 4, "bf16")
    lt = layer_times(get_model("gpt-22b"), False, c, setup, hw)
    return 1e3 * float(lt["attn_f"][0] + lt["scores_f"][0])


def implied_rates(hw: Hardware) -> list[tuple[int, str, float, float]]:
    """``(seq, kernel class, forward fraction, backward fraction)`` of the datasheet HBM
    bandwidth that Dao et al.'s unmasked rows at ``seq`` >= 2048 imply for dropout and for
    ``torch.softmax`` (module docstring, item 3); bytes as ``unfused_attention`` counts them."""
    rows = {(r["method"], r["dropout"], int(r["seq"])): r for r in published_rows()}
    peak = hw.acc.mem_bw_gbs * 1e9
    out = []
    for (method, dropout, seq), r in sorted(rows.items(), key=lambda kv: kv[0][2]):
        if method != "PyTorch" or dropout != "0" or seq < 2048:
            continue
        elems = float(BATCH * HEADS) * seq * seq
        core = unfused_attention(
            hw, np.array([float(BATCH * HEADS)]), np.array([float(seq)]), float(seq),
            HEAD_DIM, HEAD_DIM, False, "torch",
        )
        soft_f, soft_b = TORCH_SOFTMAX_BYTES
        t_f = 1e-3 * float(r["fwd_ms"]) - float(core.gemm_f[0])
        t_b = 1e-3 * float(r["bwd_ms"]) - float(core.gemm_b[0])
        out.append((seq, "torch.softmax", soft_f * elems / t_f / peak,
                    soft_b * elems / t_b / peak))
        drop = rows.get((method, "1", seq))
        if drop is not None:
            d_f = 1e-3 * (float(drop["fwd_ms"]) - float(r["fwd_ms"]))
            d_b = 1e-3 * (float(drop["bwd_ms"]) - float(r["bwd_ms"]))
            byts = DROPOUT_BYTES * elems
            out.append((seq, "dropout", byts / d_f / peak, byts / d_b / peak))
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    hw = Hardware.from_catalog(get_accelerator("A100-40GB"))
    print(f"Dao et al. 2022 E.6, A100-40GB FP16, batch {BATCH}, {HEADS} heads x {HEAD_DIM}:"
          " model ms / published ms (model/published)")
    for r in published_rows():
        seq, dropout = int(r["seq"]), r["dropout"] == "1"
        f, b = modelled_ms(hw, seq, dropout)
        pf, pb = float(r["fwd_ms"]), float(r["bwd_ms"])
        print(f"  {r['method']:<8} dropout {'0.1 ' if dropout else 'none'} s {seq:>5}"
              f"  fwd {f:6.2f} / {pf:6.2f} ({f / pf:.2f})  bwd {b:6.2f} / {pb:6.2f} ({b / pb:.2f})")
    print("  Megatron with the padding mask (its fused softmax kernel): backward only")
    for r in published_rows("1"):
        if r["method"] != "Megatron":
            continue
        seq, dropout = int(r["seq"]), r["dropout"] == "1"
        b, pb = modelled_ms(hw, seq, dropout, "fused")[1], float(r["bwd_ms"])
        print(f"  {r['method']:<8} dropout {'0.1 ' if dropout else 'none'} s {seq:>5}"
              f"  bwd {b:6.2f} / {pb:6.2f} ({b / pb:.2f})")
    print(f"Implied HBM rate / datasheet {hw.acc.mem_bw_gbs:.0f} GB/s, PyTorch unmasked rows"
          f" (the model streams at {hw.mem_bw_gbs / hw.acc.mem_bw_gbs:.2f}):")
    for seq, kind, frac_f, frac_b in implied_rates(hw):
        print(f"  s {seq:>5}  {kind:<13}  fwd {frac_f:.2f}  bwd {frac_b:.2f}")
    k = korthikanti_22b_recompute_ms()
    print("Korthikanti et al. 2022 Table 4, 22B per layer (A100-80GB): selective recompute"
          f" model {k:.2f} ms / published {K22_SELECTIVE_MS:.1f} ms ({k / K22_SELECTIVE_MS:.2f})")


if __name__ == "__main__":
    main()
