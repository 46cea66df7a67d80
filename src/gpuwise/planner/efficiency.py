"""Achievable throughput of one accelerator: GEMMs, memory streams and links.

One model for every chip; the only per-chip inputs are catalog numbers (dense peak per
precision, HBM bandwidth, link bandwidth) plus, in ``efficiency.yaml``, the measured
large-GEMM ceiling (a public microbenchmark, not a training result) and the SM count (a
datasheet figure).  No constant here was fitted to the validation tables.

Why a fixed "MFU" is wrong, from first principles
-------------------------------------------------
A training step is a mix of (a) large GEMMs, bounded by tensor-core throughput, and (b)
memory-bound work -- norms, activations, residual adds, softmax, the optimizer update --
bounded by HBM bandwidth, plus (c) collectives bounded by link bandwidth.

1. *Sustained large-GEMM ceiling.*  Tensor cores reach their datasheet peak only at the boost
   clock.  A short matmul burst reaches the measured MAMF ceiling (A100 85.9 %, H100 80.1 % of
   peak); training is one long saturated run, during which the board sits at its power limit
   and the clock settles lower (NVIDIA's HPL Rpeak for A100 uses the 1305 MHz clock it sustains
   at 400 W, not 1410 MHz; on H200 the sustained matmul rate is 0.85x the burst one).  The more
   tensor FLOP/s a chip packs per watt -- 1.41 TFLOP/s/W on H100 SXM versus 0.78 on A100 --
   the further the clock must drop, so :func:`sustained_clock_ratio` interpolates between
   those measured anchors by FLOP/s per watt.  Net: A100 sustains 79.5 % of peak in GEMMs,
   H100 68 %: a 15 % handicap for H100 before anything else.  FP8 GEMMs have their own,
   lower, measured ceiling (H100 70.9 % of the FP8 peak against 80.3 % of the BF16 one in the
   same benchmark), so FP8 doubles the peak but not the GEMM rate: 1.77x on H100.  A chip
   held below its own design limit (``Accelerator.power_limit_w``) keeps its boost clocks and
   walks further down its voltage curve: :func:`power_cap_ratio` applies the drop measured on
   one die (DGX H100 at 350, 400 and 450 W in NVIDIA's MLPerf MaxQ runs: 0.74x, 0.77x and
   0.82x its 700 W throughput, clock ~ cap^0.46): an H100 at 500 W sustains 0.86x its 700 W
   clock (0.73 of burst), below the 0.84 the per-watt interpolation gives a 500 W design.
2. *Machine balance.*  Peak FLOP/s per byte/s of HBM is 153 on A100-80GB and 295 on H100 SXM:
   compute grew 3.2x but bandwidth only 1.6x (and NVLink 1.5x).  Time spent in memory-bound
   kernels and collectives therefore shrinks much less than GEMM time, so the same model on
   H100 spends a larger share of its step outside tensor cores and its MFU drops (Amdahl).
   The planner's time model (``gpuwise.planner.time``) charges every memory-bound byte at
   :func:`achievable_mem_bw_gbs` and every GEMM at :func:`achievable_tflops`, so this falls
   out of the roofline rather than a per-chip fudge factor.
3. *Small GEMMs.*  A GEMM ``(m x k) @ (k x n)`` moves ``b(mk + kn) + 2mn`` bytes for ``2mnk``
   FLOPs.  Below the ridge point it is bandwidth bound (roofline, Williams et al. 2009).
   Tiles of 128 x 128 pad ragged ``m, n`` (tile quantization), and each output tile pays a
   fixed prologue/epilogue equivalent to ``K_HALF`` steps of its k-loop, so short-k GEMMs
   (attention with head_dim 64-128) run below the ceiling.  Output tiles run in waves of one
   tile per SM; a partial last wave idles the rest (wave quantization, NVIDIA's "Matrix
   Multiplication Background" guide), which the best-shape MAMF measurement never pays.

4. *Links.*  NCCL moves data at a measured fraction of the NVLink line rate, per NVLink
   generation: 82 % on NVLink 4 ("with the protocol overhead (~20%) NCCL can get an effective
   NVLink bandwidth of 370GB/s" of 450 on H100 -- NCCL maintainer, NVIDIA/nccl-tests issue
   #212), 67-69 % on NVLink 3 (200-208 GB/s of 300 on A100, issues #149 and #178);
   InfiniBand with GPUDirect RDMA reaches ~90 % of the NIC rate.

Known misses against the golden tables: ``benchmarks/bench_planner_goldens.py`` (its docstring
says what is and is not explained).

Functions here accept numpy arrays for the GEMM dimensions so the search can vectorize.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import numpy as np
import yaml

from gpuwise.catalog import Accelerator

ArrayOrFloat = TypeVar("ArrayOrFloat", float, np.ndarray)

#: Fraction of datasheet HBM bandwidth a streaming kernel sustains.  STREAM-like copies reach
#: 90-93 % on A100/H100 (NVIDIA's own bandwidthTest; e.g. 3.57 of 3.94 TB/s = 90.6 % measured on
#: an H100 NVL in a published probe); elementwise training kernels are such streams.
MEM_BW_FRACTION = 0.90
#: Same for the inter-node network per GPU (InfiniBand HDR/NDR, GPUDirect RDMA): ~90 %.
NET_FRACTION = 0.90
#: Output tile edge used for tile quantization (CUTLASS/cuBLAS default 128 x 128 / 128 x 256).
TILE = 128
#: Fixed per-tile cost of a GEMM, in units of k-loop steps (prologue, epilogue, pipeline
#: fill).  At k = 2048 (the MAMF best shapes have k of 1536-2816) it costs 3 %, at head_dim 128
#: it costs 33 % -- the reason attention kernels run well below GEMM peak.
K_HALF = 64
#: k at which the MAMF ceilings were measured (best shapes have k ~ 2048): the roll-off is
#: normalized there so that large GEMMs hit the measured ceiling exactly.
K_REF = 2048
#: Bytes per element for GEMM operands by precision.
_ELEM_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp32": 4.0, "int8": 1.0}


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("gpuwise.planner").joinpath("efficiency.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


@cache
def _cap_exponent() -> float:
    """Exponent b of ``clock ratio = (cap / TDP) ** b``: least-squares slope through the origin
    of log(throughput ratio) on log(cap / TDP) over ``power_cap_measurements``."""
    rows = [(cap / tdp, at_cap / at_tdp) for cap, tdp, at_cap, at_tdp in
            _raw()["power_cap_measurements"]]
    num = sum(math.log(c) * math.log(r) for c, r in rows)
    return num / sum(math.log(c) ** 2 for c, _ in rows)


@cache
def _table() -> dict[str, dict[str, float]]:
    raw = _raw()
    (x0, y0), (x1, y1) = raw["sustain_anchors"]
    lo, hi = raw["sustain_clamp"]
    return {
        "default": {"mamf": float(raw["default"])},
        "mamf": {str(k): float(v) for k, v in raw["mamf_fraction"].items()},
        "mamf_fp8": {str(k): float(v) for k, v in raw["mamf_fraction_fp8"].items()},
        "sm": {str(k): float(v) for k, v in raw["sm_count"].items()},
        "nccl_ctas": {str(k): float(v) for k, v in raw["nccl_ctas"].items()},
        "link": {str(k): float(v) for k, v in raw["link_fraction"].items()},
        "gather": {str(k): float(v) for k, v in raw["gather_link_fraction"].items()},
        "default_link": {"fraction": float(raw["default_link_fraction"])},
        "sustain": {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "lo": lo, "hi": hi},
    }


def burst_gemm_fraction(acc: Accelerator, precision: str = "bf16") -> float:
    """Measured fraction of the dense ``precision`` peak the best large GEMM reaches in a short
    burst (MAMF).  FP8 has its own, lower, measured ceiling where one was published
    (``mamf_fraction_fp8``); elsewhere the BF16 ceiling stands in for it."""
    t = _table()
    bf16 = t["mamf"].get(acc.name, t["default"]["mamf"])
    if precision == "fp8":
        return t["mamf_fp8"].get(acc.name, bf16)
    return bf16


def power_cap_ratio(acc: Accelerator) -> float:
    """Sustained GEMM clock of ``acc`` held at ``power_limit_w`` / the same chip at its design
    TDP: 1.0 without a cap, else ``(cap / TDP) ** b`` with ``b`` from the measured same-die
    cap runs of ``efficiency.yaml`` ``power_cap_measurements`` (:func:`_cap_exponent`)."""
    if acc.power_limit_w is None or acc.power_limit_w >= acc.tdp_w:
        return 1.0
    return float((acc.power_limit_w / acc.tdp_w) ** _cap_exponent())


def sustained_clock_ratio(acc: Accelerator) -> float:
    """Sustained / burst clock under a saturating GEMM, from the chip's FLOP/s per watt.

    Linear between measured anchors (A100's power-limited HPL clock, H200's MSMF/MAMF), clamped
    (see ``efficiency.yaml``): the more tensor FLOP/s a chip packs per watt of its design TDP,
    the further its clock must drop to stay inside the power limit.  A chip held below its
    design limit (``power_limit_w``) drops further by :func:`power_cap_ratio`.
    """
    s = _table()["sustain"]
    density = acc.dense_bf16_tflops / acc.tdp_w
    slope = (s["y1"] - s["y0"]) / (s["x1"] - s["x0"])
    design = min(s["hi"], max(s["lo"], s["y0"] + slope * (density - s["x0"])))
    return float(design * power_cap_ratio(acc))


def large_gemm_fraction(acc: Accelerator, precision: str = "bf16") -> float:
    """Fraction of the dense ``precision`` peak a large GEMM sustains in training: burst
    ceiling x clock ratio.  The power-limited clock ratio is measured in BF16 and applied to
    every precision: on H200 the published sustained FP8/BF16 rate (MSMF 1330-1337 / 743-746
    TFLOP/s, mamf-finder v4) is 1.78-1.80, no lower than the burst ratio, so FP8's doubled math
    per clock does not throttle further (``efficiency.yaml``, after ``sustain_clamp``)."""
    return burst_gemm_fraction(acc, precision) * sustained_clock_ratio(acc)


def sm_count(acc: Accelerator) -> float | None:
    """Streaming multiprocessors of ``acc`` (None when unknown: no wave quantization)."""
    return _table()["sm"].get(acc.name)


def nccl_ctas(acc: Accelerator) -> float | None:
    """Thread blocks an intra-node NCCL all-gather / reduce-scatter keeps on ``acc``'s SMs
    (``efficiency.yaml`` ``nccl_ctas``; None when not published)."""
    return _table()["nccl_ctas"].get(acc.name)


def _wave_fraction(tiles: ArrayOrFloat, sms: float | None) -> ArrayOrFloat:
    """Busy fraction of SM-slots when ``tiles`` output tiles run in waves of ``sms``."""
    if sms is None:
        return tiles * 0.0 + 1.0
    return tiles / (np.ceil(tiles / sms) * sms)


def peak_tflops(acc: Accelerator, precision: str) -> float:
    """Dense datasheet peak for a training precision (bf16 falls back to fp16, fp8 to bf16)."""
    return acc.peak_tflops(precision)


def _tile_fraction(d: ArrayOrFloat) -> ArrayOrFloat:
    """Useful fraction of the padded tiles along one dimension (tile quantization).

    Libraries pick smaller tiles for small dimensions (down to the 16-wide MMA shape), so
    the tile is the power of two covering ``d``, clipped to [16, TILE].
    """
    tile = np.clip(2.0 ** np.ceil(np.log2(np.maximum(d, 1))), 16, TILE)
    return d / (np.ceil(d / tile) * tile)


def _k_fraction(k: ArrayOrFloat) -> ArrayOrFloat:
    """Fraction of a tile's time spent in the k-loop, relative to the MAMF shapes."""
    ref = K_REF / (K_REF + K_HALF)
    return np.minimum(1.0, (k / (k + K_HALF)) / ref)


