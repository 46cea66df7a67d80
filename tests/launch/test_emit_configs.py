"""`emit`: torchtitan TOML, DeepSpeed JSON and Megatron-LM arguments reflect the plan."""

from __future__ import annotations

import argparse
import json
import shlex
import tomllib
from typing import Any

import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.launch import FORMATS, emit
from gpuwise.launch.plan import pipeline_split
from gpuwise.planner.models import ModelConfig, get_model

# Field names of torchtitan's JobConfig tables (torchtitan/config/job_config.py) that the
# emitter may use; a key outside these would be rejected by torchtitan's config manager.
TITAN_KEYS: dict[str, set[str]] = {
    "job": {"config_file", "dump_folder", "description", "print_args"},
    "model": {"name", "flavor", "tokenizer_path", "converters", "print_after_conversion"},
    "training": {"dataset", "dataset_path", "local_batch_size", "global_batch_size", "seq_len",
                 "max_norm", "steps", "enable_cpu_offload", "mixed_precision_param",
                 "mixed_precision_reduce", "compile", "gc_freq", "seed", "deterministic"},
    "parallelism": {"data_parallel_replicate_degree", "enable_compiled_autograd",
                    "data_parallel_shard_degree", "fsdp_reshard_after_forward",
                    "tensor_parallel_degree", "disable_loss_parallel",
                    "enable_async_tensor_parallel", "pipeline_parallel_degree",
                    "pipeline_parallel_split_points", "pipeline_parallel_layers_per_stage",
                    "pipeline_parallel_schedule", "pipeline_parallel_schedule_csv",
                    "pipeline_parallel_microbatch_size", "context_parallel_degree",
                    "context_parallel_rotate_method", "expert_parallel_degree"},
    "activation_checkpoint": {"mode", "selective_ac_option",
                              "per_op_sac_force_recompute_mm_shapes_by_fqns"},
    "float8": {"enable_fsdp_float8_all_gather", "precompute_float8_dynamic_scale_for_fsdp",
               "force_recompute_fp8_weight_in_bwd", "recipe_name", "filter_fqns", "emulate"},
}
# Top-level keys of DeepSpeed's config (deepspeed/runtime/config.py, docs/config-json).
DS_KEYS = {"train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
           "gradient_clipping", "bf16", "fp16", "zero_optimization", "optimizer", "scheduler",
           "steps_per_print", "wall_clock_breakdown", "activation_checkpointing", "pipeline",
           "tensor_parallel", "sequence_parallel_size"}


def megatron_parser() -> argparse.ArgumentParser:
    """The Megatron-LM flags the emitter may write, as megatron/training/arguments.py
    declares them (types, actions, choices); unknown flags make parsing fail."""
    p = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False)
    for flag in ("--num-layers", "--hidden-size", "--num-attention-heads", "--ffn-hidden-size",
                 "--seq-length", "--max-position-embeddings", "--kv-channels",
                 "--num-query-groups", "--num-experts", "--moe-router-topk",
                 "--moe-ffn-hidden-size", "--moe-shared-expert-intermediate-size",
                 "--kv-lora-rank", "--q-lora-rank", "--qk-head-dim", "--qk-pos-emb-head-dim",
                 "--v-head-dim", "--tensor-model-parallel-size", "--pipeline-model-parallel-size",
                 "--context-parallel-size", "--expert-model-parallel-size", "--micro-batch-size",
                 "--global-batch-size", "--num-layers-per-virtual-pipeline-stage",
                 "--recompute-num-layers", "--decoder-first-pipeline-num-layers",
                 "--decoder-last-pipeline-num-layers"):
        p.add_argument(flag, type=int)
    for flag in ("--attention-dropout", "--hidden-dropout"):
        p.add_argument(flag, type=float)
    for flag in ("--group-query-attention", "--swiglu", "--untie-embeddings-and-output-weights",
                 "--multi-latent-attention", "--add-qkv-bias", "--bf16", "--sequence-parallel",
                 "--use-distributed-optimizer", "--use-megatron-fsdp", "--overlap-grad-reduce",
                 "--overlap-param-gather"):
        p.add_argument(flag, action="store_true")
    p.add_argument("--disable-bias-linear", action="store_false", dest="add_bias_linear")
    p.add_argument("--normalization", choices=["LayerNorm", "RMSNorm"])
    p.add_argument("--position-embedding-type", choices=["learned_absolute", "rope", "none"])
    p.add_argument("--fp8-format", choices=["e4m3", "hybrid"], dest="fp8")
    p.add_argument("--data-parallel-sharding-strategy",
                   choices=["no_shard", "optim", "optim_grads", "optim_grads_params"])
    p.add_argument("--recompute-granularity", choices=["full", "selective"])
    p.add_argument("--recompute-method", choices=["uniform", "block"])
    p.add_argument("--moe-layer-freq", type=str)
    p.add_argument("--no-gradient-accumulation-fusion", action="store_false",
                   dest="gradient_accumulation_fusion")
    p.add_argument("--ckpt-format", choices=["torch", "torch_dist", "zarr", "fsdp_dtensor"])
    return p


