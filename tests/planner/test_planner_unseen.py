"""Out-of-sample published runs (``tests/data/planner/unseen_runs.csv``): data integrity and
physical properties of the planner on them.  The published-vs-predicted comparison itself is a
report (``benchmarks/bench_planner_unseen.py``), not a golden test: these rows must stay unseen.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_planner_unseen import (
    CSV,
    applies,
    compare,
    engine_for,
    evaluate_row,
    load_rows,
    overlap_pairs,
    precision_pairs,
    summarize,
)
from gpuwise.planner.flops import model_flops_per_token, narayanan_flops_per_iteration
from gpuwise.planner.models import get_model

ROWS = load_rows(CSV)
USED = [r for r in ROWS if r["use"] == "yes"]
FP8_H100 = [r for r in USED if r["precision"] == "fp8" and r["gpu"] == "H100-SXM"]
#: rows whose published tokens/s were converted from a published TFLOP/s figure (SOURCE.md)
LLAMA3 = [r for r in USED if r["source"] == "llama3-herd-2024"]
MTNLG = [r for r in USED if r["source"] == "mtnlg-2022"]


@pytest.mark.parametrize("row", USED, ids=[r["id"] for r in USED])
def test_row_is_a_valid_configuration(row: dict[str, str]) -> None:
    """Every evaluated row names a preset and a configuration whose sizes divide (a row that
    cannot run as written would make its comparison meaningless)."""
    model = get_model(row["model"])
    gpus, tp, pp, cp = (int(row[k]) for k in ("gpus", "tp", "pp", "cp"))
    assert gpus % (tp * pp * cp) == 0
    dp = gpus // (tp * pp * cp)
    assert int(row["global_batch"]) % (dp * int(row["micro_batch"])) == 0
    assert model.heads % tp == 0
    assert float(row["published_tokens_per_s_per_gpu"]) > 0


@pytest.mark.parametrize("row", FP8_H100, ids=[r["id"] for r in FP8_H100])
def test_fp8_faster_than_bf16_but_less_than_twice(row: dict[str, str]) -> None:
    """FP8 doubles only the tensor-core GEMM rate: attention, norms, collectives and the
    optimizer do not speed up, so a whole step gains more than nothing and less than 2x.
    Under Megatron-Core's 1F1B EP all-to-all overlap (``-a2aoverlap``) a step whose all-to-all
    outlasts the compute it pairs with is the all-to-all's length in either precision
    (planner.moe_overlap), and FP8 adds its weight casts: there it must not gain 2x and must
    not lose more than those casts (1 %)."""
    fp8 = evaluate_row(row)["tokens_per_s_per_gpu"]
    bf16 = evaluate_row({**row, "precision": "bf16"})["tokens_per_s_per_gpu"]
    if engine_for(row["engine"]).ep_a2a_overlap:
        assert 0.99 * bf16 < fp8 < 2.0 * bf16
    else:
        assert bf16 < fp8 < 2.0 * bf16


@pytest.mark.parametrize("row", LLAMA3, ids=[r["id"] for r in LLAMA3])
def test_llama3_tokens_follow_from_its_tflops_by_planner_model_flops(row: dict[str, str]) -> None:
    """Llama 3's TFLOPs/GPU are MFU-style (PaLM's 6N + 12LHQT per token, non-causal attention),
    which is the planner's model-FLOP count: the published tokens/s must be that figure over the
    planner's FLOPs per token, or the row no longer compares like with like."""
    per_token = model_flops_per_token(get_model(row["model"]), int(row["seq"]))
    tokens = float(row["published_tflops_per_gpu"]) * 1e12 / per_token
    assert float(row["published_tokens_per_s_per_gpu"]) == pytest.approx(tokens, rel=1e-3)


