"""The accelerator spec model (one catalog entry) and the catalog as a whole."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Fields that hold numbers and therefore need a source.
NUMERIC_FIELDS: tuple[str, ...] = (
    "memory_gib",
    "bf16_tflops",
    "fp16_tflops",
    "fp8_tflops",
    "int8_tops",
    "fp32_tflops",
    "mem_bw_gbs",
    "interconnect_gbs",
    "pcie_gen",
    "tdp_w",
)


class Accelerator(BaseModel):
    """One accelerator model. All compute peaks are dense (not 2:4-sparse)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    vendor: str
    aliases: tuple[str, ...] = ()
    memory_gib: float = Field(gt=0)
    bf16_tflops: float | None = Field(default=None, gt=0)
    fp16_tflops: float = Field(gt=0)
    fp8_tflops: float | None = Field(default=None, gt=0)
    int8_tops: float | None = Field(default=None, gt=0)
    fp32_tflops: float = Field(gt=0)
    mem_bw_gbs: float = Field(gt=0)
    interconnect_kind: Literal["nvlink", "pcie", "hccs"]
    interconnect_gbs: float = Field(gt=0)
    pcie_gen: int = Field(ge=3, le=6)
    tdp_w: float = Field(gt=0)
    #: Board power limit a deployment enforces below the design ``tdp_w`` (``nvidia-smi -pl``,
    #: e.g. Meta's Grand Teton H100s at 500 W); None runs at the design limit.  A setting of a
    #: fleet, not a datasheet figure, so no catalog entry sets it.
    power_limit_w: float | None = Field(default=None, gt=0)
    export_edition: bool
    export_of: str | None = None
    export_cuts: str | None = None
    confidence: Literal["high", "medium", "low"]
    notes: str = ""
    # field name (or "all") -> source text, resolved from the catalog's source keys.
    sources: dict[str, str]

    @model_validator(mode="after")
    def _export_fields(self) -> Accelerator:
        if self.export_edition and not (self.export_of and self.export_cuts):
            raise ValueError("an export-control edition must name export_of and export_cuts")
        if self.power_limit_w is not None and self.power_limit_w > self.tdp_w:
            raise ValueError(
                f"power_limit_w {self.power_limit_w:g} exceeds the design TDP {self.tdp_w:g} W"
            )
        return self

    @property
    def board_power_w(self) -> float:
        """The power the board is held to: the enforced limit, else the design TDP."""
        return self.tdp_w if self.power_limit_w is None else self.power_limit_w

    def source_of(self, field: str) -> str | None:
        """Where ``field``'s number comes from (the field's own source, else the entry's)."""
        return self.sources.get(field) or self.sources.get("all")

    def peak_tflops(self, precision: str) -> float:
        """Dense peak for a training/inference precision: bf16, fp16, fp8, int8 or fp32.

        Falls back to the nearest supported wider format (e.g. bf16 -> fp16 on V100, fp8 -> bf16
        on A100) because that is what a framework would run on such a chip.
        """
        p = precision.lower()
        if p == "fp32":
            return self.fp32_tflops
        if p == "fp16":
            return self.fp16_tflops
        if p == "bf16":
            return self.bf16_tflops or self.fp16_tflops
        if p == "fp8":
            return self.fp8_tflops or self.bf16_tflops or self.fp16_tflops
        if p in ("int8", "int4"):
            return self.int8_tops or self.fp16_tflops
        raise ValueError(f"unknown precision {precision!r} (expected bf16, fp16, fp8, int8, fp32)")

    @property
    def dense_bf16_tflops(self) -> float:
        """BF16 dense peak, or FP16 on chips without BF16 (the half-precision training rate)."""
        return self.bf16_tflops or self.fp16_tflops


class Catalog(BaseModel):
    """All accelerators, with alias resolution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accelerators: tuple[Accelerator, ...]

    def names(self) -> list[str]:
        return [a.name for a in self.accelerators]
