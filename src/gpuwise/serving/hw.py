"""The one place the serving and sizing models meet the hardware: achievable rates of a chip.

Everything downstream asks a :class:`Hardware` for *achievable* numbers (GEMM TFLOP/s at a
given shape, memory bandwidth, vector rate for dequantization, the tensor-parallel link), never
catalog peaks directly.  Sources, in order of preference:

1. a measured :class:`~gpuwise.calibrate.DeviceProfile` (``--device-profile``); when it has
   decode-shaped measurements (an m x n x k grid of decode GEMMs with cache-cold weights, the
   GEMV bandwidth, the per-op dispatch cost) decode uses them per weight shape
   (:mod:`gpuwise.serving.measured`);
2. the training planner's efficiency model (``gpuwise.planner.efficiency``), when present;
3. a small fallback (fractions of peak from ``serving_constants.yaml``).

Swapping the efficiency source is a change to this file only.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from gpuwise.catalog import Accelerator, get_accelerator
from gpuwise.errors import GpuwiseError
from gpuwise.serving.constants import load_constants

if TYPE_CHECKING:
    from gpuwise.calibrate import DeviceProfile

# Weight-only formats run their GEMMs in the activation precision after dequantization.
WEIGHT_ONLY = ("int8", "int4")
# Rows of one tensor-core MMA instruction (PTX mma.m16n8k16).
MMA_ROWS = 16


def _planner_efficiency() -> ModuleType | None:
    try:
        return importlib.import_module("gpuwise.planner.efficiency")
    except ImportError:
        return None


@dataclass(frozen=True)
class Hardware:
    """An accelerator (catalog entry) and, optionally, a measured profile of it."""

    accel: Accelerator
    profile: DeviceProfile | None = None

    @property
    def name(self) -> str:
        return self.accel.name

    @property
    def memory_bytes(self) -> float:
        """Device memory in bytes (GiB from the catalog or profile)."""
        return self.accel.memory_gib * 2**30

    @property
    def link_kind(self) -> str:
        return self.accel.interconnect_kind

    def link_gbs(self) -> float:
        """Achievable per-direction GB/s of the TP link (bus bandwidth of an all-reduce)."""
        if self.profile is not None and self.profile.allreduce_gbs is not None:
            return self.profile.allreduce_gbs
        eff = _planner_efficiency()
        if eff is not None:
            return float(eff.link_gbs(self.accel))
        frac = load_constants().link_efficiency.get(self.link_kind, 0.75)
        return self.accel.interconnect_gbs * frac

    def mem_bw_gbs(self) -> float:
        """Achievable memory bandwidth in GB/s (STREAM-class kernels)."""
        if self.profile is not None:
            return self.profile.mem_bw_gbs
        eff = _planner_efficiency()
        if eff is not None:
            return float(eff.achievable_mem_bw_gbs(self.accel))
        return self.accel.mem_bw_gbs * load_constants().fallback_mem_bw_fraction

    def compute_precision(self, weights: str, activations: str) -> str:
        """The precision the GEMMs run in: weight-only formats compute in the activations'."""
        if weights in WEIGHT_ONLY and activations not in WEIGHT_ONLY:
            return activations
        if weights == "fp8" and activations == "fp8" and self.accel.fp8_tflops is None:
            return "bf16"  # no FP8 tensor cores: upcast (e.g. A100)
        return activations

    def gemm_tflops(self, m: int, n: int, k: int, precision: str) -> float:
        """Compute-bound TFLOP/s of an (m×k)·(k×n) GEMM (operand traffic is counted apart).

        Measured profile: interpolated over the measured GEMMs by their *thinnest* dimension
        (data reuse — hence efficiency — is set by min(m, n, k); a decode GEMM with 8 rows is
        nothing like a square GEMM of the same work); with decode-shaped measurements at this
        precision, ``m`` up to the most rows measured comes from their (m, n, k) grid
        (:func:`_rate_with_decode`).  Otherwise: dense peak × the large-GEMM
        ceiling (the planner's MAMF table) × the useful fraction of the tensor-core MMA rows,
        m / (16·⌈m/16⌉) (``mma.m16n8k16``: a GEMV pads its one row to 16), or the CUDA-core
        FP32 rate × the same ceiling when that is faster (m ≲ 2).
        """
        m, n, k = max(1, int(m)), max(1, int(n)), max(1, int(k))
        if self.profile is not None:
            prec = precision if precision in self.profile.precisions else "fp32"
            if prec not in self.profile.precisions:
                prec = self.profile.precisions[0]
            if prec in self.profile.decode_precisions:
                return _rate_with_decode(self.profile, m, n, k, prec)
            return _rate_by_thinnest(self.profile, min(m, n, k), prec)
        eff = _planner_efficiency()
        if eff is not None:
            # FP8 GEMMs have their own measured ceiling (the planner's mamf_fraction_fp8)
            prec = "fp8" if precision == "fp8" else "bf16"
            ceiling = float(eff.large_gemm_fraction(self.accel, prec))
        else:
            ceiling = load_constants().fallback_gemm_fraction
        rows = m / (MMA_ROWS * math.ceil(m / MMA_ROWS))
        tensor = self.accel.peak_tflops(precision) * ceiling * rows
        # A GEMV-like GEMM may run faster on the CUDA cores (cuBLAS picks the faster kernel).
        return max(tensor, self.accel.fp32_tflops * ceiling)

    @property
    def decode_measured(self) -> bool:
        """Whether a profile with decode-shaped GEMM measurements gives the decode rates."""
        return self.profile is not None and bool(self.profile.decode_gemm)

    def weight_stream_gbs(self, n: int, k: int) -> float:
        """GB/s at which decode streams an ``n x k`` weight: the profile's GEMV measurements
        at that shape when it has them, else :meth:`mem_bw_gbs`."""
        if self.profile is not None:  # falls back to GEMV, then STREAM bandwidth
            return self.profile.weight_stream_gbs(max(1, int(n)), max(1, int(k)))
        return self.mem_bw_gbs()

    def op_overhead_us(self) -> float:
        """Fixed cost of one kernel / eager op: the profile's measured dispatch cost, else the
        per-kernel overhead of ``serving_constants.yaml``."""
        if self.profile is not None and self.profile.dispatch_us is not None:
            return self.profile.dispatch_us
        return load_constants().kernel_overhead_us

    def vector_tflops(self) -> float:
        """Non-tensor-core FP32 rate (dequantization, elementwise), TFLOP/s."""
        if self.profile is not None:
            return self.profile.peak_tflops("fp32") or self.accel.fp32_tflops
        return self.accel.fp32_tflops


