"""Software-behaviour effects of the time model, each checked in isolation (Engine presets)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import step_time

MEGATRON = ENGINES["megatron-2022"]


def _step(engine: Engine, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"seq": 2048, "global_batch": 64, "gpus": 64, "tp": 8, "pp": 8}
    args.update(kw)
    return evaluate_config(get_model("gpt-175b-megatron"), "A100-80GB", engine=engine, **args)


def test_interleaving_shrinks_bubble_but_multiplies_p2p() -> None:
    """v chunks: bubble (p-1)/v micro-batch slots, but v times the stage-to-stage traffic."""
    plain, inter = _step(MEGATRON, vpp=1), _step(MEGATRON, vpp=3)
    assert inter["time_s"]["pipeline_bubble"] < plain["time_s"]["pipeline_bubble"] / 2.5
    assert inter["time_s"]["microbatch"] > plain["time_s"]["microbatch"]


def test_sequence_parallel_backward_regathers_inputs() -> None:
    """SP trades replicated elementwise work for two extra all-gathers in the backward pass."""
    sp = _step(MEGATRON)
    no_sp = _step(replace(MEGATRON, sequence_parallel=False))
    # forward 2 all-gathers + 2 reduce-scatters either way (= 2 all-reduces); backward 6 ops
    ratio = sp["time_s"]["tp_comm"] / no_sp["time_s"]["tp_comm"]
    assert ratio == pytest.approx(10 / 8, rel=0.03)


def test_fused_gradient_accumulation_saves_a_pass_per_microbatch() -> None:
    fused = _step(MEGATRON)
    unfused = _step(replace(MEGATRON, grad_acc_fusion=False))
    # 64 micro-batches each stream 8 B per local parameter (~2.8e9 on the last stage)
    saved = unfused["time_s"]["step"] - fused["time_s"]["step"]
    assert saved == pytest.approx(64 * 8 * 2.8e9 / (2039e9 * 0.9), rel=0.2)


def test_first_generation_flash_attention_is_slower() -> None:
    kw: dict[str, Any] = {"gpus": 8, "tp": 1, "pp": 1, "zero": 3, "micro_batch": 4}
    kw.update(seq=2048, global_batch=32)
    m = get_model("mpt-7b")
    fa2: dict[str, Any] = evaluate_config(m, "A100-80GB", engine="fsdp", **kw)
    fa1: dict[str, Any] = evaluate_config(m, "A100-80GB", engine="llm-foundry-2023", **kw)
    ratio = fa1["time_s"]["step"] / fa2["time_s"]["step"]
    assert 1.03 < ratio < 1.15  # attention is ~7 % of an MPT-7B step at 2k tokens


def test_mfu_is_against_the_bf16_peak_for_every_precision() -> None:
    """An FP8 plan's MFU uses the dense BF16 peak (torchtitan's convention), so the FP8
    speed-up shows as a higher MFU on the same scale as BF16 plans."""
    kw: dict[str, Any] = {"seq": 4096, "global_batch": 64, "gpus": 8, "tp": 8, "pp": 1}
    model = get_model("llama-2-7b")
    bf16 = evaluate_config(model, "H100-SXM", precision="bf16", **kw)
    fp8 = evaluate_config(model, "H100-SXM", precision="fp8", **kw)
    for r in (bf16, fp8):
        assert r["mfu"] == pytest.approx(r["tflops_per_gpu"] / 989.0, rel=1e-3)
    assert fp8["tflops_per_gpu"] > bf16["tflops_per_gpu"]
    assert fp8["mfu"] > bf16["mfu"]


def _with(kw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": 2048, "tp": 8}
    out.update(kw)
    return out


GPT_22B = get_model("gpt-22b")


def _added_22b(on: Engine, off: Engine, **over: Any) -> tuple[float, float]:
    """(optimizer time, step time) engine ``on`` adds over ``off``: GPT 22B on 8 A100s, TP 8,
    global batch 4 in one micro-batch, full recompute (``over`` changes any of these)."""
    kw: dict[str, Any] = {"pp": 1, "global_batch": 4, "gpus": 8, "micro_batch": 4}
    kw.update({"recompute": "full", **over})
    a: dict[str, Any] = evaluate_config(GPT_22B, "A100-80GB", engine=on, **_with(kw))
    b: dict[str, Any] = evaluate_config(GPT_22B, "A100-80GB", engine=off, **_with(kw))
    return (a["time_s"]["optimizer"] - b["time_s"]["optimizer"],
            a["time_s"]["step"] - b["time_s"]["step"])


def test_megatron_grad_buffer_scaling_streams_every_local_gradient_once_more() -> None:
    """Megatron-LM's local DDP divides the fp32 gradient buffer by the DP size every step,
    also at DP = 1: one read + write (8 B) per local parameter, once per step."""
    plain = replace(MEGATRON, grad_buffer_scale=False)
    opt_added, added = _added_22b(MEGATRON, plain, recompute="selective")
    local_params = GPT_22B.num_params() / 8  # TP = 8 shards every weight
    assert added == pytest.approx(8 * local_params / (2039e9 * 0.9), rel=0.05)
    assert added == pytest.approx(opt_added, rel=1e-9)


def _embedding_sync(model: str, tp: int, pp: int, gpus: int) -> float:
    setup = Setup(2048, 64, gpus, engine=MEGATRON)
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    parts = step_time(get_model(model), single(dp=gpus // (tp * pp), tp=tp, pp=pp), setup, hw)
    return float(parts["embedding_sync"][0])


def test_tied_embeddings_on_two_stages_sync_their_gradients_once_per_step() -> None:
    """Pipeline-parallel GPT with tied embeddings: one all-reduce of the fp32 embedding
    gradient shard (V h / t x 4 B) between the first and last stage (two ranks, across
    nodes), after the backward pass; nothing without pipelining or without tying."""
    m = get_model("gpt-175b-megatron")
    shard = 4.0 * m.vocab * m.hidden / 8
    # a ring all-reduce on 2 ranks moves S bytes over the 25 GB/s-per-GPU network at 90 %
    synced = _embedding_sync("gpt-175b-megatron", 8, 8, 64)
    assert synced == pytest.approx(shard / (25e9 * 0.9), rel=0.05)
    assert _embedding_sync("gpt-175b-megatron", 8, 1, 8) == 0.0
    assert not get_model("llama-2-70b").tied_embeddings
    assert _embedding_sync("llama-2-70b", 8, 8, 64) == 0.0


def test_fp16_loss_scaling_unscales_every_local_gradient_once_per_step() -> None:
    """fp16 runs (megatron-2021: the SC21 scripts' ``--fp16``) unscale the fp32 main gradients
    and check them for inf/nan before clipping: one more read + write (8 B) per local
    parameter per step, in the optimizer (at the streaming rate once the multi-tensor launch
    cost, tested in test_planner_optimizer_step, is off)."""
    fp16 = replace(ENGINES["megatron-2021"], split_multi_tensor_launch=False)
    assert fp16.fp16_loss_scaling and not MEGATRON.fp16_loss_scaling
    added, step_added = _added_22b(fp16, replace(fp16, fp16_loss_scaling=False))
    assert added == pytest.approx(8 * GPT_22B.num_params() / 8 / (2039e9 * 0.9), rel=0.05)
    assert added == pytest.approx(step_added, rel=1e-9)


def test_vocab_parallel_collectives_run_once_per_micro_batch_on_the_last_stage() -> None:
    """Megatron-LM's vocab-parallel output layer under SP: all-gather of the input, then
    backward a reduce-scatter and a re-gather (3 ops on 2 h s bytes), plus the loss's three
    small all-reduces; without SP one all-reduce of the input gradient.  Per micro-batch, on
    the last stage; the first stage's embedding collectives only count at PP = 1."""
    hidden_bytes = 2.0 * 12288 * 2048  # 175B, micro-batch 1
    bw = 300e9 * 0.68  # NVLink 3 at NCCL's measured fraction
    gather = 7 / 8 * hidden_bytes / bw + 8.4e-6 + 7 * 3.4e-6  # NCCL ring latency model
    reduce = 14 / 8 * hidden_bytes / bw + 8.4e-6 + 14 * 3.4e-6
    loss = 3 * (8.4e-6 + 14 * 3.4e-6)  # three all-reduces of 2048 fp32 values: latency
    no_sp = replace(MEGATRON, sequence_parallel=False)
    for engine, per_mb in ((MEGATRON, 3 * gather + loss), (no_sp, reduce + loss)):
        on = _step(engine)
        off = _step(replace(engine, vocab_comm=False))
        added = on["time_s"]["step"] - off["time_s"]["step"]
        assert off["time_s"]["vocab_comm"] == 0.0
        assert added == pytest.approx(on["time_s"]["vocab_comm"], rel=1e-9)
        assert added == pytest.approx(64 * per_mb, rel=0.01)  # 64 micro-batches
    # PP = 1: the first stage is the last, its embedding all-reduce (+ SP all-gather) counts
    flat = _step(MEGATRON, pp=1, gpus=8)
    expected = 64 * (4 * gather + reduce + loss)
    assert flat["time_s"]["vocab_comm"] == pytest.approx(expected, rel=0.01)


def test_fp16_model_grads_are_copied_to_fp32_main_grads_for_the_optimizer() -> None:
    """megatron-2021 keeps fp16 model gradients (the SC21 scripts set no
    ``--accumulate-allreduce-grads-in-fp32``); the fp16 optimizer copies them to fp32 (2 B read
    + 4 B written) and its unscale (2 x), clipping-norm and Adam reads then touch 4 B, not 2 B:
    6 + 4 + 2 + 2 = 14 B more per local parameter per step, all in the optimizer (at the
    streaming rate once the multi-tensor launch cost is off)."""
    eng = replace(ENGINES["megatron-2021"], split_multi_tensor_launch=False)
    assert eng.grad_bytes == 2 and eng.main_grad_copy
    assert ENGINES["megatron-2021-torch-ddp"].main_grad_copy
    assert not MEGATRON.main_grad_copy  # 2022: fp32 gradient buffer, ``.float()`` is a no-op
    added, step_added = _added_22b(eng, replace(eng, main_grad_copy=False))
    assert added == pytest.approx(14 * GPT_22B.num_params() / 8 / (2039e9 * 0.9), rel=0.05)
    assert added == pytest.approx(step_added, rel=1e-9)


def test_megatron_2021_torch_ddp_overlaps_its_all_reduce_and_skips_the_scaling_pass() -> None:
    """``--DDP-impl torch``: PyTorch DDP all-reduces gradient buckets during the backward pass
    and divides inside its bucket copy; ``--DDP-impl local`` all-reduces after the backward
    pass, after a separate ``/= dp`` pass over the gradients."""
    local, torch_ddp = ENGINES["megatron-2021"], ENGINES["megatron-2021-torch-ddp"]
    assert torch_ddp.overlap_dp and not local.overlap_dp
    assert local.grad_buffer_scale and not torch_ddp.grad_buffer_scale
    same = {"name": local.name, "grad_hook_add": True, "grad_buffer_scale": True}
    assert replace(torch_ddp, overlap_dp=False, **same) == local
    kw: dict[str, Any] = {"seq": 2048, "global_batch": 512, "gpus": 32, "tp": 1, "pp": 1}
    kw.update(micro_batch=16, recompute="full")
    m = get_model("gpt-22b")
    r_local: dict[str, Any] = evaluate_config(m, "A100-80GB", engine=local, **kw)
    r_torch: dict[str, Any] = evaluate_config(m, "A100-80GB", engine=torch_ddp, **kw)
    assert r_local["time_s"]["dp_exposed"] > 0.0 == r_torch["time_s"]["dp_exposed"]


def test_megatron_local_ddp_hook_reads_the_new_gradient_every_micro_batch() -> None:
    """Megatron-LM's local DDP adds every parameter's fresh 16-bit gradient into its buffer
    from a hook, each micro-batch: 2 B read on top of the buffer's read + write."""
    eng = ENGINES["megatron-2021"]
    assert eng.grad_hook_add and not ENGINES["megatron-2021-torch-ddp"].grad_hook_add
    _, added = _added_22b(eng, replace(eng, grad_hook_add=False), global_batch=16)
    # 4 micro-batches x 2 B per local parameter (TP 8)
    assert added == pytest.approx(4 * 2 * GPT_22B.num_params() / 8 / (2039e9 * 0.9), rel=0.05)


def test_list_all_gather_of_p2p_slices_copies_each_received_activation() -> None:
    """Megatron-LM 2021 re-assembles the scatter/gather p2p slices with a list all-gather:
    one read + write of the full activation per hop, 2 v hops in each of the m + (p-1)/v
    slots (no sequence parallelism)."""
    eng = ENGINES["megatron-2021"]
    kw: dict[str, Any] = {"vpp": 3, "global_batch": 64}
    with_copy = _step(eng, **kw)["time_s"]["step"]
    without = _step(replace(eng, p2p_gather_copy=False), **kw)["time_s"]["step"]
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    act = 2.0 * 12288 * 2048  # bytes of one micro-batch's activation (fp16, s x b x h)
    copy = float(hw.stream_time(np.array([2.0 * act]))[0])
    slots = 64 + (8 - 1) / 3
    assert with_copy - without == pytest.approx(slots * 2 * 3 * copy, rel=1e-6)
    # sequence parallelism sends unsplit (s/t) x b x h tensors: nothing to gather or copy
    sp = replace(eng, sequence_parallel=True)
    assert _step(sp, **kw)["time_s"]["step"] == pytest.approx(
        _step(replace(sp, p2p_gather_copy=False), **kw)["time_s"]["step"]
    )