@pytest.mark.parametrize(
    ("row", "tflops"), list(zip(MTNLG, (126, 121, 113), strict=True)), ids=[r["id"] for r in MTNLG]
)
def test_mtnlg_step_times_reproduce_its_recompute_tflops(row: dict[str, str], tflops: int) -> None:
    """MT-NLG's published TFLOP/s (126/121/113) are Narayanan's count with full recomputation
    of the rows' step times: the tokens/s column (from the step times) must give them back within
    1 % (the paper rounds step times to 0.1 s; without recomputation they would be 25 % lower),
    which is why those rows leave published_tflops_per_gpu empty."""
    m = get_model(row["model"])
    gbs, seq, gpus = int(row["global_batch"]), int(row["seq"]), int(row["gpus"])
    step = gbs * seq / (float(row["published_tokens_per_s_per_gpu"]) * gpus)
    flops = narayanan_flops_per_iteration(gbs, seq, m.layers, m.hidden, m.vocab)
    assert flops / (step * gpus) / 1e12 == pytest.approx(tflops, rel=0.01)
    assert row["published_tflops_per_gpu"] == ""


def test_fp8cs_suffix_turns_on_current_scaling_and_keeps_the_preset() -> None:
    """``<preset>-fp8cs`` is the preset with Transformer Engine's current-scaling recipe, its
    overlaps untouched; it composes with ``-fp32reduce``."""
    cs = engine_for("modern-ub-fp8cs")
    assert cs.fp8_current_scaling and not engine_for("modern-ub").fp8_current_scaling
    assert cs.overlap_tp == engine_for("modern-ub").overlap_tp
    both = engine_for("modern-fp32reduce-fp8cs")
    assert both.fp8_current_scaling and both.grad_bytes == 4
    current = [r["id"] for r in USED if engine_for(r["engine"]).fp8_current_scaling]
    assert current == [r["id"] for r in USED if r["source"] == "megatron-bridge-perf"]


def test_precision_pairs_include_torchtitan_float8_over_its_compiled_bf16_run() -> None:
    """torchtitan publishes float8 as its compiled BF16 run plus float8 (``<run>-compile`` and
    ``<run>-fp8``), Megatron-style tables as ``<run>-bf16`` and ``<run>-fp8``: both pair up."""
    rows = [
        {"id": "a-bf16", "published": 10.0, "predicted": 11.0},
        {"id": "a-fp8", "published": 13.0, "predicted": 15.0},
        {"id": "t", "published": 5.0, "predicted": 5.0},
        {"id": "t-compile", "published": 6.0, "predicted": 6.0},
        {"id": "t-fp8", "published": 8.0, "predicted": 9.0},
    ]
    got = {p["run"]: p for p in precision_pairs(rows)}
    assert set(got) == {"a", "t"}
    assert got["t"]["published_speedup"] == pytest.approx(8.0 / 6.0)
    assert got["t"]["predicted_speedup"] == pytest.approx(9.0 / 6.0)


def test_overlap_pairs_match_a_run_with_its_a2aoverlap_twin() -> None:
    """``<run>`` and ``<run>-a2aoverlap`` pair up (the 1F1B all-to-all overlap speedup), and the
    Megatron-MoE-ModelZoo Qwen3-235B EP32 rows are such a pair in the data."""
    rows = [
        {"id": "q", "published": 10.0, "predicted": 12.0},
        {"id": "q-a2aoverlap", "published": 11.0, "predicted": 15.0},
        {"id": "r", "published": 5.0, "predicted": 5.0},
    ]
    got = overlap_pairs(rows)
    assert [p["run"] for p in got] == ["q"]
    assert got[0]["published_speedup"] == pytest.approx(1.1)
    assert got[0]["predicted_speedup"] == pytest.approx(1.25)
    run = "mzoo-qwen3-235b-bf16-deepep-ep32"
    assert {run, run + "-a2aoverlap"} <= {r["id"] for r in USED}


def test_apexdfa_suffix_keeps_master_remainders_on_nemo_rows() -> None:
    """``<preset>-apexdfa`` is the preset with apex DistributedFusedAdam's 16-bit master
    remainders, composed with ``-fp32reduce``; exactly the NeMo 1.0 rows (nemo2407, dgxc2409:
    ``optim.name: distributed_fused_adam`` in their launcher configs) use it."""
    dfa = engine_for("modern-ub-h16384-tp8-fp32reduce-apexdfa")
    assert dfa.master_weight_bytes == 2 and dfa.grad_bytes == 4
    assert dfa.overlap_tp == engine_for("modern-ub-h16384-tp8").overlap_tp
    assert engine_for("modern-fp32reduce").master_weight_bytes == 4
    nemo1 = [r["id"] for r in USED if engine_for(r["engine"]).master_weight_bytes == 2]
    nemo_sources = ("nemo-perf-2407", "nemo-perf-2403-longseq", "dgxc-benchmarking")
    assert nemo1 == [
        r["id"] for r in USED if r["source"] in nemo_sources and "fp8params" not in r["engine"]
    ]