def parse_megatron(text: str) -> argparse.Namespace:
    return megatron_parser().parse_args(shlex.split(text.replace("\\\n", " ")))


def plan(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"dp": 8, "tp": 1, "pp": 1, "vpp": 1, "cp": 1, "ep": 1, "zero": 1,
                            "recompute": "none", "micro_batch": 2, "precision": "bf16",
                            "global_batch": 256, "seq": 4096, "gpus": 8, "gpu_type": "A800"}
    base.update(kw)
    return base


LLAMA = get_model("llama-3-70b")
PLANS = [
    plan(),
    plan(dp=4, tp=8, pp=2, vpp=2, zero=1, recompute="selective", micro_batch=1, gpus=64,
         global_batch=512, seq=8192),
    plan(dp=16, tp=2, pp=2, zero=0, recompute="full", micro_batch=4, gpus=64),
    plan(dp=2, tp=4, cp=2, zero=3, precision="fp8", micro_batch=1, gpus=16, seq=32768),
    plan(dp=8, tp=1, zero=2, recompute="selective", micro_batch=8, global_batch=1024),
]


@pytest.mark.parametrize("p", PLANS)
def test_torchtitan_toml_reflects_plan(p: dict[str, Any]) -> None:
    doc = tomllib.loads(emit("torchtitan", LLAMA, p))
    for table, keys in doc.items():
        assert set(keys) <= TITAN_KEYS[table], (table, set(keys) - TITAN_KEYS[table])
    par, tr = doc["parallelism"], doc["training"]
    assert par["tensor_parallel_degree"] == p["tp"]
    assert par["pipeline_parallel_degree"] == p["pp"]
    assert par["context_parallel_degree"] == p["cp"]
    assert par["data_parallel_replicate_degree"] * par["data_parallel_shard_degree"] == p["dp"]
    assert (par["data_parallel_shard_degree"] > 1) == (p["zero"] > 0 and p["dp"] > 1)
    assert tr["global_batch_size"] == p["global_batch"]
    assert tr["seq_len"] == p["seq"]
    if p["pp"] > 1:
        assert par["pipeline_parallel_microbatch_size"] == p["micro_batch"]
        assert tr["local_batch_size"] * p["dp"] == p["global_batch"]
        stages = LLAMA.layers // par["pipeline_parallel_layers_per_stage"]
        assert stages == p["pp"] * p["vpp"]
        assert par["pipeline_parallel_schedule"] == ("Interleaved1F1B" if p["vpp"] > 1
                                                     else "1F1B")
    else:
        assert tr["local_batch_size"] == p["micro_batch"]
    # selective (the attention core) is what torchtitan's flash backward already re-runs; its
    # "op" SAC would recompute half the matmuls, which the plan did not budget
    want = "none" if p["recompute"] == "selective" else p["recompute"]
    assert doc["activation_checkpoint"]["mode"] == want
    assert "selective_ac_option" not in doc["activation_checkpoint"]
    assert ("float8" in doc["model"].get("converters", [])) == (p["precision"] == "fp8")
    assert (doc["model"]["name"], doc["model"]["flavor"]) == ("llama3", "70B")


