"""torchtitan job config (TOML) for a plan.

Keys follow torchtitan's ``JobConfig`` (``torchtitan/config/job_config.py``) and its shipped
``train_configs/*.toml``: ``[training] local_batch_size / global_batch_size / seq_len /
mixed_precision_param / compile``, ``[parallelism] data_parallel_replicate_degree /
data_parallel_shard_degree / fsdp_reshard_after_forward / tensor_parallel_degree /
pipeline_parallel_degree / pipeline_parallel_schedule / pipeline_parallel_microbatch_size /
pipeline_parallel_layers_per_stage / context_parallel_degree / expert_parallel_degree``,
``[activation_checkpoint] mode / selective_ac_option``, ``[model] converters = ["float8"]``
and ``[float8]`` for FP8.

ZeRO maps onto torchtitan's FSDP2 data parallelism: stage 0 is plain replication (DDP);
stage 3 is FSDP (``data_parallel_shard_degree = dp``, parameters re-sharded after forward);
stages 1-2 are FSDP with ``fsdp_reshard_after_forward = "never"`` (parameters stay gathered
from forward to backward; gradients and optimizer states sharded -- ZeRO-2's traffic).
"""

from __future__ import annotations

from typing import Any

from gpuwise.launch.plan import LaunchPlan
from gpuwise.planner.models import ModelConfig

#: gpuwise preset -> torchtitan (model.name, model.flavor) registered upstream.
FLAVORS: dict[str, tuple[str, str]] = {
    "llama-3-8b": ("llama3", "8B"),
    "llama-3-70b": ("llama3", "70B"),
    "llama-3-405b": ("llama3", "405B"),
    "deepseek-v3": ("deepseek_v3", "671B"),
}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def to_toml(doc: dict[str, dict[str, Any]], header: list[str]) -> str:
    """Render ``{table: {key: value}}`` as TOML, with ``header`` as leading comments."""
    lines = [f"# {h}" if h else "#" for h in header]
    for table, items in doc.items():
        lines += ["", f"[{table}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in items.items()]
    return "\n".join(lines) + "\n"


def emit_torchtitan(model: ModelConfig, p: LaunchPlan) -> str:
    """A torchtitan TOML job config (``--job.config_file``) for plan ``p``."""
    name, flavor = FLAVORS.get(model.name, ("deepseek_v3" if model.is_moe else "llama3",
                                            model.name))
    header = [f"torchtitan job config written by gpuwise: {model.name} on "
              f"{p.gpus} x {p.gpu_type}",
              f"dp={p.dp} tp={p.tp} pp={p.pp} vpp={p.vpp} cp={p.cp} ep={p.ep} zero={p.zero} "
              f"recompute={p.recompute} micro_batch={p.micro_batch} precision={p.precision}"]
    if model.name not in FLAVORS:
        header += ["", f"flavor {flavor!r} is not registered in torchtitan: add it to the "
                   f"{name} model args (layers={model.layers}, dim={model.hidden}, "
                   f"n_heads={model.heads}, n_kv_heads={model.kv}, ffn={model.ffn_size}, "
                   f"vocab={model.vocab})"]
    if p.zero in (1, 2):
        header += ["", f"ZeRO-{p.zero}: FSDP with parameters kept gathered between forward "
                   "and backward (torchtitan has no separate ZeRO-1/2)"]
    pipelined = p.pp > 1
    model_tbl: dict[str, Any] = {"name": name, "flavor": flavor}
    if p.precision == "fp8":
        model_tbl["converters"] = ["float8"]
    training: dict[str, Any] = {
        # with pipelining one step feeds all micro-batches through the pipeline; without it,
        # torchtitan accumulates global / (local * dp) gradient steps
        "local_batch_size": p.local_batch if pipelined else p.micro_batch,
        "global_batch_size": p.global_batch,
        "seq_len": p.seq,
        "mixed_precision_param": "bfloat16",
        "mixed_precision_reduce": "float32",
    }
    if p.fused_kernels:
        # the plan's step time assumed fused norms, rotary and activation kernels: torchtitan
        # gets them by compiling each TransformerBlock (``training.compile``)
        training["compile"] = True
    sharded = p.zero > 0
    par: dict[str, Any] = {
        "data_parallel_replicate_degree": 1 if sharded else p.dp,
        "data_parallel_shard_degree": p.dp if sharded else 1,
        "fsdp_reshard_after_forward": "default" if p.zero in (0, 3) else "never",
        "tensor_parallel_degree": p.tp,
        "pipeline_parallel_degree": p.pp,
        "context_parallel_degree": p.cp,
        "expert_parallel_degree": p.ep,
    }
    if pipelined:
        par["pipeline_parallel_schedule"] = "Interleaved1F1B" if p.vpp > 1 else "1F1B"
        par["pipeline_parallel_microbatch_size"] = p.micro_batch
        if model.layers % (p.pp * p.vpp) == 0:  # else torchtitan infers uneven split points
            par["pipeline_parallel_layers_per_stage"] = model.layers // (p.pp * p.vpp)
    # Korthikanti's selective recompute re-runs only the attention core; torchtitan's SDPA
    # (flash) backward already recomputes it inside the kernel, so such a plan is torchtitan's
    # mode "none".  A plan made with an op-level engine (``selective = "op"``, the planner's
    # torchtitan preset) budgeted torchtitan's own selective_ac_option = "op": it saves matmul
    # and attention outputs except every second matmul and re-runs everything else.
    op_sac = p.recompute == "selective" and p.selective == "op"
    ac: dict[str, Any] = {"mode": "none" if p.recompute == "selective" else p.recompute}
    if op_sac:
        ac = {"mode": "selective", "selective_ac_option": "op"}
    elif p.recompute == "selective":
        header += ["", "recompute=selective (the attention core) is built into torchtitan's "
                   "flash attention backward: activation_checkpoint.mode = \"none\""]
    doc: dict[str, dict[str, Any]] = {
        "job": {"description": f"{model.name} planned by gpuwise"},
        "model": model_tbl,
        "training": training,
        "parallelism": par,
        "activation_checkpoint": ac,
    }
    if p.precision == "fp8":
        doc["float8"] = {
            "enable_fsdp_float8_all_gather": sharded,
            "precompute_float8_dynamic_scale_for_fsdp": sharded,
            "filter_fqns": ["output"],
        }
    return to_toml(doc, header)
