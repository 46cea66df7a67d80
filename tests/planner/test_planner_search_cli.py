"""Search invariants, efficiency-model properties and the plan train / plan models CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import achievable_tflops, large_gemm_fraction
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup
from gpuwise.planner.search import search

CONTRACT = {
    "dp",
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "zero",
    "recompute",
    "micro_batch",
    "precision",
    "memory_gib_per_gpu",
    "step_time_s",
    "tokens_per_s_per_gpu",
    "tflops_per_gpu",
    "hw_tflops_per_gpu",
    "mfu",
    "hfu",
    "days",
    "gpu_hours",
}


def test_efficiency_roofline_properties() -> None:
    a100 = get_accelerator("A100-80GB")
    big = achievable_tflops(a100, 8192, 8192, 8192)
    assert big <= 312 * large_gemm_fraction(a100) + 1e-9
    assert big > 0.8 * 312 * large_gemm_fraction(a100)
    # a GEMV-like GEMM (m = 1) is bandwidth bound: about 2 FLOP per weight byte
    gemv = achievable_tflops(a100, 1, 8192, 8192)
    assert gemv == pytest.approx(
        2 * 8192 * 8192 / ((2 * 8192 * 8192) / (0.9 * 2039e9)) / 1e12, rel=0.01
    )
    sizes = np.array([64, 256, 1024, 4096])
    rates = achievable_tflops(a100, sizes, sizes * 0 + 4096, sizes * 0 + 4096)
    assert np.all(np.diff(rates) > 0)
    # short k (attention head_dim) runs below the large-GEMM rate
    assert achievable_tflops(a100, 4096, 4096, 128) < 0.8 * big


def _setup(gpus: int, batch: int = 256) -> Setup:
    return Setup(seq=4096, global_batch=batch, gpus=gpus)


def test_search_ranked_fit_and_divide() -> None:
    m = get_model("llama-2-13b")
    hw = Hardware.from_catalog(get_accelerator("A800"))
    res = search(m, hw, _setup(32), top=20)
    assert res.ranked and res.evaluated > 1000
    steps = [r["step_time_s"] for r in res.ranked]
    assert steps == sorted(steps)
    for r in res.ranked:
        assert r["dp"] * r["tp"] * r["pp"] * r["cp"] == 32
        assert m.heads % r["tp"] == 0 and (r["vpp"] == 1 or m.layers % (r["pp"] * r["vpp"]) == 0)
        assert r["memory_gib_per_gpu"] <= 80 * 0.95
    assert res.rejected["out_of_memory"] > 0
    # the search row and a direct evaluation of the same configuration agree
    b = res.ranked[0]
    one = evaluate_config(
        m,
        "A800",
        seq=4096,
        global_batch=256,
        gpus=32,
        tp=b["tp"],
        pp=b["pp"],
        vpp=b["vpp"],
        cp=b["cp"],
        zero=b["zero"],
        recompute=b["recompute"],
        micro_batch=b["micro_batch"],
        precision=b["precision"],
    )
    assert one["time_s"]["step"] == pytest.approx(b["step_time_s"], rel=1e-12)


def test_search_respects_fixed_flags() -> None:
    m = get_model("llama-2-13b")
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    res = search(m, hw, _setup(16), {"tp": 4, "recompute": "selective", "precision": "bf16"})
    assert res.ranked
    assert {(r["tp"], r["recompute"], r["precision"]) for r in res.ranked} == {
        (4, "selective", "bf16")
    }


def test_slower_link_hurts_tensor_parallel() -> None:
    """Same chip compute, NVLink 400 (H800) vs 900 GB/s (H100): TP=8 is slower on H800."""
    m = get_model("llama-2-70b")
    kw: dict[str, Any] = {
        "seq": 4096,
        "global_batch": 64,
        "gpus": 64,
        "tp": 8,
        "pp": 2,
        "micro_batch": 1,
        "recompute": "selective",
        "zero": 1,
    }
    h100 = evaluate_config(m, "H100-SXM", **kw)["time_s"]["tp_comm"]
    h800 = evaluate_config(m, "H800", **kw)["time_s"]["tp_comm"]
    assert h800 > 1.8 * h100


def test_cli_models_json(cli: Callable[..., Any]) -> None:
    r = cli("plan", "models", "--json")
    assert r.code == 0
    rows = {x["name"]: x for x in r.json()["models"]}
    assert rows["mixtral-8x7b"]["active_params"] < rows["mixtral-8x7b"]["params"]
    assert rows["llama-2-70b"]["kv_heads"] == 8


def test_cli_train_json_contract(cli: Callable[..., Any]) -> None:
    r = cli(
        "plan",
        "train",
        "--model",
        "llama-2-7b",
        "--gpus",
        "16xA800",
        "--tokens",
        "100B",
        "--global-batch",
        "256",
        "--json",
    )
    assert r.code == 0, r.err
    out = r.json()
    assert CONTRACT <= set(out["best"])
    assert 1 <= len(out["candidates"]) <= 10
    assert all(CONTRACT <= set(c) for c in out["candidates"])
    assert out["evaluated"] > 0 and isinstance(out["rejected"], dict)
    best = out["best"]
    tokens_s = best["tokens_per_s_per_gpu"] * 16
    assert best["days"] == pytest.approx(100e9 / tokens_s / 86400, rel=1e-6)
    assert best["gpu_hours"] == pytest.approx(best["days"] * 24 * 16, rel=1e-6)


def test_cli_days_null_without_tokens(cli: Callable[..., Any]) -> None:
    r = cli(
        "plan",
        "train",
        "--layers",
        "8",
        "--hidden",
        "1024",
        "--heads",
        "16",
        "--gpus",
        "8xL20",
        "--seq",
        "1024",
        "--global-batch",
        "64",
        "--json",
    )
    assert r.code == 0, r.err
    assert r.json()["best"]["days"] is None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--model", "llama-3-405b", "--gpus", "8xH20"), "needs >= "),
        (("--model", "llama-2-70b", "--gpus", "16xA800", "--tp", "3"), "does not divide"),
        (("--model", "llama-2-70b", "--gpus", "16xA801"), "did you mean"),
        (("--model", "lama-2-70b", "--gpus", "16xA800"), "did you mean"),
        (("--layers", "8", "--gpus", "8xA800"), "--hidden"),
        (("--model", "llama-2-7b", "--gpus", "8xA800", "--precision", "fp8"), "no FP8"),
        (("--model", "llama-2-7b", "--gpus", "8xA800", "--tp", "16"), "1, 2, 4, 8)"),
        (("--model", "llama-2-7b", "--gpus", "12xA800", "--tp", "8"), "does not divide the 12"),
        (("--model", "llama-2-7b", "--gpus", "16xA800", "--ep", "2"), "is dense"),
        (("--model", "mixtral-8x7b", "--gpus", "16xA800", "--ep", "3"), "(try 1, 2, 4, 8)"),
        (("--model", "llama-2-7b", "--gpus", "8xA800", "--global-batch", "0"), "at least 1"),
        (("--model", "llama-2-7b", "--gpus", "8xA800", "--micro-batch", "3"),
         "without your fixed settings it runs"),
        (("--model", "llama-2-7b", "--kv-heads", "3", "--gpus", "8xA800"), "kv_heads 3"),
        (
            (
                "--layers",
                "4",
                "--hidden",
                "512",
                "--heads",
                "8",
                "--experts",
                "8",
                "--gpus",
                "8xA800",
            ),
            "top_k",
        ),
    ],
)
def test_cli_bad_input_one_line(
    cli: Callable[..., Any], args: tuple[str, ...], needle: str
) -> None:
    r = cli("plan", "train", *args)
    assert r.code == 2
    assert needle in r.err
    assert r.err.startswith("error: ") and r.err.count("\n") == 1


def test_cli_min_gpus(cli: Callable[..., Any]) -> None:
    r = cli(
        "plan",
        "train",
        "--model",
        "llama-2-7b",
        "--gpus",
        "64xH800",
        "--tokens",
        "50B",
        "--deadline",
        "14d",
        "--min-gpus",
        "--global-batch",
        "256",
        "--json",
    )
    assert r.code == 0, r.err
    hit = r.json()["min_gpus"][0]
    assert hit["gpus"] is not None and hit["best"]["days"] <= 14
    smaller = hit["gpus"] - 8 if hit["gpus"] > 8 else hit["gpus"] - 1  # the previous count tried
    if smaller >= 1:  # one fewer step of GPUs misses the deadline (or does not fit)
        again = cli(
            "plan",
            "train",
            "--model",
            "llama-2-7b",
            "--gpus",
            f"{smaller}xH800",
            "--tokens",
            "50B",
            "--global-batch",
            "256",
            "--json",
        )
        assert again.code != 0 or again.json()["best"]["days"] > 14


def test_cli_min_gpus_says_how_far_all_owned_gpus_miss(cli: Callable[..., Any]) -> None:
    args = ["plan", "train", "--model", "llama-2-7b", "--gpus", "8xL20", "--tokens", "2T",
            "--global-batch", "256"]
    r = cli(*args, "--deadline", "7d", "--min-gpus", "--json")
    assert r.code == 0, r.err
    miss = r.json()["min_gpus"][0]
    assert miss["gpus"] is None and miss["best"] is None
    full = cli(*args, "--json").json()["best"]["days"]  # the plan on all 8 GPUs
    assert miss["days_with_all_owned"] == pytest.approx(full) and full > 7
    text = cli(*args, "--deadline", "7d", "--min-gpus")
    assert f"all 8 GPUs need {full:.1f} days, over the 7-day deadline" in text.out


def test_cli_fleet_file(cli: Callable[..., Any], tmp_path: Any) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "name: t\nnodes:\n  - name: a\n    count: 2\n    gpus: 8 x A800\n"
        "  - name: b\n    count: 1\n    gpus: 4 x L20\n",
        encoding="utf-8",
    )
    r = cli(
        "plan",
        "train",
        "--model",
        "llama-2-7b",
        "--fleet",
        str(fleet),
        "--global-batch",
        "128",
        "--json",
    )
    assert r.code == 0, r.err
    out = r.json()
    assert {c["gpu_type"] for c in out["candidates"]} <= {"A800", "L20"}
    assert out["best"]["gpu_type"] == "A800" and out["best"]["gpus"] == 16


def test_cli_device_profile_replaces_catalog_rates(cli: Callable[..., Any], tmp_path: Any) -> None:
    from gpuwise.calibrate.profile import DeviceProfile, GemmPoint

    def point(n: int, tflops: float) -> GemmPoint:
        return GemmPoint(
            m=n, n=n, k=n, precision="bf16", tflops=tflops, seconds=2 * n**3 / tflops / 1e12
        )

    def profile(scale: float) -> str:
        p = DeviceProfile(
            device="cuda",
            name="NVIDIA A800-SXM4-80GB",
            torch_version="2.13.0",
            threads=1,
            memory_gib=80.0,
            gemm=(point(512, 60 * scale), point(4096, 200 * scale)),
            mem_bw_gbs=1800.0,
            allreduce_gbs=150.0,
        )
        path = tmp_path / f"p{scale}.json"
        p.save(path)
        return str(path)

    args = (
        "plan",
        "train",
        "--model",
        "llama-2-7b",
        "--gpus",
        "8xA800",
        "--global-batch",
        "64",
        "--tp",
        "2",
        "--zero",
        "1",
        "--recompute",
        "selective",
        "--micro-batch",
        "1",
        "--json",
    )
    slow = cli(*args, "--device-profile", profile(1.0))
    fast = cli(*args, "--device-profile", profile(2.0))
    assert slow.code == 0 and fast.code == 0, slow.err + fast.err
    s, f = slow.json()["best"], fast.json()["best"]
    assert s["precision"] == "bf16"  # fp8 was not measured, so it is not offered
    assert f["step_time_s"] < 0.75 * s["step_time_s"]  # GEMM-bound: faster GEMMs, faster steps


def test_cli_emit_writes_engine_config(cli: Callable[..., Any], tmp_path: Any) -> None:
    out = tmp_path / "ds.json"
    r = cli(
        "plan",
        "train",
        "--model",
        "llama-2-7b",
        "--gpus",
        "16xA800",
        "--global-batch",
        "128",
        "--emit",
        "deepspeed",
        "--emit-out",
        str(out),
        "--json",
    )
    assert r.code == 0, r.err
    cfg = json.loads(out.read_text(encoding="utf-8"))
    best = r.json()["best"]
    assert cfg["train_micro_batch_size_per_gpu"] == best["micro_batch"]
    assert cfg["train_batch_size"] == 128


def test_sustained_clock_follows_flops_per_watt() -> None:
    from gpuwise.planner.efficiency import sustained_clock_ratio

    ratios = {
        n: sustained_clock_ratio(get_accelerator(n))
        for n in ("A100-80GB", "H100-SXM", "H200", "H100-PCIe", "H20", "RTX4090")
    }
    assert ratios["A100-80GB"] == pytest.approx(1305 / 1410, abs=0.001)  # anchor: HPL clock
    assert ratios["H200"] == pytest.approx(702.9 / 828.0, abs=0.001)  # anchor: MSMF / MAMF
    assert ratios["H100-SXM"] == ratios["H200"]  # same die, same 700 W
    assert ratios["H100-PCIe"] == pytest.approx(0.84)  # densest: clamped at B200's measurement
    assert ratios["H20"] > ratios["A100-80GB"] and ratios["RTX4090"] <= 1.0


def test_fp8_speeds_up_gemms_but_not_everything() -> None:
    m = get_model("llama-3-70b")
    kw: dict[str, Any] = {
        "seq": 8192,
        "global_batch": 128,
        "gpus": 64,
        "tp": 8,
        "pp": 4,
        "vpp": 5,
        "micro_batch": 1,
        "recompute": "none",
        "zero": 1,
    }
    bf16 = evaluate_config(m, "H100-SXM", precision="bf16", **kw)["time_s"]["step"]
    fp8 = evaluate_config(m, "H100-SXM", precision="fp8", **kw)["time_s"]["step"]
    assert 1.1 < bf16 / fp8 < 1.9  # 2x GEMM peak; casts, attention, comm and bubbles stay
    a100 = Hardware.from_catalog(get_accelerator("A100-80GB"))  # no FP8 tensor cores
    res = search(m, a100, _setup(64), {"precision": "fp8"})
    assert not res.ranked and res.rejected["no_fp8_on_gpu"] > 0
