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
kernels keep 0.52 of the peak fraction they reach on A100.

A Hopper-native kernel (``Engine.hopper_attention``: Transformer Engine prefers its cuDNN
fused-attention backend, ``F16_arbitrary_seqlen``, over FlashAttention on sm90) is priced from
cuDNN's published causal BF16 rates on Hopper.  Level: the Megatron-Core MoE report (arXiv
2603.07685 v2, Table 9, "SDPA performance in cuDNN", DeepSeek-V3, on its Hopper platform, the
H100: sec. 1.4 names GB200 and H100) at 4k and 16k tokens, forward and backward, linear in
``log2`` between (mask and FLOP count not stated; DeepSeek-V3 trains causal).  Shape outside
them: cuDNN's own causal sweep on one H200 (NVIDIA cudnn-frontend ``benchmark/
sdpa_benchmark_training/results/h200_919_only_cudnn/llama3.1_20260227_034703.csv`` @df73764a;
cuDNN 9.19.1, batch 1, 64 query and 8 key/value heads of 128, query length 2k-32k, FLOPs counted
as above: the causal half of ``4 s^2 d h`` forward, 2.5x that backward), relative to its rate at
the nearer Table 9 length, held past 32k (the same benchmark's 2024 cuDNN 9.1 rows stay flat from
16k to 64k).  The newer cuDNN on the H200 runs 6-7 % faster forward and 10-11 % faster backward
than Table 9 at both lengths; the rise from 4k to 16k is nearly the same (+14 %/+22 % against
Table 9's +15 %/+24 %).  Head dimensions below 128 keep
FlashAttention-2's measured A100 ratio to head dimension 128 (no Hopper measurement in text); at
128 and above, the measured rate (cuDNN's 192/128 forward on the H200 is within 1 % of its 128).
The rates are fractions of the H100's dense BF16 peak at its sustained clock, applied like the
A100 ones.  The former constant (FlashAttention-3's speed-up over FlashAttention-2, Shah et al.
2024 sec. 4.1) kept FlashAttention-2's A100 shape, flat past 4k; ``bench_flash_rate.py`` prints
both next to every published Hopper point (``tests/data/planner/hopper_attention_rates.csv``).
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
#: Query lengths of cuDNN's published causal sweep on one H200 (module docstring).
HOPPER_SEQS = np.array([2048.0, 4096.0, 8192.0, 16384.0, 32768.0])
#: cuDNN 9.19.1 causal BF16 TFLOP/s on that H200, head dimension 128: the length shape.
CUDNN_HOPPER = {
    "fwd": np.array([484.0, 591.0, 644.0, 673.0, 688.0]),
    "bwd": np.array([370.0, 474.0, 541.0, 579.0, 581.0]),
}
#: Query lengths of the Megatron-Core MoE report's Table 9 (arXiv 2603.07685 v2).
H100_SEQS = np.array([4096.0, 16384.0])
#: Table 9's cuDNN SDPA TFLOP/s on Hopper (the report's H100), DeepSeek-V3: the level.
CUDNN_H100 = {"fwd": np.array([553.0, 638.0]), "bwd": np.array([422.0, 523.0])}
#: The chip Table 9 ran on.
CUDNN_H100_CHIP = "H100-SXM"
#: Query rows per thread block and key rows per step (FlashAttention-2's and the Triton port's
#: ``BLOCK_M`` = ``BLOCK_N`` = 128 at head dimensions 64-128).
BLOCK = 128.0


def backward_rate(fwd: np.ndarray, fwd_bwd: np.ndarray) -> np.ndarray:
    """Backward TFLOP/s from the forward and forward + backward rates of the same call
    (backward runs 2.5x the forward's FLOPs)."""
    return 2.5 / (3.5 / fwd_bwd - 1.0 / fwd)


def _log2_interp(seq: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``ys`` measured at ``xs``, linear in ``log2`` of the length, held at the ends."""
    x = np.log2(np.clip(np.asarray(seq, dtype=float), xs[0], xs[-1]))
    return np.asarray(np.interp(x, np.log2(xs), ys), dtype=float)


def _at_length(seq: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` measured at :data:`SEQS` (:func:`_log2_interp`)."""
    return _log2_interp(seq, SEQS, values)


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


@cache
def _cudnn_chip() -> tuple[float, float]:
    """Dense BF16 peak and sustained clock ratio of the chip Table 9 ran on."""
    acc = get_accelerator(CUDNN_H100_CHIP)
    return acc.dense_bf16_tflops, sustained_clock_ratio(acc)


def hopper_native_tflops(seq: np.ndarray, direction: str) -> np.ndarray:
    """cuDNN's causal TFLOP/s on the H100 at head dimension 128: Table 9 at its lengths (linear
    in ``log2`` between), outside them times the H200 sweep's rate relative to the nearer one."""
    seq = np.asarray(seq, dtype=float)
    near = np.clip(seq, H100_SEQS[0], H100_SEQS[-1])
    shape = CUDNN_HOPPER[direction]
    level = _log2_interp(near, H100_SEQS, CUDNN_H100[direction])
    rel = _log2_interp(seq, HOPPER_SEQS, shape) / _log2_interp(near, HOPPER_SEQS, shape)
    return np.asarray(level * rel, dtype=float)


def hopper_native_fraction(seq: np.ndarray, head_dim: float, direction: str) -> np.ndarray:
    """Fraction of the H100's dense BF16 peak cuDNN's causal kernel reaches at query length
    ``seq``; below head dimension 128 scaled by FlashAttention-2's measured A100 ratio to 128."""
    ratio = peak_fraction(seq, min(float(head_dim), 128.0), direction) / peak_fraction(
        seq, 128.0, direction
    )
    return np.asarray(hopper_native_tflops(seq, direction) / _cudnn_chip()[0] * ratio)


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
    if acc.name in HOPPER and hopper_native and generation >= 2:
        frac = hopper_native_fraction(seq, head_dim, direction)
        clock = sustained_clock_ratio(acc) / _cudnn_chip()[1]
    else:
        frac = peak_fraction(seq, head_dim, direction, generation)
        if acc.name in HOPPER:
            frac = frac * AMPERE_KERNEL_ON_HOPPER
        clock = sustained_clock_ratio(acc) / _a100_clock()
    tiles = np.ceil(np.asarray(seq, dtype=float) / BLOCK) * np.ceil(kv_len / BLOCK) * heads
    rate = acc.dense_bf16_tflops * clock * frac * _wave_fraction(tiles, sm_count(acc))
    return np.asarray(rate, dtype=float)