def test_fp8params_suffix_drops_master_remainders_on_dgxc_fp8_rows() -> None:
    """``<preset>-fp8params`` (NeMo ``model.fp8_params``) stores FP8 weights only and, as NeMo's
    ``setup_optimization`` does then, keeps an fp32 master (no apex remainders); exactly the
    dgxc-benchmarking FP8 rows use it (Llama 3.1 ``configure.sh``: ``+model.fp8_params``; GPT-3
    175B ``gpt3_175b_hydra.yaml``: ``fp8_params: true``)."""
    e = engine_for("modern-ub-h8192-tp4-fp32reduce-apexdfa-fp8params")
    assert e.fp8_params and e.master_weight_bytes == 4 and e.grad_bytes == 4
    assert e.overlap_tp == engine_for("modern-ub-h8192-tp4").overlap_tp
    assert not engine_for("modern-fp32reduce-apexdfa").fp8_params
    f8p = [r["id"] for r in USED if engine_for(r["engine"]).fp8_params]
    dgxc_fp8 = [
        r["id"] for r in USED if r["source"] == "dgxc-benchmarking" and r["precision"] == "fp8"
    ]
    assert f8p == dgxc_fp8 and len(f8p) == 4


def test_cpag_suffix_runs_llama3_context_parallelism_as_an_all_gather() -> None:
    """``<preset>-cpag`` is the preset with the all-gather CP of Llama 3 (arXiv 2407.21783 sec.
    3.3.2), composed with ``-fp32reduce``; exactly the Llama 3 Herd rows use it."""
    e = engine_for("modern-overlap-fp32reduce-cpag")
    assert e.cp_allgather and e.grad_bytes == 4
    assert engine_for("modern-overlap-fp32reduce-cpag-embloss").cp_allgather
    assert e.overlap_p2p == engine_for("modern-overlap").overlap_p2p
    assert not engine_for("modern-overlap-fp32reduce").cp_allgather
    ag = [r["id"] for r in USED if engine_for(r["engine"]).cp_allgather]
    assert ag == [r["id"] for r in USED if r["source"] == "llama3-herd-2024"] and len(ag) == 3


def test_nemo_rows_reduce_in_bf16_as_their_launcher_examples() -> None:
    """The NeMo 24.07 Llama 3 8B/70B, Llama 2 70B and 128-GPU GPT-3 175B rows ran as the
    launcher's H100 FP8 examples of the same configuration, which pass
    ``+training.model.optim.grad_sync_dtype=bf16`` (SOURCE.md): their engines keep 2-byte
    gradients with apex's master remainders, and every row whose notes cite that override does
    too."""
    by_id = {r["id"]: r for r in USED}
    rows = (
        "nemo2407-llama3-8b",
        "nemo2407-llama3-70b",
        "nemo2407-llama2-70b",
        "nemo2407-gpt3-175b-128",
    )
    for rid in rows:
        e = engine_for(by_id[rid]["engine"])
        assert e.grad_bytes == 2 and e.master_weight_bytes == 2
    cited = [r for r in USED if "grad_sync_dtype=bf16" in r["notes"]]
    assert sorted(r["id"] for r in cited) == sorted(rows)
    assert all(engine_for(r["engine"]).grad_bytes == 2 for r in cited)