def _rate_by_thinnest(profile: DeviceProfile, edge: int, precision: str) -> float:
    """TFLOP/s at thinnest dimension ``edge``: log-log interpolation, clamped at the ends."""
    best: dict[float, float] = {}
    for g in profile.gemm:
        if g.precision == precision:
            x = math.log(min(g.m, g.n, g.k))
            best[x] = max(best.get(x, 0.0), g.tflops)
    xs = sorted(best)
    ys = [math.log(best[x]) for x in xs]
    return float(math.exp(np.interp(math.log(edge), xs, ys)))


def _rate_with_decode(profile: DeviceProfile, m: int, n: int, k: int, precision: str) -> float:
    """TFLOP/s from the decode grid for ``m`` up to its most rows; above, log-log in the
    thinnest dimension between the grid's rate at its most rows (at this n, k) and the square
    GEMMs whose thinnest dimension exceeds those rows, clamped beyond the largest."""
    top = profile.decode_max_rows(precision)
    if m <= top:
        return profile.decode_tflops_at(m, n, k, precision)
    anchor = profile.decode_tflops_at(top, n, k, precision)
    best: dict[float, float] = {math.log(top): math.log(anchor)}
    for g in profile.gemm:
        edge = min(g.m, g.n, g.k)
        if g.precision == precision and edge > top:
            x = math.log(edge)
            best[x] = max(best.get(x, -math.inf), math.log(g.tflops))
    xs = sorted(best)
    return float(math.exp(np.interp(math.log(min(m, n, k)), xs, [best[x] for x in xs])))


def hardware(name: str, profile_path: str | None = None) -> Hardware:
    """Resolve ``name`` in the catalog; with ``profile_path``, overlay the measured profile."""
    if profile_path is None:
        return Hardware(get_accelerator(name))
    try:
        from gpuwise.calibrate import DeviceProfile
    except ImportError as exc:  # pragma: no cover - calibrate is part of the package
        raise GpuwiseError(f"--device-profile needs gpuwise.calibrate: {exc}") from None
    prof = DeviceProfile.load(profile_path)
    return hardware_from_profile(prof, base=name)


def hardware_from_profile(prof: DeviceProfile, base: str | None = None) -> Hardware:
    """A :class:`Hardware` whose rates are the profile's measurements."""
    base_acc = get_accelerator(base) if base else None
    return Hardware(prof.to_accelerator(base_acc), prof)
