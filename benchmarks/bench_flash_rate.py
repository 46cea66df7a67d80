"""The planner's flash-attention core rate next to the published kernel timings it comes from.

Dao 2023 (FlashAttention-2, arXiv 2307.08691 sec. 4.1) benchmark: one A100 80GB SXM4, hidden
2048 (32 heads of 64 or 16 of 128), batch x sequence = 16k tokens, causal mask.  Printed per
head dimension and sequence length, TFLOP/s (FLOPs counted as the paper counts them):

* A100: the model's forward / backward / forward + backward rate next to FlashAttention-2's
  (Fig. 5 c-d forward, Fig. 4 c-d forward + backward), and the model's first-generation
  forward + backward next to FlashAttention (CUDA) and "FlashAttention Triton" (Fig. 4 c, head
  dimension 64 only; the model uses the CUDA kernel's rate, see ``planner.flash_rate``);
* the seq x seq x head-dim GEMM proxy the planner used before (``Hardware.gemm_time`` per FLOP,
  forward = backward, first generation at half the rate) for comparison;
* H100 SXM: the model's rate for an Ampere-instruction kernel (FlashAttention-2, the Triton
  port) and for a Hopper-native one (Transformer Engine's cuDNN attention, FlashAttention-3
  class).  Published: FlashAttention-2 "up to 335" forward + backward (Dao 2023 Fig. 7, no
  causal panel values transcribed here); FlashAttention-3 at 16k, head dimension 128, causal
  forward ~616 at a fixed 1830 MHz clock (Shah et al. 2024 Fig. 5 d, as transcribed);
* every published Hopper cuDNN point in ``tests/data/planner/hopper_attention_rates.csv``
  (the Megatron-Core MoE report's Table 9 on H100, the model's level at 4k/16k; cuDNN's causal
  sweep on one H200, its length shape outside them; and as checks only cuDNN's DeepSeek-V3 MLA
  shape on that H200 and cuDNN 9.1's 2024 sweep on an unnamed chip) next to the model and to
  the former Hopper-native model (the Ampere-kernel share times FlashAttention-3's speed-up,
  Shah et al. 2024 sec. 4.1 midpoints);
* every published FlashAttention-2-class point on Hopper in
  ``tests/data/planner/hopper_fa2_rates.csv`` (checks only: Triton PR #2459's H100 tutorial run
  at 1k/2k, and the PyTorch SDPA column of cuDNN 9.1's 2024 sweep, chip unstated, 4k-64k) next
  to the model's Ampere-instruction rate.

Validation of the transcription and the interpolation only: the model takes these numbers as
its input, so A100 agrees by construction.

    .venv/bin/python benchmarks/bench_flash_rate.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gpuwise.catalog.loader import get_accelerator
from gpuwise.planner.flash_rate import (
    FA1_FWD_BWD_64,
    FA2_FWD,
    FA2_FWD_BWD,
    SEQS,
    flash_tflops,
)
from gpuwise.planner.hardware import Hardware

#: Published Hopper fused-attention rates (SOURCE.md, "Hopper fused attention").
RATES = Path(__file__).parents[1] / "tests" / "data" / "planner" / "hopper_attention_rates.csv"
#: Published FlashAttention-2-class rates on Hopper (SOURCE.md, ``hopper_fa2_rates.csv``).
FA2_RATES = RATES.with_name("hopper_fa2_rates.csv")
#: The former Hopper-native model: FlashAttention-2 on Hopper times FlashAttention-3's speed-up
#: (Shah et al. 2024 sec. 4.1: "1.5-2.0x" forward, "1.5-1.75x" backward; midpoints).
FORMER_SPEEDUP = {"fwd": 1.75, "bwd": 1.625}

#: "FlashAttention Triton", causal forward + backward, head dimension 64 (Dao 2023 Fig. 4 c).
TRITON_FWD_BWD_64 = np.array([59.0, 75.0, 79.0, 76.0, 79.0, 67.0])


def _rates(acc_name: str, d: int, gen: int = 2, native: bool = False) -> tuple[np.ndarray, ...]:
    acc = get_accelerator(acc_name)
    heads = 16384 / SEQS * (2048 / d)
    fwd = flash_tflops(acc, SEQS, SEQS, d, heads, "fwd", gen, native)
    bwd = flash_tflops(acc, SEQS, SEQS, d, heads, "bwd", gen, native)
    return fwd, bwd, 3.5 / (1 / fwd + 2.5 / bwd)


def _proxy(acc_name: str, d: int) -> np.ndarray:
    """The former GEMM proxy: forward (= backward) TFLOP/s of the seq x seq x d GEMM shape."""
    hw = Hardware.from_catalog(get_accelerator(acc_name))
    heads = 16384 / SEQS * (2048 / d)
    t = hw.gemm_time(SEQS, SEQS, d * np.ones(len(SEQS)), "bf16", heads)
    return np.asarray(2.0 * SEQS * SEQS * d * heads / t / 1e12)


def _row(label: str, values: np.ndarray) -> str:
    return f"  {label:34s}" + "".join(f"{v:7.0f}" for v in values)


def hopper_points() -> list[tuple[str, ...]]:
    """Each published Hopper point with the model's and the former model's rate."""
    out = []
    with RATES.open() as f:
        for r in csv.DictReader(f):
            acc = get_accelerator("H100-SXM" if r["gpu"] == "unstated" else r["gpu"])
            seq = np.array([float(r["seq"])])
            heads = np.array([float(r["batch"] or 1) * float(r["q_heads"])])
            d, way = float(r["head_dim_qk"]), r["direction"]
            new = flash_tflops(acc, seq, seq, d, heads, way, 2, True)[0]
            old = flash_tflops(acc, seq, seq, d, heads, way, 2, False)[0] * FORMER_SPEEDUP[way]
            pub = float(r["tflops"])
            det = " det" if r["deterministic"] == "yes" else ""
            out.append((r["source"], r["gpu"], r["shape"], r["seq"], way + det, f"{pub:.0f}",
                        f"{new:.0f}", f"{new / pub:.2f}", f"{old:.0f}", f"{old / pub:.2f}"))
    return out


def fa2_points() -> list[tuple[str, ...]]:
    """Each published FlashAttention-2-class Hopper point with the model's Ampere-instruction
    rate (an unnamed chip, or an H100 of unstated form, is modelled as H100-SXM)."""
    out = []
    with FA2_RATES.open() as f:
        for r in csv.DictReader(f):
            acc = get_accelerator("H100-SXM" if r["gpu"] in ("unstated", "H100") else r["gpu"])
            seq = np.array([float(r["seq"])])
            heads = np.array([float(r["batch"]) * float(r["q_heads"])])
            way = r["direction"]
            model = flash_tflops(acc, seq, seq, float(r["head_dim"]), heads, way, 2, False)[0]
            pub = float(r["tflops"])
            out.append((r["source"], r["gpu"], r["head_dim"], r["seq"], way, f"{pub:.0f}",
                        f"{model:.0f}", f"{model / pub:.2f}"))
    return out


def main() -> None:
    head = "  " + " " * 34 + "".join(f"{int(s):7d}" for s in SEQS)
    for d in (64, 128):
        print(f"A100-80GB, head dim {d}, causal, TFLOP/s by sequence length")
        print(head)
        fwd, bwd, fb = _rates("A100-80GB", d)
        print(_row("model FA2 fwd", fwd))
        print(_row("published FA2 fwd (Fig. 5)", FA2_FWD[d]))
        print(_row("model FA2 bwd", bwd))
        print(_row("model FA2 fwd+bwd", fb))
        print(_row("published FA2 fwd+bwd (Fig. 4)", FA2_FWD_BWD[d]))
        print(_row("former GEMM proxy fwd (= bwd)", _proxy("A100-80GB", d)))
        _, _, fb1 = _rates("A100-80GB", d, gen=1)
        print(_row("model first generation fwd+bwd", fb1))
        if d == 64:
            print(_row("published FA1 CUDA fwd+bwd (Fig. 4)", FA1_FWD_BWD_64))
            print(_row("published FA Triton fwd+bwd (Fig. 4)", TRITON_FWD_BWD_64))
        print(_row("former proxy first generation", _proxy("A100-80GB", d) / 2.0))
    for d in (64, 128):
        print(f"H100-SXM, head dim {d}, causal, TFLOP/s by sequence length")
        print(head)
        for label, gen, native in (
            ("Ampere-instruction FA2", 2, False),
            ("Hopper-native (TE cuDNN)", 2, True),
            ("first generation", 1, False),
        ):
            fwd, bwd, fb = _rates("H100-SXM", d, gen, native)
            print(_row(f"model {label} fwd", fwd))
            print(_row(f"model {label} bwd", bwd))
        print(_row("former GEMM proxy fwd (= bwd)", _proxy("H100-SXM", d)))
    print("published H100: FA2 fwd+bwd up to 335 (Dao 2023 Fig. 7); FA3 fwd, head dim 128,")
    print("causal, 16k: ~616 at a fixed 1830 MHz (Shah et al. 2024 Fig. 5 d)")
    print("Published Hopper cuDNN fused attention (causal, BF16) vs the Hopper-native model;")
    print("'former' = FA2-on-Hopper x FA3 speed-up; 'det' = deterministic backward; the")
    print("unnamed chip of cuDNN 9.1's sweep is modelled as H100-SXM (= H200 in the catalog)")
    cols = ("source", "gpu", "shape", "seq", "dir", "pub", "model", "ratio", "former", "ratio")
    widths = (30, 10, 11, 6, 9, 5, 6, 6, 7, 6)
    print("  " + "".join(f"{c:>{w}s}" for c, w in zip(cols, widths, strict=True)))
    for row in hopper_points():
        print("  " + "".join(f"{c:>{w}s}" for c, w in zip(row, widths, strict=True)))
    print("Published FlashAttention-2-class rates on Hopper (causal) vs the Ampere-instruction")
    print("model (checks only; 'unstated' chip and Triton's 'H100' modelled as H100-SXM)")
    cols = ("source", "gpu", "d", "seq", "dir", "pub", "model", "ratio")
    widths = (26, 10, 5, 7, 5, 6, 7, 7)
    print("  " + "".join(f"{c:>{w}s}" for c, w in zip(cols, widths, strict=True)))
    for row in fa2_points():
        print("  " + "".join(f"{c:>{w}s}" for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