#: the sourced rules that keep a Megatron-family run's gradients in fp32 (SOURCE.md): NeMo 1.0's
#: ``grad_sync_dtype`` default, Megatron-LM's bf16 ``validate_args`` rule, the Llama 3 paper
FP32_GRAD_RULES = (
    "grad_sync_dtype 'fp32'",
    "accumulate_allreduce_grads_in_fp32",
    "FP32 gradient accumulation and FP32 reduce-scatter",
)
#: the sourced settings that keep them 16-bit: the launcher examples' override, Megatron-Bridge's
#: ``grad_reduce_in_fp32`` False, dgxc's GPT-3 yaml
BF16_GRAD_RULES = ("grad_sync_dtype=bf16", "grad_reduce_in_fp32 False", "grad_sync_dtype bf16")


def test_megatron_family_gradient_bytes_follow_the_cited_rule() -> None:
    """Among the Megatron-Core (``modern*``) rows, exactly those whose notes cite an fp32 gradient
    rule keep 4-byte gradients, and every ``modern*`` row cites one rule or the other, so its
    gradient dtype is read from its source rather than assumed."""
    modern = [r for r in USED if r["engine"].startswith("modern")]
    fp32 = [r["id"] for r in modern if any(k in r["notes"] for k in FP32_GRAD_RULES)]
    four = [r["id"] for r in modern if engine_for(r["engine"]).grad_bytes == 4]
    # 37 + the six Megatron-LM MoE rows (mcore-moe-modelzoo, mcore-moe-readme): --bf16 alone
    assert fp32 == four and len(four) == 43
    for r in modern:
        cites_fp32 = any(k in r["notes"] for k in FP32_GRAD_RULES)
        cites_bf16 = any(k in r["notes"] for k in BF16_GRAD_RULES)
        assert cites_fp32 != cites_bf16, r["id"]


def test_llama3_herd_rows_split_the_pipeline_with_embedding_and_loss_slots() -> None:
    """Llama 3 405B's first and last model chunks hold only the embedding / the output and loss
    (arXiv 2407.21783 sec. 3.3.2), and Megatron-MoE-ModelZoo's Qwen3-235B launches pass Megatron-
    Core's ``--account-for-{embedding,loss}-in-pipeline-split``: those rows with PP > 1, and only
    they, run ``-embloss``, which keeps the preset's other behaviour."""
    e = engine_for("modern-overlap-fp32reduce-embloss")
    assert e.pipeline_split_embedding_loss and e.grad_bytes == 4
    assert e.overlap_dp == engine_for("modern-overlap").overlap_dp
    split = [r["id"] for r in USED if engine_for(r["engine"]).pipeline_split_embedding_loss]
    # ... and the Megatron-MoE-ModelZoo Qwen3-235B rows with PP > 1, whose launch yaml passes
    # --account-for-embedding-in-pipeline-split and --account-for-loss-in-pipeline-split
    cited = [r["id"] for r in USED if "--account-for-embedding-in-pipeline-split" in r["notes"]]
    zoo = [r for r in USED if r["id"] in cited and int(r["pp"]) > 1]
    assert sorted(split) == sorted(r["id"] for r in LLAMA3 + zoo) and len(split) == 3 + 4


def test_nofusedattn_suffix_runs_flash_attention_2_where_the_run_turns_cudnn_off() -> None:
    """``<preset>-nofusedattn`` (``NVTE_FUSED_ATTN=0``: Transformer Engine's cuDNN attention off,
    FlashAttention-2 runs) keeps the preset's overlaps and is slower than the same run on cuDNN
    attention; exactly the rows whose notes cite ``NVTE_FUSED_ATTN`` ``0`` use it: the dgxc GPT-3
    rows (``configure.sh``) and the NeMo 24.03.01/24.07 rows (the launcher's ``config.yaml``) --
    and the FlagPerf H800 rows, whose legacy Megatron model runs the flash-attn package without
    Transformer Engine layers."""
    e = engine_for("modern-ub-h12288-tp4-nofusedattn-apexdfa")
    assert not e.hopper_attention and e.master_weight_bytes == 2
    assert e.overlap_tp == engine_for("modern-ub-h12288-tp4").overlap_tp
    assert engine_for("modern-ub-h12288-tp4").hopper_attention
    modern = [r for r in USED if r["engine"].startswith("modern")]
    off = [r["id"] for r in modern if not engine_for(r["engine"]).hopper_attention]
    cited = [
        r["id"]
        for r in USED
        if "NVTE_FUSED_ATTN=0" in r["notes"]
        or "NVTE_FUSED_ATTN: 0" in r["notes"]
        or "legacy Megatron model" in r["notes"]
    ]
    assert off == cited and len(off) == 20
    nemo = {r["source"] for r in modern if not engine_for(r["engine"]).hopper_attention}
    assert nemo == {"dgxc-benchmarking", "nemo-perf-2403-longseq", "nemo-perf-2407", "flagperf"}
    dgxc_llama = [r for r in USED if r["id"].startswith("dgxc2409-")]
    assert all(engine_for(r["engine"]).hopper_attention for r in dgxc_llama)
    row = next(r for r in USED if r["id"] == "dgxc2411-gpt3-175b-bf16")
    cudnn = {**row, "engine": row["engine"].replace("-nofusedattn", "")}
    assert evaluate_row(row)["time_s"]["step"] > evaluate_row(cudnn)["time_s"]["step"]


