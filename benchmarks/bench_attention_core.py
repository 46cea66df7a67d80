"""The planner's unfused attention core against its published microbenchmark.

Dao et al. 2022 (FlashAttention, arXiv 2205.14135v2, appendix E.6, Tables 9-20) time the
attention call alone -- "Megatron" (Megatron-LM's fused softmax) and "PyTorch Attention" --
on one A100-SXM4-40GB in FP16, 8 heads of dimension 64, batch 16, dropout 0.1, mean of 100
calls, forward and backward separately.  This prints the planner's modelled time of the same
shapes (:func:`gpuwise.planner.unfused_attention.unfused_attention` on the catalog's
A100-40GB) next to those times.  Validation only: nothing in the model is fitted to it.

The padded-mask tables (9/10, 12/13) are left out: a causal GPT runs Megatron's
upper-triangular kernel, which reads no mask, and the model has no padding-mask term.

    .venv/bin/python benchmarks/bench_attention_core.py
"""

from __future__ import annotations

import argparse

import numpy as np

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.unfused_attention import unfused_attention

BATCH, HEADS, HEAD_DIM = 16, 8, 64
SEQS = (128, 256, 512, 1024, 2048)
#: (dropout, method) -> (forward ms, backward ms) per sequence length in SEQS, transcribed from
#: arXiv 2205.14135v2 Tables 15/16 (dropout, no mask) and 18/19 (no dropout, no mask).
PUBLISHED: dict[tuple[bool, str], tuple[tuple[float, ...], tuple[float, ...]]] = {
    (True, "Megatron"): ((0.27, 0.27, 0.56, 1.88, 6.56), (0.28, 0.33, 0.92, 2.94, 10.80)),
    (True, "PyTorch"): ((0.26, 0.24, 0.57, 1.80, 6.56), (0.44, 0.35, 0.90, 2.94, 10.77)),
    (False, "Megatron"): ((0.24, 0.26, 0.42, 1.33, 4.28), (0.29, 0.30, 0.80, 2.59, 8.86)),
    (False, "PyTorch"): ((0.21, 0.22, 0.43, 1.27, 4.32), (0.26, 0.29, 0.78, 2.44, 8.82)),
}


def modelled_ms(hw: Hardware, seq: int, dropout: bool) -> tuple[float, float]:
    """Planner forward and backward milliseconds of the attention core at ``seq``."""
    heads = np.array([float(BATCH * HEADS)])
    core = unfused_attention(
        hw, heads, np.array([float(seq)]), float(seq), HEAD_DIM, HEAD_DIM, dropout
    )
    fwd = core.gemm_f + hw.stream_time(core.scores_bytes_f)
    bwd = core.gemm_b + hw.stream_time(core.scores_bytes_b)
    return 1e3 * float(fwd[0]), 1e3 * float(bwd[0])


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    hw = Hardware.from_catalog(get_accelerator("A100-40GB"))
    print(f"A100-40GB, batch {BATCH}, {HEADS} heads x {HEAD_DIM}: model ms / published ms"
          " (ratio model/published)")
    for dropout in (True, False):
        for method in ("Megatron", "PyTorch"):
            pub_f, pub_b = PUBLISHED[(dropout, method)]
            print(f"{method:<9} dropout {'0.1' if dropout else 'none'}")
            for i, seq in enumerate(SEQS):
                f, b = modelled_ms(hw, seq, dropout)
                print(f"  s {seq:>5}  fwd {f:6.2f} / {pub_f[i]:6.2f} ({f / pub_f[i]:.2f})"
                      f"  bwd {b:6.2f} / {pub_b[i]:6.2f} ({b / pub_b[i]:.2f})")


if __name__ == "__main__":
    main()
