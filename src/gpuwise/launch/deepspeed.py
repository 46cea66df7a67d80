"""DeepSpeed JSON config for a plan.

Keys from DeepSpeed's configuration reference (deepspeed.ai/docs/config-json) and
``deepspeed/runtime/config.py``: ``train_batch_size = train_micro_batch_size_per_gpu *
gradient_accumulation_steps * data-parallel size``, ``bf16.enabled``,
``zero_optimization.stage``, ``activation_checkpointing.*``, ``pipeline.stages`` /
``pipeline.activation_checkpoint_interval`` (PipelineModule engine),
``tensor_parallel.autotp_size`` (AutoTP training) and ``sequence_parallel_size`` (Ulysses).

What a DeepSpeed JSON config cannot express is refused with a one-line reason rather than
silently dropped: FP8 (needs Transformer Engine layers in the model code), expert
parallelism (``ep_size`` is an argument of ``deepspeed.moe.layer.MoE``), and ZeRO-2/3 with
pipeline parallelism (the pipeline engine supports ZeRO stage 0-1 only).
"""

from __future__ import annotations

import json
from typing import Any

from gpuwise.errors import GpuwiseError
from gpuwise.launch.plan import LaunchPlan
from gpuwise.planner.models import ModelConfig


def deepspeed_config(model: ModelConfig, p: LaunchPlan) -> dict[str, Any]:
    """The DeepSpeed config as a dict (see :func:`emit_deepspeed`)."""
    if p.precision == "fp8":
        raise GpuwiseError("--emit deepspeed: DeepSpeed's JSON config has no FP8 training switch "
                           "(FP8 needs Transformer Engine layers in the model); plan with "
                           "--precision bf16 or emit megatron/torchtitan")
    if p.ep > 1:
        raise GpuwiseError(f"--emit deepspeed: expert parallelism is set in the model code "
                           f"(deepspeed.moe.layer.MoE(ep_size={p.ep})), not in the JSON config; "
                           "emit megatron or torchtitan, or plan with --ep 1")
    if p.pp > 1 and p.zero >= 2:
        raise GpuwiseError(f"--emit deepspeed: DeepSpeed's pipeline engine supports ZeRO stage "
                           f"0-1 only, the plan has pp={p.pp} with ZeRO-{p.zero}")
    zero: dict[str, Any] = {"stage": p.zero, "overlap_comm": True, "contiguous_gradients": True}
    if p.zero == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    cfg: dict[str, Any] = {
        "train_batch_size": p.global_batch,
        "train_micro_batch_size_per_gpu": p.micro_batch,
        "gradient_accumulation_steps": p.grad_accum,
        "gradient_clipping": 1.0,
        "bf16": {"enabled": True},
        "zero_optimization": zero,
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": 3e-4, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1},
        },
        "steps_per_print": 10,
        "wall_clock_breakdown": False,
    }
    if p.recompute != "none":
        # DeepSpeed checkpoints whole layers (deepspeed.checkpointing.checkpoint): "full";
        # selective recompute is the model code's choice of what to wrap.
        cfg["activation_checkpointing"] = {
            "partition_activations": p.tp > 1,
            "contiguous_memory_optimization": False,
            "cpu_checkpointing": False,
            "number_checkpoints": None,
            "synchronize_checkpoint_boundary": False,
            "profile": False,
        }
    if p.pp > 1:
        cfg["pipeline"] = {
            "stages": p.pp,
            "partition": "parameters",
            "activation_checkpoint_interval": 1 if p.recompute == "full" else 0,
        }
    if p.tp > 1:
        cfg["tensor_parallel"] = {"autotp_size": p.tp}
    if p.cp > 1:
        cfg["sequence_parallel_size"] = p.cp
    return cfg


def emit_deepspeed(model: ModelConfig, p: LaunchPlan) -> str:
    """A DeepSpeed ``--deepspeed_config`` JSON file for plan ``p``."""
    return json.dumps(deepspeed_config(model, p), indent=2) + "\n"
