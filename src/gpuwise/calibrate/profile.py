"""The device profile: what ``gpuwise calibrate`` measured on one device.

A :class:`DeviceProfile` is plain data (JSON on disk) so the planner can use measured
throughput instead of catalog peaks without importing PyTorch.  GEMM throughput is kept
per (size, precision) because achievable TFLOP/s depends strongly on the matrix size;
:meth:`DeviceProfile.gemm_tflops_at` interpolates between the measured sizes in log space.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gpuwise.calibrate.decode_grid import DecodeGemmPoint, grid_problem, interp_grid
from gpuwise.errors import GpuwiseError, did_you_mean

if TYPE_CHECKING:
    from gpuwise.catalog import Accelerator

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
SCHEMA_VERSION = 1


class GemmPoint(BaseModel):
    """One GEMM measurement: ``A[m,k] @ B[k,n]`` at ``tflops = 2mnk / seconds``, where
    ``seconds`` is the mean over the three training layouts (forward NT, data-gradient NN,
    weight-gradient TN) of each layout's best time with cache-cold operands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: int = Field(gt=0)
    n: int = Field(gt=0)
    k: int = Field(gt=0)
    precision: Precision
    tflops: float = Field(gt=0)
    seconds: float = Field(gt=0, description="time of one GEMM (see class doc)")


class AttentionPoint(BaseModel):
    """One causal attention-core measurement (``scaled_dot_product_attention``).

    FLOPs as FlashAttention-2 counts them: forward ``2 b a s^2 d`` (causal half of
    ``4 b a s^2 d``), backward 2.5x the forward.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch: int = Field(gt=0)
    heads: int = Field(gt=0)
    seq: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    precision: Precision
    fwd_tflops: float = Field(gt=0)
    bwd_tflops: float = Field(gt=0)


class CollectivePoint(BaseModel):
    """One all-reduce measurement between ``world`` local processes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nbytes: int = Field(gt=0)
    world: int = Field(ge=2)
    seconds: float = Field(gt=0)
    bus_gbs: float = Field(gt=0, description="bus bandwidth 2(n-1)/n * bytes / time (nccl-tests)")


