"""Accelerator catalog: what each GPU/NPU can do, loaded from ``accelerators.yaml``.

API
---
- ``load_catalog() -> Catalog``: every entry (cached).
- ``get_accelerator(name) -> Accelerator``: resolve any common spelling (``NVIDIA H800``,
  ``H800-SXM5-80GB``, ``h800``, ``A100-80GB``, names printed by ``nvidia-smi`` or in the
  ``nvidia.com/gpu.product`` label); raises :class:`~gpuwise.errors.GpuwiseError` with
  suggestions when unknown.
- ``resolve_name(name) -> str | None``: canonical name or ``None`` (never raises).
- ``parse_gpu_spec("64xA800,8xH20") -> list[tuple[int, str]]``: the ``NxTYPE`` shorthand.
"""

from __future__ import annotations

from gpuwise.catalog.loader import (
    get_accelerator,
    load_catalog,
    normalize,
    parse_gpu_spec,
    resolve_name,
)
from gpuwise.catalog.model import NUMERIC_FIELDS, Accelerator, Catalog

__all__ = [
    "NUMERIC_FIELDS",
    "Accelerator",
    "Catalog",
    "get_accelerator",
    "load_catalog",
    "normalize",
    "parse_gpu_spec",
    "resolve_name",
]