def test_flagperf_megatron_rows_keep_fp32_main_gradients_under_bf16() -> None:
    """Megatron-LM's ``validate_args`` turns on ``accumulate_allreduce_grads_in_fp32`` for every
    ``--bf16`` run that does not pass ``--grad-reduce-in-bf16`` (FlagScale@6fc099c
    ``megatron/arguments.py``; ``megatron/training/arguments.py`` of the core_v0.6.0 era): the
    FlagPerf Megatron launch scripts pass ``--bf16`` alone, so exactly the rows whose notes cite it
    run ``-fp32reduce``.  Their gradients take 4 bytes, and on the 440-GPU row the fp32
    reduce-scatter exposes more than a 16-bit one would."""
    cited = [r for r in USED if "accumulate_allreduce_grads_in_fp32" in r["notes"]]
    assert len(cited) == 22
    # the FlagPerf launch scripts, the one row that assumes the same Megatron-LM rule for an
    # unpublished launch (the Megatron-Core MoE report's Qwen3-235B run), and the Megatron-LM MoE
    # runs whose launch configs pass --bf16 alone (Megatron-MoE-ModelZoo's Qwen3-235B yaml, the
    # Megatron-Core MoE README's Mixtral training example)
    assert {r["source"] for r in cited} == {
        "flagperf",
        "mcore-moe-2026",
        "mcore-moe-modelzoo",
        "mcore-moe-readme",
    }
    assert sum(r["source"] == "flagperf" for r in cited) == 15
    assert all(engine_for(r["engine"]).grad_bytes == 4 for r in cited)
    assert all(engine_for(r["engine"]).grad_bytes == 2 for r in USED if r["engine"] == "modern")
    row = next(r for r in cited if r["id"] == "flagperf-llama3-8b-h100x440-bf16")
    half = {**row, "engine": row["engine"].replace("-fp32reduce", "")}
    fp32, bf16 = evaluate_row(row), evaluate_row(half)
    assert fp32["memory_gib"]["gradients"] == pytest.approx(2.0 * bf16["memory_gib"]["gradients"])
    assert fp32["time_s"]["dp_exposed"] > bf16["time_s"]["dp_exposed"]


def test_flagperf_h100_rows_run_cudnn_attention_as_transformer_engine_prefers_on_hopper() -> None:
    """The FlagPerf Llama 3 H100 rows run Megatron-Core's TE layers in NGC PyTorch 24.02 with no
    ``NVTE_*`` override: Transformer Engine prefers cuDNN FusedAttention over FlashAttention on
    sm90 since TE 1.2 (NVIDIA/TransformerEngine PR #497), so every row whose notes cite that
    keeps ``hopper_attention`` although the READMEs say "flash attention 2"."""
    cited = [r for r in USED if "PR #497" in r["notes"]]
    assert len(cited) == 6 and all(r["gpu"] == "H100-SXM" for r in cited)
    assert all(engine_for(r["engine"]).hopper_attention for r in cited)
    flagperf_hopper = [r for r in USED if r["source"] == "flagperf" and r["gpu"] != "A800"]
    assert {r["id"] for r in flagperf_hopper if engine_for(r["engine"]).hopper_attention} == {
        r["id"] for r in cited
    }