@pytest.mark.parametrize("p", [q for q in PLANS if q["precision"] == "bf16"])
def test_deepspeed_json_reflects_plan(p: dict[str, Any]) -> None:
    if p["pp"] > 1 and p["zero"] >= 2:
        pytest.fail("test plan not expressible in DeepSpeed")
    cfg = json.loads(emit("deepspeed", LLAMA, p))
    assert set(cfg) <= DS_KEYS, set(cfg) - DS_KEYS
    # DeepSpeed's own batch identity: train = micro * accumulation * data-parallel size
    assert cfg["train_batch_size"] == (cfg["train_micro_batch_size_per_gpu"]
                                       * cfg["gradient_accumulation_steps"] * p["dp"])
    assert cfg["train_batch_size"] == p["global_batch"]
    assert cfg["train_micro_batch_size_per_gpu"] == p["micro_batch"]
    assert cfg["zero_optimization"]["stage"] == p["zero"]
    assert cfg["bf16"]["enabled"] is True
    assert cfg.get("pipeline", {}).get("stages", 1) == p["pp"]
    assert cfg.get("tensor_parallel", {}).get("autotp_size", 1) == p["tp"]
    assert cfg.get("sequence_parallel_size", 1) == p["cp"]
    assert ("activation_checkpointing" in cfg) == (p["recompute"] != "none")


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"precision": "fp8"}, "FP8"),
     ({"dp": 2, "pp": 4, "zero": 3, "gpus": 8, "global_batch": 64}, "ZeRO stage 0-1")],
)
def test_deepspeed_refuses_what_it_cannot_express(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(GpuwiseError, match=match):
        emit("deepspeed", LLAMA, plan(**kw))


def test_deepspeed_refuses_expert_parallelism() -> None:
    moe = get_model("mixtral-8x7b")
    with pytest.raises(GpuwiseError, match="ep_size=8"):
        emit("deepspeed", moe, plan(ep=8))


@pytest.mark.parametrize("p", PLANS)
def test_megatron_args_parse_and_reflect_plan(p: dict[str, Any]) -> None:
    a = parse_megatron(emit("megatron", LLAMA, p))
    assert (a.tensor_model_parallel_size, a.pipeline_model_parallel_size) == (p["tp"], p["pp"])
    assert a.context_parallel_size == p["cp"]
    assert a.expert_model_parallel_size == p["ep"]
    assert (a.micro_batch_size, a.global_batch_size) == (p["micro_batch"], p["global_batch"])
    assert a.seq_length == p["seq"]
    assert a.bf16
    assert a.fp8 == ("hybrid" if p["precision"] == "fp8" else None)
    assert a.sequence_parallel == (p["tp"] > 1)
    layers_per_chunk = a.num_layers_per_virtual_pipeline_stage
    if p["vpp"] > 1:
        assert a.num_layers // (p["pp"] * layers_per_chunk) == p["vpp"]
    else:
        assert layers_per_chunk is None
    assert a.use_distributed_optimizer == (p["zero"] >= 1)
    strategy = {2: "optim_grads", 3: "optim_grads_params"}.get(p["zero"])
    assert a.data_parallel_sharding_strategy == strategy
    assert a.use_megatron_fsdp == (p["zero"] >= 2)
    assert a.ckpt_format == ("fsdp_dtensor" if p["zero"] >= 2 else None)
    assert a.recompute_granularity == {"none": None}.get(p["recompute"], p["recompute"])
    # architecture
    assert (a.num_layers, a.hidden_size, a.num_attention_heads) == (80, 8192, 64)
    assert a.group_query_attention and a.num_query_groups == 8
    assert a.swiglu and a.ffn_hidden_size == LLAMA.ffn_size
    assert a.normalization == "RMSNorm" and not a.add_bias_linear


def test_megatron_gpt_and_moe_architecture_flags() -> None:
    gpt = get_model("gpt3-175b")
    a = parse_megatron(emit("megatron", gpt, plan(dp=1, tp=8, pp=8, gpus=64, global_batch=64,
                                                  micro_batch=1, seq=2048)))
    assert a.position_embedding_type == "learned_absolute"
    assert a.normalization == "LayerNorm" and a.add_bias_linear
    assert not a.untie_embeddings_and_output_weights and not a.swiglu
    moe = get_model("deepseek-v3")
    b = parse_megatron(emit("megatron", moe, plan(dp=8, ep=8, pp=8, gpus=64, global_batch=64,
                                                  micro_batch=1)))
    assert b.num_experts == moe.experts and b.moe_router_topk == moe.top_k
    assert b.expert_model_parallel_size == 8
    assert b.multi_latent_attention and b.kv_lora_rank == moe.mla.kv_lora_rank  # type: ignore[union-attr]
    # 61 layers on 8 stages: equal middle stages, the remainder on the first and last
    first, last = b.decoder_first_pipeline_num_layers, b.decoder_last_pipeline_num_layers
    middle = (moe.layers - first - last) / 6
    assert middle == int(middle) and abs(first - middle) <= middle and last <= middle
    pattern = eval(b.moe_layer_freq)  # Megatron evaluates this list expression the same way
    assert len(pattern) == moe.layers and sum(pattern) == moe.moe_layers


def test_custom_model_gets_an_honest_torchtitan_flavor() -> None:
    m = ModelConfig(layers=4, hidden=256, heads=4, vocab=1000)
    text = emit("torchtitan", m, plan(dp=8))
    doc = tomllib.loads(text)
    assert doc["model"]["flavor"] == "custom"
    assert "not registered in torchtitan" in text


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"gpus": 16}, "dp\\*tp\\*pp\\*cp = 8"),
     ({"global_batch": 100}, "not a multiple"),
     ({"tp": 3, "dp": 1, "gpus": 3}, "does not divide"),
     ({"pp": 3, "vpp": 2, "dp": 1, "gpus": 3, "global_batch": 6}, "equal interleaved"),
     ({"recompute": "ful"}, "did you mean full"),
     ({"zero": 4}, "ZeRO stages are 0-3"),
     ({"ep": 2}, "mixture-of-experts")],
)
def test_bad_plans_are_one_line_errors(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(GpuwiseError, match=match):
        emit("megatron", LLAMA, plan(**kw))


def test_unknown_format_and_missing_keys() -> None:
    with pytest.raises(GpuwiseError, match="did you mean deepspeed"):
        emit("deepspeeed", LLAMA, plan())
    p = plan()
    del p["micro_batch"]
    with pytest.raises(GpuwiseError, match="missing key.*micro_batch"):
        emit("torchtitan", LLAMA, p)
    assert set(FORMATS) == {"torchtitan", "deepspeed", "megatron"}


@pytest.mark.parametrize(("layers", "pp"), [(61, 8), (80, 3), (7, 2), (10, 9), (32, 32)])
def test_pipeline_split_covers_every_layer(layers: int, pp: int) -> None:
    first, middle, last = pipeline_split(layers, pp)
    assert first + last + (pp - 2) * middle == layers if pp > 1 else first == layers
    assert min(first, last) >= 1
    assert middle >= 1 or pp <= 2


def test_numpy_integers_from_the_search_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    p = {k: (np.int64(v) if isinstance(v, int) else v) for k, v in plan().items()}
    assert parse_megatron(emit("megatron", LLAMA, p)).global_batch_size == 256
    with pytest.raises(GpuwiseError, match="positive integer"):
        emit("megatron", LLAMA, plan(dp=2.5))


@pytest.mark.parametrize("fmt", FORMATS)
def test_plan_train_emit_matches_the_best_plan(cli: Any, fmt: str) -> None:
    res = cli("plan", "train", "--model", "llama-3-8b", "--gpus", "16xA800",
              "--global-batch", "256", "--emit", fmt, "--json")
    assert res.code == 0, res.err
    out = res.json()
    best, text = out["best"], out["emitted"]
    if fmt == "megatron":
        a = parse_megatron(text)
        got = (a.tensor_model_parallel_size, a.pipeline_model_parallel_size, a.micro_batch_size)
        assert a.use_distributed_optimizer == (best["zero"] >= 1)
    elif fmt == "torchtitan":
        par = tomllib.loads(text)["parallelism"]
        got = (par["tensor_parallel_degree"], par["pipeline_parallel_degree"],
               par.get("pipeline_parallel_microbatch_size", best["micro_batch"]))
    else:
        cfg = json.loads(text)
        got = (cfg.get("tensor_parallel", {}).get("autotp_size", 1),
               cfg.get("pipeline", {}).get("stages", 1), cfg["train_micro_batch_size_per_gpu"])
        assert cfg["zero_optimization"]["stage"] == best["zero"]
    assert got == (best["tp"], best["pp"], best["micro_batch"])


def test_op_selective_plan_emits_torchtitan_op_sac() -> None:
    """A plan made with an op-level engine (the planner's torchtitan preset) budgeted
    torchtitan's own selective_ac_option = "op"; Megatron-LM cannot express it."""
    p = plan(recompute="selective", selective="op")
    ac = tomllib.loads(emit("torchtitan", LLAMA, p))["activation_checkpoint"]
    assert ac == {"mode": "selective", "selective_ac_option": "op"}
    with pytest.raises(GpuwiseError, match="op-level"):
        emit("megatron", LLAMA, p)
    with pytest.raises(GpuwiseError, match="selective"):
        emit("torchtitan", LLAMA, plan(selective="layer"))


def test_plan_train_torchtitan_engine_emits_op_sac(cli: Any) -> None:
    res = cli("plan", "train", "--model", "llama-3-8b", "--gpus", "16xA800", "--global-batch",
              "256", "--engine", "torchtitan", "--recompute", "selective", "--emit",
              "torchtitan", "--json")
    assert res.code == 0, res.err
    ac = tomllib.loads(res.json()["emitted"])["activation_checkpoint"]
    assert ac == {"mode": "selective", "selective_ac_option": "op"}


def test_torchtitan_compiles_when_the_plan_budgeted_fused_kernels(cli: Any) -> None:
    """A plan whose engine fused the elementwise kernels (torchtitan-compile, modern) runs
    torchtitan with ``training.compile``; the eager torchtitan preset does not."""
    for engine, want in (("torchtitan-compile", True), ("torchtitan", None), ("modern", True)):
        res = cli("plan", "train", "--model", "llama-3-8b", "--gpus", "16xA800",
                  "--global-batch", "256", "--engine", engine, "--emit", "torchtitan", "--json")
        assert res.code == 0, res.err
        assert tomllib.loads(res.json()["emitted"])["training"].get("compile") is want
    with pytest.raises(GpuwiseError, match="fused_kernels"):
        emit("torchtitan", LLAMA, plan(fused_kernels="yes"))
