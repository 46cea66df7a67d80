"""Launch configs for real training engines from a gpuwise plan.

``emit(fmt, model, plan) -> str`` (``gpuwise.launch.emit``) writes a torchtitan TOML job
config, a DeepSpeed JSON config or Megatron-LM arguments; ``FORMATS`` lists the formats.
"""

from __future__ import annotations

from gpuwise.launch.emit import FORMATS, emit

__all__ = ["FORMATS", "emit"]
