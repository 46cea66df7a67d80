"""Calibration on real hardware: microbenchmarks -> :class:`DeviceProfile`.

``profile`` is plain pydantic data (no PyTorch needed to load or use a profile);
``microbench`` and ``torch_gpt`` import PyTorch lazily (the optional ``calibrate`` extra).
"""

from __future__ import annotations

from gpuwise.calibrate.decode_grid import DecodeGemmPoint
from gpuwise.calibrate.profile import AttentionPoint, CollectivePoint, DeviceProfile, GemmPoint

__all__ = ["AttentionPoint", "CollectivePoint", "DecodeGemmPoint", "DeviceProfile", "GemmPoint"]