class DeviceProfile(BaseModel):
    """Measured capabilities of one device, written by ``gpuwise calibrate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    device: Literal["cpu", "cuda"]
    name: str = Field(min_length=1, description="device name as the runtime reports it")
    torch_version: str
    threads: int = Field(ge=1, description="intra-op threads used for the measurements")
    memory_gib: float = Field(gt=0, description="device memory (host RAM for the CPU)")
    gemm: tuple[GemmPoint, ...] = Field(min_length=1)
    mem_bw_gbs: float = Field(gt=0, description="best of the streaming kernels, GB/s")
    mem_bw_detail: dict[str, float] = Field(default_factory=dict, description="kernel -> GB/s")
    elementwise_gbs: float | None = Field(
        default=None, gt=0,
        description="effective GB/s of training's elementwise kernels (harmonic mean of the "
        "mix in microbench.ELEMENTWISE_MIX), in elementwise_precision",
    )
    elementwise_precision: str | None = None
    elementwise_detail: dict[str, float] = Field(default_factory=dict,
                                                 description="kernel -> effective GB/s")
    attention: tuple[AttentionPoint, ...] = ()
    allreduce_gbs: float | None = Field(
        default=None, gt=0, description="best all-reduce bus bandwidth, GB/s (None: not run)"
    )
    collectives: tuple[CollectivePoint, ...] = ()
    backend: str | None = Field(default=None, description="torch.distributed backend used")
    # Decode-shaped measurements (optional: profiles written before them still load).
    decode_gemm: tuple[DecodeGemmPoint, ...] = Field(
        default=(), description="x[m,k] @ W[n,k]^T with a cache-cold weight, full m x n x k grid"
    )
    gemv_gbs: float | None = Field(
        default=None, gt=0,
        description="weight-streaming GB/s of a GEMV (m = 1) over the largest weight measured",
    )
    dispatch_us: float | None = Field(
        default=None, gt=0,
        description="fixed cost of one eager op on tiny tensors, mean over microbench.DISPATCH_MIX",
    )
    dispatch_detail: dict[str, float] = Field(default_factory=dict, description="op -> us")
    quick: bool = False
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _decode_grid_is_full(self) -> DeviceProfile:
        problem = grid_problem(self.decode_gemm)
        if problem is not None:
            raise ValueError(f"decode_gemm: {problem}")
        return self

    # ---- persistence -------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> DeviceProfile:
        """Read a profile written by :meth:`save`; bad files raise :class:`GpuwiseError`."""
        p = Path(path)
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GpuwiseError(f"{p}: no such device profile (run `gpuwise calibrate`)") from None
        except json.JSONDecodeError as exc:
            raise GpuwiseError(f"{p}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise GpuwiseError(f"{p}: a device profile is a JSON object")
        version = raw.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise GpuwiseError(
                f"{p}: schema_version {version} is not supported (expected {SCHEMA_VERSION}); "
                "re-run `gpuwise calibrate`"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "(root)"
            raise GpuwiseError(f"{p}: {field}: {first['msg']}") from None

    def save(self, path: str | Path) -> None:
        """Write the profile as indented JSON."""
        Path(path).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    # ---- queries -----------------------------------------------------------------------

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions with at least one GEMM measurement, in :data:`PRECISIONS` order."""
        have = {g.precision for g in self.gemm}
        return tuple(p for p in PRECISIONS if p in have)

    def peak_tflops(self, precision: str) -> float | None:
        """Best measured GEMM TFLOP/s at ``precision`` (None when not measured)."""
        vals = [g.tflops for g in self.gemm if g.precision == precision]
        return max(vals) if vals else None

    def gemm_tflops_at(self, m: int, n: int, k: int, precision: str) -> float:
        """Achievable TFLOP/s of an (m, n, k) GEMM, interpolated over the measured sizes.

        The size axis is ``log(m*n*k)`` (the work of the GEMM); TFLOP/s are interpolated
        geometrically (linear in ``log tflops``) between the two nearest measured sizes and
        held constant beyond the smallest/largest size measured.
        """
        if min(m, n, k) <= 0:
            raise GpuwiseError(f"GEMM dimensions must be positive, got m={m} n={n} k={k}")
        pts = sorted(
            (math.log(g.m * g.n * g.k), math.log(g.tflops))
            for g in self.gemm
            if g.precision == precision
        )
        if not pts:
            raise GpuwiseError(
                f"precision {precision!r} was not measured on {self.name}; measured: "
                f"{', '.join(self.precisions)}{did_you_mean(precision, self.precisions)}"
            )
        return math.exp(_interp(math.log(m * n * k), pts))

    def attention_tflops_at(self, seq: int, head_dim: int, direction: str = "fwd") -> float:
        """Causal attention-core TFLOP/s (``direction`` "fwd" or "bwd") at sequence length
        ``seq``: the measurements with the nearest head dimension, interpolated in
        ``log seq`` (geometrically in TFLOP/s) and held constant outside the measured range.
        """
        if direction not in ("fwd", "bwd"):
            raise GpuwiseError(f"direction: expected fwd or bwd, got {direction!r}")
        if not self.attention:
            raise GpuwiseError(f"{self.name}: the profile has no attention measurements "
                               "(re-run `gpuwise calibrate`)")
        if seq <= 0 or head_dim <= 0:
            raise GpuwiseError(f"seq and head_dim must be positive, got {seq}, {head_dim}")
        best_d = min({a.head_dim for a in self.attention},
                     key=lambda d: abs(math.log(d / head_dim)))
        pts = sorted(
            (math.log(a.seq), math.log(a.fwd_tflops if direction == "fwd" else a.bwd_tflops))
            for a in self.attention
            if a.head_dim == best_d
        )
        return math.exp(_interp(math.log(seq), pts))

    # ---- decode-shaped queries ----------------------------------------------------------

    @property
    def decode_precisions(self) -> tuple[str, ...]:
        """Precisions with decode-shaped GEMM measurements."""
        have = {g.precision for g in self.decode_gemm}
        return tuple(p for p in PRECISIONS if p in have)

    def decode_max_rows(self, precision: str) -> int:
        """The most token rows measured at ``precision`` (0: none)."""
        return max((g.m for g in self.decode_gemm if g.precision == precision), default=0)

    def decode_tflops_at(self, m: int, n: int, k: int, precision: str) -> float:
        """TFLOP/s of a decode-layout ``(m, n, k)`` GEMM with a cache-cold weight, interpolated
        over the measured grid (:func:`~gpuwise.calibrate.decode_grid.interp_grid`)."""
        pts = [g for g in self.decode_gemm if g.precision == precision]
        if not pts:
            raise GpuwiseError(
                f"{self.name}: no decode GEMM measurements at {precision!r} (measured: "
                f"{', '.join(self.decode_precisions) or 'none'}; re-run `gpuwise calibrate`)"
            )
        return interp_grid(pts, m, n, k, "tflops")

    def weight_stream_gbs(self, n: int, k: int) -> float:
        """GB/s at which a GEMV streams an ``n x k`` weight from memory.

        The m = 1 decode measurements interpolated at ``(n, k)`` (in the first decode
        precision: a memory-bound GEMV moves bytes, whatever their format); without them the
        profile's GEMV bandwidth, and for profiles older than both, the STREAM bandwidth.
        """
        for prec in self.decode_precisions:
            ones = [g for g in self.decode_gemm if g.precision == prec and g.m == 1]
            if ones:
                return interp_grid(ones, 1, n, k, "weight_gbs")
        return self.gemv_gbs if self.gemv_gbs is not None else self.mem_bw_gbs

    # ---- bridge to the catalog ---------------------------------------------------------

    def to_accelerator(self, base: Accelerator | None = None) -> Accelerator:
        """An :class:`~gpuwise.catalog.Accelerator` whose peaks are this profile's bests.

        Measured: memory, GEMM peaks per precision, memory bandwidth and (when run) the
        all-reduce bus bandwidth as the interconnect bandwidth.  What is not measured (FP8 and
        INT8 peaks, link kind, PCIe generation, TDP, export status) comes from ``base`` -- by
        default the catalog entry whose name or alias matches the device name (GPUs) -- or,
        with no such entry (a CPU), from neutral placeholders named in ``notes``.  A precision
        not measured falls back to ``base``'s figure, then to the best measured half
        precision, then to FP32 (the catalog requires ``fp16_tflops``).
        """
        from gpuwise.catalog import Accelerator, get_accelerator, resolve_name

        if base is None and self.device == "cuda":
            canonical = resolve_name(self.name)
            base = get_accelerator(canonical) if canonical else None
        fp32 = self.peak_tflops("fp32")
        bf16 = self.peak_tflops("bf16")
        fp16 = self.peak_tflops("fp16")
        best = max(g.tflops for g in self.gemm)
        src = (f"gpuwise calibrate on {self.name} ({self.device}, {self.threads} thread(s), "
               f"torch {self.torch_version}{', quick' if self.quick else ''})")
        measured = ["memory_gib", "fp32_tflops", "bf16_tflops", "fp16_tflops", "mem_bw_gbs"]
        if self.allreduce_gbs is not None:
            measured.append("interconnect_gbs")
        if base is not None:
            fields: dict[str, Any] = base.model_dump()
            fields["sources"] = {**base.sources, **dict.fromkeys(measured, src)}
            fields["notes"] = f"calibrated; unmeasured fields from catalog entry {base.name}"
        else:
            fields = {
                "vendor": self.name.split()[1] if self.name.startswith("CPU ") else "unknown",
                "interconnect_kind": "pcie",
                "interconnect_gbs": self.mem_bw_gbs,
                "pcie_gen": 4,
                "tdp_w": 100.0,
                "export_edition": False,
                "confidence": "medium",
                "sources": {"all": src},
                "notes": "calibrated; pcie_gen, tdp_w and interconnect_kind are placeholders "
                "(not measured)",
            }
        fields.update(
            name=f"calibrated:{self.name}",
            aliases=(),
            memory_gib=self.memory_gib,
            mem_bw_gbs=self.mem_bw_gbs,
            fp32_tflops=fp32 if fp32 is not None else fields.get("fp32_tflops", best),
            bf16_tflops=bf16 if bf16 is not None else fields.get("bf16_tflops"),
            fp16_tflops=(
                fp16 if fp16 is not None else fields.get("fp16_tflops") or bf16 or fp32 or best
            ),
        )
        if self.allreduce_gbs is not None:
            fields["interconnect_gbs"] = self.allreduce_gbs
        return Accelerator.model_validate(fields)


def _interp(x: float, pts: list[tuple[float, float]]) -> float:
    """Piecewise-linear interpolation of sorted ``(x, y)`` points, clamped at both ends."""
    if x <= pts[0][0]:
        return pts[0][1]
    if x >= pts[-1][0]:
        return pts[-1][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= x <= x1:
            if x1 == x0:
                return max(y0, y1)
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[-1][1]  # unreachable: x lies within [first, last]