def achievable_mem_bw_gbs(acc: Accelerator) -> float:
    """HBM bandwidth a streaming kernel sustains (GB/s)."""
    return acc.mem_bw_gbs * MEM_BW_FRACTION


def gemm_time_s(
    acc: Accelerator,
    m: ArrayOrFloat,
    n: ArrayOrFloat,
    k: ArrayOrFloat,
    precision: str = "bf16",
    count: ArrayOrFloat | float = 1.0,
    out_bytes: float = 2.0,
) -> ArrayOrFloat:
    """Seconds for ``count`` GEMMs of ``(m x k) @ (k x n)``: roofline of compute and memory.

    Compute runs at peak x large-GEMM ceiling x tile and k-loop efficiency; memory moves both
    operands (``precision`` bytes) and ``out_bytes`` per output element (a 16-bit result: 2; a
    result accumulated into an existing buffer reads and writes it: twice its element size) at
    :func:`achievable_mem_bw_gbs`.
    """
    elem = _ELEM_BYTES.get(precision, 2.0)
    flops = 2.0 * m * n * k
    rate = peak_tflops(acc, precision) * 1e12 * large_gemm_fraction(acc, precision)
    tiles = np.ceil(m / TILE) * np.ceil(n / TILE) * count
    rate = rate * _tile_fraction(m) * _tile_fraction(n) * _k_fraction(k)
    rate = rate * _wave_fraction(tiles, sm_count(acc))
    t_compute = flops / rate
    t_memory = (elem * (m * k + k * n) + out_bytes * m * n) / (achievable_mem_bw_gbs(acc) * 1e9)
    return np.maximum(t_compute * count, t_memory * count)


