"""Out-of-sample check of the training planner against published runs it was never fitted to.

Reads ``tests/data/planner/unseen_runs.csv`` (sources in ``tests/data/planner/SOURCE.md``),
evaluates every row marked ``use=yes`` with the planner's own API exactly as a user would
(``evaluate_config`` with the run's GPU, model preset, parallelism, precision and engine), and
prints published vs predicted tokens/s per GPU, the ratio, and a summary grouped by GPU,
precision and engine.  Nothing here feeds back into the planner: it is a report, not a fit.

    .venv/bin/python benchmarks/bench_planner_unseen.py [--csv PATH] [--json]
        [--what-if tp-overlap] [--what-if tp-bwd-exposed]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from gpuwise.catalog import Accelerator, get_accelerator
from gpuwise.planner.engines import ENGINES, Engine
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.memory import GIB
from gpuwise.planner.models import get_model
from gpuwise.planner.overhead import CUDA_CONTEXT_BYTES

CSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "planner" / "unseen_runs.csv"

#: Hardware the sources name that the catalog does not hold, as the catalog chip with the
#: source's own figures substituted.  torchtitan's H100 benchmarks (benchmarks/
#: llama3_h100_202412_torchtitan.md): "96GB HBM2e with 2.4 TB/sec peak memory bandwidth",
#: "the default 500W power limit" -- an H100 SXM (700 W design) held at 500 W, so the cap is
#: ``power_limit_w``, not a lower design TDP.
VARIANTS: dict[str, tuple[str, dict[str, float]]] = {
    "H100-SXM-96GB-500W": (
        "H100-SXM", {"memory_gib": 96.0, "mem_bw_gbs": 2400.0, "power_limit_w": 500.0}
    ),
}


#: Engine-name suffixes for the rows' documented variants of a preset, and the ``Engine``
#: fields each sets: ``-fp32reduce`` keeps and reduces gradients in fp32 (FSDP
#: ``reduce_dtype=float32``, torchtitan's default ``mixed_precision_reduce``); ``-fp8cs`` runs
#: Transformer Engine's FP8 layers with per-tensor current scaling; ``-apexdfa`` runs NeMo 1.0's
#: apex ``distributed_fused_adam``, whose optimizer keeps 16-bit master-weight remainders and
#: fp32 embedding/output-layer gradient buckets (``Engine.emb_grad_bytes``);
#: ``-fp8params`` stores the FP8 weights only as FP8 (NeMo ``model.fp8_params``), for which NeMo
#: turns the remainders off and keeps an fp32 master in the optimizer (``store_params=True``);
#: ``-cpag`` runs context parallelism as an exposed all-gather of K and V (Llama 3, arXiv
#: 2407.21783 sec. 3.3.2; ``planner.cp_comm``), which changes nothing at CP 1;
#: ``-embloss`` splits the pipeline with the embedding and the loss as one layer slot each (the
#: Llama 3 405B layout, ``Engine.pipeline_split_embedding_loss``); ``-etp1`` runs the experts
#: with Megatron-Core ``expert_tensor_parallel_size=1`` (``Engine.expert_tp1``);
#: ``-a2aoverlap`` runs Megatron-Core's 1F1B EP all-to-all overlap (``Engine.ep_a2a_overlap``);
#: ``-deepep`` dispatches MoE tokens with DeepEP's normal kernels across nodes
#: (``Engine.ep_dispatch = "deepep"``, Megatron-Core's flex dispatcher with the DeepEP backend);
#: ``-nofusedattn`` runs the attention core on FlashAttention-2 instead of Transformer Engine's
#: cuDNN fused attention (``NVTE_FUSED_ATTN=0``, which TE's ``get_attention_backend`` reads to
#: turn the FusedAttention backend off, leaving the flash-attn package);
#: ``-nooverlapgrad`` leaves the data-parallel gradient reduce-scatter / all-reduce after the
#: backward pass, for Megatron runs launched without ``--overlap-grad-reduce`` (a store-true
#: flag, off by default: NVIDIA/Megatron-LM ``megatron/training/arguments.py``;
#: ``DistributedDataParallelConfig.overlap_grad_reduce = False`` in
#: ``megatron/core/distributed/distributed_data_parallel_config.py`` @00119989).
ENGINE_SUFFIXES: dict[str, dict[str, Any]] = {
    "-deepep": {"ep_dispatch": "deepep"},
    "-nooverlapgrad": {"overlap_dp": False},
    "-nofusedattn": {"hopper_attention": False},
    "-a2aoverlap": {"ep_a2a_overlap": True},
    "-etp1": {"expert_tp1": True},
    "-embloss": {"pipeline_split_embedding_loss": True},
    "-cpag": {"cp_allgather": True},
    "-fp8params": {"fp8_params": True, "master_weight_bytes": 4},
    "-apexdfa": {"master_weight_bytes": 2, "emb_grad_bytes": 4},
    "-fp8cs": {"fp8_current_scaling": True},
    "-fp32reduce": {"grad_bytes": 4},
}


def engine_for(name: str) -> Engine:
    """An engine preset, or a preset with the :data:`ENGINE_SUFFIXES` its name ends in."""
    if name in ENGINES:  # a preset whose own name ends like a suffix (``automodel-deepep``)
        return ENGINES[name]
    for suffix, fields in ENGINE_SUFFIXES.items():
        if name.endswith(suffix):
            return replace(engine_for(name.removesuffix(suffix)), name=name, **fields)
    return ENGINES[name]


def engine_family(name: str) -> str:
    """The group a row's engine belongs to in the summary: the ``modern-*`` presets (the overlaps
    each run's config turns on) are one Megatron-Core family."""
    return "modern" if name.startswith("modern") else name


