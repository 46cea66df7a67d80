"""Lazy access to PyTorch, the optional ``calibrate`` extra.

Nothing else in gpuwise imports torch at module level, so ``import gpuwise`` and every
other command work without it; code that needs it calls :func:`require_torch`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from gpuwise.errors import GpuwiseError

INSTALL_HINT = "install the calibrate extra: pip install 'gpuwise[calibrate]'"

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def require_torch() -> ModuleType:
    """Import and return :mod:`torch`, or raise a :class:`GpuwiseError` saying how to get it."""
    try:
        import torch
    except ImportError:
        raise GpuwiseError(f"this command needs PyTorch; {INSTALL_HINT}") from None
    return torch


def torch_dtype(precision: str) -> Any:
    """The ``torch.dtype`` for a precision name (``fp32``/``bf16``/``fp16``)."""
    torch = require_torch()
    if precision not in DTYPES:
        raise GpuwiseError(f"unknown precision {precision!r}; choose one of {', '.join(DTYPES)}")
    return getattr(torch, DTYPES[precision])


def resolve_device(device: str) -> str:
    """Check that ``device`` ("cpu" or "cuda") is usable and return it."""
    torch = require_torch()
    if device == "cpu":
        return device
    if device == "cuda":
        if not torch.cuda.is_available():
            raise GpuwiseError("--device cuda: no CUDA device is visible; use --device cpu")
        return device
    raise GpuwiseError(f"--device: expected cpu or cuda, got {device!r}")


def set_threads(n: int) -> None:
    """Bound torch's intra-op (and, once, inter-op) thread pools to ``n`` threads."""
    torch = require_torch()
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # may only be set once per process, before parallel work starts
        pass
