"""Megatron-LM command-line arguments for a plan (``pretrain_gpt.py`` flags).

Flag names follow ``megatron/training/arguments.py``.  ZeRO maps onto Megatron-Core's data
parallelism: stage 1 is the distributed optimizer (``--use-distributed-optimizer`` shards
fp32 master weights and Adam moments); stages 2 and 3 are Megatron-FSDP with
``--data-parallel-sharding-strategy optim_grads`` / ``optim_grads_params``.  Selective
recompute is ``--recompute-granularity selective`` (Korthikanti et al. 2022: the attention
core); full recompute re-runs every layer (``uniform``, 1 layer per checkpoint).

The output is one flag per line joined with `` \\`` continuations, ready to paste into a
launch script after ``torchrun ... pretrain_gpt.py``; data, tokenizer (the vocabulary size
comes from it), learning-rate and checkpoint flags stay the user's.
"""

from __future__ import annotations

from gpuwise.errors import GpuwiseError
from gpuwise.launch.plan import LaunchPlan, pipeline_split
from gpuwise.planner.models import ModelConfig


def _moe_layer_pattern(model: ModelConfig) -> str:
    """``--moe-layer-freq`` as an explicit 0/1 list (1 = MoE layer)."""
    return "[" + ",".join("1" if model.is_moe_layer(i) else "0" for i in range(model.layers)) + "]"


def model_args(model: ModelConfig, seq: int) -> list[list[str]]:
    """Architecture flags, one list per flag with its value(s)."""
    a: list[list[str]] = [
        ["--num-layers", str(model.layers)],
        ["--hidden-size", str(model.hidden)],
        ["--num-attention-heads", str(model.heads)],
        ["--ffn-hidden-size", str(model.ffn_size)],
        ["--seq-length", str(seq)],
        ["--max-position-embeddings", str(max(seq, model.seq_len))],
        ["--normalization", "RMSNorm" if model.norm == "rmsnorm" else "LayerNorm"],
        ["--position-embedding-type", "learned_absolute" if model.learned_pos_emb else "rope"],
    ]
    if model.head_dim is not None and model.mla is None:
        a.append(["--kv-channels", str(model.head_dim)])
    if model.kv != model.heads and model.mla is None:
        a += [["--group-query-attention"], ["--num-query-groups", str(model.kv)]]
    if model.ffn_type == "swiglu":
        a.append(["--swiglu"])
    if not model.bias:
        a.append(["--disable-bias-linear"])
        if model.qkv_bias:
            a.append(["--add-qkv-bias"])
    if not model.tied_embeddings:
        a.append(["--untie-embeddings-and-output-weights"])
    if not model.dropout:
        a += [["--attention-dropout", "0.0"], ["--hidden-dropout", "0.0"]]
    if model.mla is not None:
        m = model.mla
        a += [["--multi-latent-attention"], ["--kv-lora-rank", str(m.kv_lora_rank)],
              ["--qk-head-dim", str(m.qk_nope_head_dim)],
              ["--qk-pos-emb-head-dim", str(m.qk_rope_head_dim)],
              ["--v-head-dim", str(m.v_head_dim)]]
        if m.q_lora_rank:
            a.append(["--q-lora-rank", str(m.q_lora_rank)])
    if model.is_moe:
        a += [["--num-experts", str(model.experts)], ["--moe-router-topk", str(model.top_k)],
              ["--moe-ffn-hidden-size", str(model.expert_ffn)]]
        if model.shared_experts:
            a.append(["--moe-shared-expert-intermediate-size",
                      str(model.shared_experts * model.expert_ffn)])
        if model.moe_layers != model.layers:
            a.append(["--moe-layer-freq", _moe_layer_pattern(model)])
    return a


def parallel_args(model: ModelConfig, p: LaunchPlan) -> list[list[str]]:
    """Parallelism, batch, precision, ZeRO and recompute flags."""
    a: list[list[str]] = [
        ["--tensor-model-parallel-size", str(p.tp)],
        ["--pipeline-model-parallel-size", str(p.pp)],
        ["--context-parallel-size", str(p.cp)],
        ["--expert-model-parallel-size", str(p.ep)],
        ["--micro-batch-size", str(p.micro_batch)],
        ["--global-batch-size", str(p.global_batch)],
        ["--bf16"],
    ]
    if p.tp > 1:
        a.append(["--sequence-parallel"])
    if p.vpp > 1:
        a.append(["--num-layers-per-virtual-pipeline-stage", str(model.layers // (p.pp * p.vpp))])
    elif model.layers % p.pp:
        first, _middle, last = pipeline_split(model.layers, p.pp)
        a += [["--decoder-first-pipeline-num-layers", str(first)],
              ["--decoder-last-pipeline-num-layers", str(last)]]
    if p.precision == "fp8":
        a.append(["--fp8-format", "hybrid"])
    if p.zero >= 1:
        a.append(["--use-distributed-optimizer"])
    if p.zero >= 2:
        strategy = "optim_grads" if p.zero == 2 else "optim_grads_params"
        # Megatron-FSDP's documented companions: no fused wgrad accumulation, DTensor ckpts
        a += [["--use-megatron-fsdp"], ["--data-parallel-sharding-strategy", strategy],
              ["--no-gradient-accumulation-fusion"], ["--ckpt-format", "fsdp_dtensor"]]
    a.append(["--overlap-grad-reduce"])
    if p.zero >= 1:
        a.append(["--overlap-param-gather"])
    if p.recompute == "selective" and p.selective == "op":
        raise GpuwiseError("--emit megatron: the plan budgets torchtitan's op-level selective "
                           "recompute, which Megatron-LM cannot express; plan with another "
                           "--engine or --recompute none/full")
    if p.recompute == "selective":
        a.append(["--recompute-granularity", "selective"])
    elif p.recompute == "full":
        a += [["--recompute-granularity", "full"], ["--recompute-method", "uniform"],
              ["--recompute-num-layers", "1"]]
    return a


def emit_megatron(model: ModelConfig, p: LaunchPlan) -> str:
    """Megatron-LM arguments for plan ``p``, one flag per line with ``\\`` continuations."""
    flags = model_args(model, p.seq) + parallel_args(model, p)
    return " \\\n".join(" ".join(f) for f in flags) + "\n"