def accelerator_for(name: str) -> Accelerator:
    """The catalog accelerator, or a documented variant of one (see :data:`VARIANTS`)."""
    if name in VARIANTS:
        base, update = VARIANTS[name]
        return get_accelerator(base).model_copy(update=update)
    return get_accelerator(name)


def load_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


#: Proposed changes that ``--what-if`` evaluates (none of them is what the planner does today).
WHAT_IFS = ("tp-overlap", "tp-bwd-exposed")


def applies(what_if: str, row: dict[str, str]) -> bool:
    """Whether a what-if changes ``row``: ``tp-overlap`` only for Megatron-Core runs (engine
    ``modern``) with TP > 1 -- NeMo's performance recipes turn on Transformer Engine's
    userbuffers TP overlap (``MegatronCommOverlapCallback(tp_comm_overlap=True, ...)`` in
    NVIDIA/NeMo ``nemo/collections/llm/recipes/llama3_70b.py`` ``pretrain_recipe_performance``).
    (The former ``rails`` what-if, DP rings over every NIC of the node, is now the planner's
    own DP link model, ``collectives.link``.)  ``tp-bwd-exposed``: the column-parallel backward
    re-gather and reduce-scatter that ``Engine.tp_async_bwd`` hides under the dgrad/wgrad GEMMs
    are charged in full instead, for every row with TP > 1 whose engine hides them (no source
    says they are exposed: a diagnostic for the FlagPerf A800/H800 rows, whose ratio grows with
    TP).
    """
    if what_if == "tp-bwd-exposed":
        return int(row["tp"]) > 1 and engine_for(row["engine"]).tp_async_bwd
    return row["engine"] == "modern" and int(row["tp"]) > 1


