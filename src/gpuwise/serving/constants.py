"""The serving model's constants, read from ``serving_constants.yaml`` (each with its reason)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class ServingConstants:
    """See ``serving_constants.yaml`` for the meaning and source of every field."""

    weight_bits: dict[str, float]
    int4_group_size: int
    kv_bits: dict[str, float]
    dequant_ops_per_weight: float
    kernel_overhead_us: float
    kernels_per_layer: int
    kernels_per_moe_layer_extra: int
    allreduce_alpha_us: dict[str, float]
    link_efficiency: dict[str, float]
    usable_memory_fraction: float
    fallback_mem_bw_fraction: float
    fallback_gemm_fraction: float


@cache
def load_constants() -> ServingConstants:
    """Read the packaged constants once per process."""
    text = resources.files("gpuwise.serving").joinpath("serving_constants.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return ServingConstants(
        weight_bits={k: float(v) for k, v in raw["weight_bits"].items()},
        int4_group_size=int(raw["int4_group_size"]),
        kv_bits={k: float(v) for k, v in raw["kv_bits"].items()},
        dequant_ops_per_weight=float(raw["dequant_ops_per_weight"]),
        kernel_overhead_us=float(raw["kernel_overhead_us"]),
        kernels_per_layer=int(raw["kernels_per_layer"]),
        kernels_per_moe_layer_extra=int(raw["kernels_per_moe_layer_extra"]),
        allreduce_alpha_us={k: float(v) for k, v in raw["allreduce_alpha_us"].items()},
        link_efficiency={k: float(v) for k, v in raw["link_efficiency"].items()},
        usable_memory_fraction=float(raw["usable_memory_fraction"]),
        fallback_mem_bw_fraction=float(raw["fallback_mem_bw_fraction"]),
        fallback_gemm_fraction=float(raw["fallback_gemm_fraction"]),
    )
