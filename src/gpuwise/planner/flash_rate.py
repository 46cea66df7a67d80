"""Rate of the fused (flash) attention core without a device profile, from published timings
of the kernels themselves (microbenchmarks of the attention call alone, not training runs).

Dao 2023 (FlashAttention-2, arXiv 2307.08691 sec. 4.1) times the attention call on one A100
80GB SXM4: hidden 2048 (32 heads of 64 or 16 of 128), batch x sequence = 16k tokens, sequence
512 to 16k, FLOPs counted as ``4 s^2 d h`` (halved with a causal mask) forward and 2.5x that
backward -- the count ``gpuwise.planner.time`` uses.  Causal panels, TFLOP/s: Figure 5 (c, d)
FlashAttention-2 forward; Figure 4 (c, d) FlashAttention-2 forward + backward; Figure 4 (c)
also the first FlashAttention (CUDA) forward + backward at head dimension 64.  The backward
rate follows from the two: ``3.5 / fwd_bwd = 1 / fwd + 2.5 / bwd``.  Values are the numbers
printed on the bars (two independent transcriptions of the head-dimension-64 causal panel of
Figure 4 agree bar for bar).

Model, per direction: the measured rate as a fraction of the A100's dense BF16 peak (312
TFLOP/s) by head dimension (linear between 64 and 128, held outside) and query length (linear
in ``log2`` between the measured lengths, held at the ends), times the chip's dense BF16 peak,
its sustained clock relative to the A100's (the GEMMs' power-limited clock model,
:func:`gpuwise.planner.efficiency.sustained_clock_ratio`) and the wave quantization of the
kernel's one grid over every (batch, head) pair, counted in 128 x 128 (query tile, key block)
units as :func:`gpuwise.planner.efficiency.gemm_time_s` counts a GEMM's output tiles (the
benchmark's own grid fills its waves).

First generation (``Engine.flash_generation`` 1): the first FlashAttention's forward + backward
rate relative to FlashAttention-2's, measured per sequence length at head dimension 64 (Fig.
4 c: 0.66x at 512, 0.57x at 16k), at every head dimension and in both directions.  llm-foundry's
Triton port (``llmfoundry/models/layers/flash_attn_triton.py``, copied from flash-attention's
``flash_attn_triton.py`` and run on ``triton_pre_mlir``, the Triton it was tested with) states
that its "forward + backward is slightly slower than CUDA forward + backward"; the same figure's
"FlashAttention Triton" bars, run on a later Triton, fall to 0.39x at 16k (not used; see
``benchmarks/bench_flash_rate.py``).

Hopper: FlashAttention-2 and the Triton port issue Ampere's ``mma.sync`` there.  Dao 2023 sec.
4.1 runs "the same implementation on H100 GPUs (using no special instructions ...)" at "up to
335 TFLOPs/s" (Fig. 7) against the A100's best 203 (Fig. 4 b): 1.65x for 3.17x the peak, so such
kernels keep 0.52 of the peak fraction they reach on A100.  A Hopper-native kernel
(``Engine.hopper_attention``: Transformer Engine prefers cuDNN's fused attention on sm90) is
FlashAttention-3-class: Shah et al. 2024 (arXiv 2407.08608 sec. 4.1) are "1.5-2.0x faster than
FlashAttention-2 in the forward pass and 1.5-1.75x faster in the backward pass" on H100, with
cuDNN close behind (Fig. 5); the midpoints are used.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from gpuwise.catalog import Accelerator, get_accelerator
from gpuwise.planner.efficiency import _wave_fraction, sm_count, sustained_clock_ratio

#: Sequence lengths of the benchmark (Dao 2023 sec. 4.1).
SEQS = np.array([512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0])
#: FlashAttention-2 causal forward TFLOP/s on A100 80GB SXM4 by head dimension (Fig. 5 c, d).
FA2_FWD = {
    64: np.array([115.0, 146.0, 167.0, 177.0, 181.0, 183.0]),
    128: np.array([132.0, 164.0, 187.0, 198.0, 200.0, 197.0]),
}
#: FlashAttention-2 causal forward + backward TFLOP/s on A100 80GB SXM4 (Fig. 4 c, d).
FA2_FWD_BWD = {
    64: np.array([88.0, 119.0, 140.0, 156.0, 165.0, 171.0]),
    128: np.array([99.0, 133.0, 155.0, 173.0, 182.0, 189.0]),
}
#: FlashAttention (first generation, CUDA) causal forward + backward TFLOP/s, head dimension
#: 64, same benchmark (Fig. 4 c).
FA1_FWD_BWD_64 = np.array([58.0, 70.0, 77.0, 87.0, 92.0, 97.0])
#: Dense BF16 peak of the benchmark's A100 (TFLOP/s).
A100_PEAK = 312.0
#: Chips with Hopper's SM (wgmma/TMA), where Ampere-instruction kernels reach a lower fraction.
HOPPER = frozenset({"H100-SXM", "H100-PCIe", "H800", "H200", "H20"})
#: Peak fraction an Ampere-instruction kernel keeps on Hopper: FlashAttention-2's best forward +
#: backward rate on H100 SXM5 over its best on A100 (335 / 203, Dao 2023 Fig. 7 / Fig. 4 b),
#: over the ratio of their dense BF16 peaks (989.4 / 312).
AMPERE_KERNEL_ON_HOPPER = (335.0 / 203.0) / (989.4 / A100_PEAK)
#: A Hopper-native kernel against FlashAttention-2 on H100 (Shah et al. 2024 sec. 4.1, the
#: midpoints of "1.5-2.0x" forward and "1.5-1.75x" backward).
HOPPER_NATIVE_SPEEDUP = {"fwd": 1.75, "bwd": 1.625}
#: Query rows per thread block and key rows per step (FlashAttention-2's and the Triton port's
#: ``BLOCK_M`` = ``BLOCK_N`` = 128 at head dimensions 64-128).
BLOCK = 128.0


def backward_rate(fwd: np.ndarray, fwd_bwd: np.ndarray) -> np.ndarray:
    """Backward TFLOP/s from the forward and forward + backward rates of the same call
    (backward runs 2.5x the forward's FLOPs)."""
    return 2.5 / (3.5 / fwd_bwd - 1.0 / fwd)


def _at_length(seq: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` measured at :data:`SEQS`, linear in ``log2`` of the length, held at the ends."""
    x = np.log2(np.clip(np.asarray(seq, dtype=float), SEQS[0], SEQS[-1]))
    return np.asarray(np.interp(x, np.log2(SEQS), values), dtype=float)


def first_generation_share(seq: np.ndarray) -> np.ndarray:
    """Rate of the first FlashAttention relative to FlashAttention-2 at query length ``seq``
    (forward + backward, head dimension 64, Fig. 4 c): applied to every head dimension and
    direction, and to a profile's measured (FlashAttention-2-class) SDPA rates."""
    return _at_length(seq, FA1_FWD_BWD_64 / FA2_FWD_BWD[64])


def measured_tflops(head_dim: int, direction: str) -> np.ndarray:
    """A100 FlashAttention-2 TFLOP/s at :data:`SEQS` for head dimension 64 or 128,
    ``direction`` "fwd"/"bwd"."""
    fwd = FA2_FWD[head_dim]
    return fwd if direction == "fwd" else backward_rate(fwd, FA2_FWD_BWD[head_dim])


def peak_fraction(
    seq: np.ndarray, head_dim: float, direction: str, generation: int = 2
) -> np.ndarray:
    """Fraction of the A100's dense BF16 peak the causal kernel reached at query length ``seq``
    (interpolated as the module docstring says)."""
    lo, hi = (_at_length(seq, measured_tflops(d, direction)) for d in (64, 128))
    w = min(1.0, max(0.0, (float(head_dim) - 64.0) / 64.0))
    frac = ((1.0 - w) * lo + w * hi) / A100_PEAK
    if generation < 2:
        frac = frac * first_generation_share(seq)
    return np.asarray(frac, dtype=float)


@cache
def _a100_clock() -> float:
    return sustained_clock_ratio(get_accelerator("A100-80GB"))


def flash_tflops(
    acc: Accelerator,
    seq: np.ndarray,
    kv_len: np.ndarray,
    head_dim: float,
    heads: np.ndarray,
    direction: str,
    generation: int = 2,
    hopper_native: bool = False,
) -> np.ndarray:
    """Modelled TFLOP/s of the causal flash-attention core on ``acc``: ``heads`` (batch x heads)
    sequences of ``seq`` queries against ``kv_len`` keys at head dimension ``head_dim``."""
    frac = peak_fraction(seq, head_dim, direction, generation)
    if acc.name in HOPPER:
        frac = frac * AMPERE_KERNEL_ON_HOPPER
        if hopper_native and generation >= 2:
            frac = frac * HOPPER_NATIVE_SPEEDUP[direction]
    clock = sustained_clock_ratio(acc) / _a100_clock()
    tiles = np.ceil(np.asarray(seq, dtype=float) / BLOCK) * np.ceil(kv_len / BLOCK) * heads
    rate = acc.dense_bf16_tflops * clock * frac * _wave_fraction(tiles, sm_count(acc))
    return np.asarray(rate, dtype=float)