def evaluate_row(row: dict[str, str], what_ifs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one published configuration through the planner, optionally with proposed changes
    (:data:`WHAT_IFS`) applied where they apply."""
    net = float(row["net_gbs_per_gpu"])
    engine = engine_for(row["engine"])
    if "tp-overlap" in what_ifs and applies("tp-overlap", row):
        engine = replace(engine, name=f"{engine.name}+tp-overlap", overlap_tp=True)
    if "tp-bwd-exposed" in what_ifs and applies("tp-bwd-exposed", row):
        engine = replace(engine, name=f"{engine.name}+tp-bwd-exposed", tp_async_bwd=False)
    return evaluate_config(
        get_model(row["model"]),
        accelerator_for(row["gpu"]),
        seq=int(row["seq"]),
        global_batch=int(row["global_batch"]),
        gpus=int(row["gpus"]),
        tp=int(row["tp"]),
        pp=int(row["pp"]),
        vpp=int(row["vp"]),
        cp=int(row["cp"]),
        ep=int(row["ep"]),
        zero=int(row["zero"]),
        recompute=row["recompute"],
        micro_batch=int(row["micro_batch"]),
        precision=row["precision"],
        engine=engine,
        net_gbs_per_gpu=net,
        pipeline_runs=int(row.get("pipeline_runs") or 1),
    )


def compare(rows: list[dict[str, str]], what_ifs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Published vs predicted for every usable row (ratio = predicted / published)."""
    out = []
    for row in rows:
        if row["use"] != "yes":
            continue
        r = evaluate_row(row, what_ifs)
        pub = float(row["published_tokens_per_s_per_gpu"])
        pred = float(r["tokens_per_s_per_gpu"])
        pub_tf = float(row["published_tflops_per_gpu"]) if row["published_tflops_per_gpu"] else None
        pub_mem = float(row["published_mem_gib"]) if row["published_mem_gib"] else None
        out.append(
            {
                "id": row["id"],
                "gpu": row["gpu"],
                "precision": row["precision"],
                "engine": row["engine"],
                "what_ifs": [w for w in what_ifs if applies(w, row)],
                "published": pub,
                "predicted": pred,
                "ratio": pred / pub,
                "fits": bool(r["fits"]),
                "mem_gib": float(r["memory_gib"]["total"]),
                "published_mem_gib": pub_mem,
                "published_tflops": pub_tf,
                "predicted_tflops": float(r["tflops_per_gpu"]),
                "mfu": float(r["mfu"]),
                "time_s": r["time_s"],
                "moe": get_model(row["model"]).is_moe,
            }
        )
    return out


def summarize(results: list[dict[str, Any]], worst: int = 5) -> dict[str, Any]:
    """Median |error| overall, for dense and mixture-of-experts models apart, and per GPU /
    precision / engine family group, and the worst rows."""

    def stats(rs: list[dict[str, Any]]) -> dict[str, float]:
        ratios = [r["ratio"] for r in rs]
        if not ratios:
            return {"n": 0, "median_ratio": float("nan"), "median_abs_err": float("nan"),
                    "max_abs_err": float("nan"), "within_15": 0}
        return {
            "n": len(rs),
            "median_ratio": statistics.median(ratios),
            "median_abs_err": statistics.median(abs(x - 1.0) for x in ratios),
            "max_abs_err": max(abs(x - 1.0) for x in ratios),
            "within_15": sum(abs(x - 1.0) <= 0.15 for x in ratios),
        }

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(f"{r['gpu']} {r['precision']} {engine_family(r['engine'])}", []).append(r)
    by_worst = sorted(results, key=lambda r: -abs(r["ratio"] - 1.0))
    return {
        "all": stats(results),
        "dense": stats([r for r in results if not r.get("moe")]),
        "moe": stats([r for r in results if r.get("moe")]),
        "groups": {k: stats(v) for k, v in sorted(groups.items())},
        "worst": [(r["id"], r["ratio"]) for r in by_worst[:worst]],
    }


def precision_pairs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows published in BF16 and FP8 with everything else equal (ids ``<run>-bf16`` and
    ``<run>-fp8``; torchtitan's float8 rows are its compiled BF16 rows plus float8, ids
    ``<run>-compile`` and ``<run>-fp8``): published vs predicted FP8 speedup, a check of the
    FP8 model that no absolute calibration can hide."""
    return _pairs(results, "-bf16", "-fp8") + _pairs(results, "-compile", "-fp8")


def compile_pairs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows published eager and with ``torch.compile`` (ids ``<run>`` and ``<run>-compile``):
    published vs predicted speedup, a check of the eager-kernel model (torchtitan engines)."""
    return _pairs(results, "", "-compile")


def overlap_pairs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows published without and with Megatron-Core's 1F1B EP all-to-all overlap, everything
    else equal (ids ``<run>`` and ``<run>-a2aoverlap``): published vs predicted speedup, a check
    of ``planner.moe_overlap`` that no absolute calibration can hide."""
    return _pairs(results, "", "-a2aoverlap")


def _pairs(results: list[dict[str, Any]], base: str, other: str) -> list[dict[str, Any]]:
    by_id = {r["id"]: r for r in results}
    out = []
    for rid, a in by_id.items():
        if not rid.endswith(base) or rid.endswith(other):
            continue
        run = rid.removesuffix(base) if base else rid
        b = by_id.get(run + other)
        if b is None:
            continue
        pub = b["published"] / a["published"]
        pred = b["predicted"] / a["predicted"]
        out.append({"run": run, "published_speedup": pub, "predicted_speedup": pred})
    return out


def _fmt_tf(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--json", action="store_true", help="print results and summary as JSON")
    ap.add_argument(
        "--what-if",
        action="append",
        choices=WHAT_IFS,
        default=[],
        help="evaluate a proposed change where it applies (repeatable): tp-overlap = TE "
        "userbuffers TP overlap for Megatron-Core runs; tp-bwd-exposed = the TP backward "
        "collectives that tp_async_bwd hides charged in full",
    )
    args = ap.parse_args()
    rows = load_rows(args.csv)
    results = compare(rows, tuple(args.what_if))
    summary = summarize(results)
    if args.json:
        pairs = precision_pairs(results)
        out = {"results": results, "summary": summary, "precision_pairs": pairs}
        extra = {"compile_pairs": compile_pairs(results), "overlap_pairs": overlap_pairs(results)}
        print(json.dumps(out | extra))
        return
    skipped = [r["id"] for r in rows if r["use"] != "yes"]
    print(
        f"{'row':34} {'published':>9} {'predicted':>9} {'ratio':>6} {'fits':>4} "
        f"{'mem':>5} {'pubTF':>5} {'predTF':>6}"
    )
    for r in results:
        print(
            f"{r['id']:34} {r['published']:9.0f} {r['predicted']:9.0f} {r['ratio']:6.2f} "
            f"{'y' if r['fits'] else 'N':>4} {r['mem_gib']:5.0f} "
            f"{_fmt_tf(r['published_tflops']):>5} {r['predicted_tflops']:6.0f}"
        )
    a = summary["all"]
    print(
        f"\nall {a['n']} rows: median ratio {a['median_ratio']:.2f}, median |error| "
        f"{100 * a['median_abs_err']:.1f} %, max |error| {100 * a['max_abs_err']:.1f} %"
    )
    for kind in ("dense", "moe"):
        k = summary[kind]
        print(
            f"  {kind:5} {k['n']:2d} rows: median ratio {k['median_ratio']:.2f}, median |error| "
            f"{100 * k['median_abs_err']:.1f} %, {k['within_15']} within +-15 %"
        )
    print(
        f"{'group (gpu precision engine)':44} {'n':>2} {'med ratio':>9} {'med|err|':>8} "
        f"{'max|err|':>8}"
    )
    for k, s in summary["groups"].items():
        print(
            f"{k:44} {s['n']:2d} {s['median_ratio']:9.2f} {100 * s['median_abs_err']:7.1f}% "
            f"{100 * s['max_abs_err']:7.1f}%"
        )
    print("worst: " + ", ".join(f"{i} {x:.2f}" for i, x in summary["worst"]))
    # torchtitan's "memory" is the caching allocator's ``reserved_bytes.all.peak``
    # (torchtitan/components/metrics.py ``DeviceMemoryMonitor.get_peak_stats``): it leaves out
    # the CUDA context, which the predicted total counts
    ctx = CUDA_CONTEXT_BYTES / GIB
    for r in results:
        if r["published_mem_gib"] is not None:
            print(
                f"memory {r['id']}: published peak reserved {r['published_mem_gib']:.1f} GiB, "
                f"predicted {r['mem_gib'] - ctx:.1f} GiB in the allocator "
                f"({r['mem_gib']:.1f} GiB with the CUDA context)"
            )
    for p in precision_pairs(results):
        print(
            f"FP8/BF16 speedup {p['run']}: published {p['published_speedup']:.2f}, "
            f"predicted {p['predicted_speedup']:.2f}"
        )
    for p in compile_pairs(results):
        print(
            f"compile/eager speedup {p['run']}: published {p['published_speedup']:.2f}, "
            f"predicted {p['predicted_speedup']:.2f}"
        )
    for p in overlap_pairs(results):
        print(
            f"1F1B a2a-overlap speedup {p['run']}: published {p['published_speedup']:.2f}, "
            f"predicted {p['predicted_speedup']:.2f}"
        )
    print("not evaluated (see notes column): " + ", ".join(skipped))


if __name__ == "__main__":
    main()
