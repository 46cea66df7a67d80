"""``--emit torchtitan|deepspeed|megatron``: a plan as a launch config for a real engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.launch.deepspeed import emit_deepspeed
from gpuwise.launch.megatron import emit_megatron
from gpuwise.launch.plan import LaunchPlan, check_plan
from gpuwise.launch.torchtitan import emit_torchtitan
from gpuwise.planner.models import ModelConfig

EMITTERS: dict[str, Callable[[ModelConfig, LaunchPlan], str]] = {
    "torchtitan": emit_torchtitan,
    "deepspeed": emit_deepspeed,
    "megatron": emit_megatron,
}
FORMATS: tuple[str, ...] = tuple(EMITTERS)


def emit(fmt: str, model: ModelConfig, plan: Mapping[str, Any]) -> str:
    """Render ``plan`` for ``model`` as ``fmt``: a torchtitan TOML job config, a DeepSpeed JSON
    config, or Megatron-LM arguments.

    ``plan`` has the keys of ``gpuwise plan train --json``'s ``best`` (``dp, tp, pp, vpp, cp,
    ep, zero, recompute, micro_batch, precision``) plus ``global_batch`` (sequences), ``seq``,
    ``gpus`` and ``gpu_type``; extra keys are ignored.  Bad plans and what an engine cannot
    express raise :class:`GpuwiseError`.
    """
    key = fmt.strip().lower()
    if key not in EMITTERS:
        raise GpuwiseError(f"--emit: unknown format {fmt!r}; choose one of "
                           f"{', '.join(FORMATS)}{did_you_mean(key, FORMATS)}")
    return EMITTERS[key](model, check_plan(model, plan))