def test_nooverlapgrad_suffix_exposes_the_data_parallel_reduction() -> None:
    """``<preset>-nooverlapgrad`` (Megatron launched without ``--overlap-grad-reduce``, which is
    off by default) keeps the preset's other behaviour and leaves the distributed optimizer's
    gradient reduce-scatter and parameter all-gather after the backward pass; exactly the
    FlagPerf Megatron rows, whose launch scripts do not pass the flag, use it (the DeepSpeed
    presets have no overlap of their own).  On the 440-GPU
    row (DP 220 over the network) the exposed traffic makes the step longer."""
    e = engine_for("modern-nofusedattn-nooverlapgrad")
    assert not e.overlap_dp and not e.hopper_attention
    assert engine_for("modern").overlap_dp
    assert e.tp_async_bwd == engine_for("modern").tp_async_bwd
    modern = [r for r in USED if r["engine"].startswith("modern")]
    exposed = [r["id"] for r in modern if not engine_for(r["engine"]).overlap_dp]
    cited = [
        r["id"]
        for r in USED
        if "without --overlap-grad-reduce" in r["notes"] or "no --overlap-grad-reduce" in r["notes"]
    ]
    assert exposed == cited and len(exposed) == 15
    row = next(r for r in USED if r["id"] == "flagperf-llama3-8b-h100x440-bf16")
    overlapped = {**row, "engine": row["engine"].removesuffix("-nooverlapgrad")}
    t = evaluate_row(row)["time_s"]
    assert t["dp_exposed"] > 0.0 == evaluate_row(overlapped)["time_s"]["dp_exposed"]
    assert t["step"] > evaluate_row(overlapped)["time_s"]["step"]


def test_tp_bwd_exposed_what_if_charges_the_hidden_backward_collectives() -> None:
    """The ``tp-bwd-exposed`` what-if (a diagnostic, not planner behaviour) applies only where
    TP > 1 and the engine hides the column-parallel backward collectives, and there it lowers
    the prediction; the A800 TP8 row's step grows by less than its whole TP traffic."""
    row = next(r for r in USED if r["id"] == "flagperf-llama3-8b-a800-pp1tp8")
    tp1 = next(r for r in USED if r["id"] == "flagperf-llama3-8b-a800")
    assert applies("tp-bwd-exposed", row) and not applies("tp-bwd-exposed", tp1)
    assert not any(
        applies("tp-bwd-exposed", r) for r in USED if not engine_for(r["engine"]).tp_async_bwd
    )
    base = evaluate_row(row)["time_s"]
    exposed = evaluate_row(row, ("tp-bwd-exposed",))["time_s"]
    assert base["step"] < exposed["step"] < base["step"] + 2.0 * exposed["tp_comm"]
    unchanged = evaluate_row(tp1, ("tp-bwd-exposed",))["time_s"]["step"]
    assert unchanged == evaluate_row(tp1)["time_s"]["step"]


def test_summary_reports_dense_and_moe_rows_apart() -> None:
    """The summary's dense and MoE lines count each row once, by its model's preset."""
    rows = [
        {"id": "a", "gpu": "H100-SXM", "precision": "bf16", "engine": "modern", "ratio": 1.1,
         "moe": False},
        {"id": "b", "gpu": "H100-SXM", "precision": "bf16", "engine": "modern", "ratio": 1.3,
         "moe": True},
        {"id": "c", "gpu": "H100-SXM", "precision": "bf16", "engine": "modern", "ratio": 0.95,
         "moe": False},
    ]
    s = summarize(rows)
    assert s["dense"]["n"] == 2 and s["moe"]["n"] == 1
    assert s["dense"]["within_15"] == 2 and s["moe"]["within_15"] == 0
    assert s["moe"]["median_ratio"] == pytest.approx(1.3)
    pair = ("mcore08-mixtral-8x7b-bf16", "nemo2407-llama2-7b")
    flags = {r["id"]: r["moe"] for r in compare([r for r in USED if r["id"] in pair])}
    assert flags == {"mcore08-mixtral-8x7b-bf16": True, "nemo2407-llama2-7b": False}