def achievable_tflops(
    acc: Accelerator, m: ArrayOrFloat, n: ArrayOrFloat, k: ArrayOrFloat, precision: str = "bf16"
) -> ArrayOrFloat:
    """Achieved TFLOP/s of one ``(m x k) @ (k x n)`` GEMM on ``acc`` (see module docstring)."""
    return 2.0 * m * n * k / gemm_time_s(acc, m, n, k, precision) / 1e12


def link_fraction(acc: Accelerator) -> float:
    """NCCL bus bandwidth / per-direction line rate of ``acc``'s intra-node link, measured per
    NVLink generation (``efficiency.yaml`` ``link_fraction``), else its
    ``default_link_fraction``."""
    t = _table()
    return t["link"].get(acc.name, t["default_link"]["fraction"])


def link_gbs(acc: Accelerator) -> float:
    """Achievable per-direction intra-node collective bandwidth per GPU (GB/s)."""
    return acc.interconnect_gbs * link_fraction(acc)


def gather_link_gbs(acc: Accelerator) -> float:
    """The same for ring all-gathers and reduce-scatters: ``gather_link_fraction`` where
    nccl-tests measured these apart from the all-reduce, else :func:`link_gbs`."""
    return acc.interconnect_gbs * _table()["gather"].get(acc.name, link_fraction(acc))


def __getattr__(name: str) -> Any:
    """``Hardware`` lives in :mod:`gpuwise.planner.hardware`; imported from here it is still
    found (the planner's stable API named it here), without an import cycle."""
    if name == "Hardware":
        from gpuwise.planner.hardware import Hardware

        return Hardware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
