"""``gpuwise plan size``: JSON contract, GPU budgets through the training planner, bad input."""

from __future__ import annotations

import pytest

from gpuwise.catalog import get_accelerator


def test_gpu_budget_uses_achievable_not_peak(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "size", "--gpus", "64xH800", "--days", "10", "--json")
    assert res.code == 0, res.err
    out = res.json()
    peak = 64 * get_accelerator("H800").dense_bf16_tflops * 1e12 * 10 * 86400
    assert 0.15 * peak < out["flops"] < 0.75 * peak
    assert set(out) >= {"params", "tokens", "loss", "candidates"}
    assert 6 * out["params"] * out["tokens"] == pytest.approx(out["flops"], rel=1e-6)
    # the compute-optimal candidate takes about the budget's days on its own throughput
    rec = out["recommendation"]
    assert rec["train_days"] == pytest.approx(10, rel=0.05)


def test_inference_tokens_recommend_a_smaller_model(cli) -> None:  # type: ignore[no-untyped-def]
    base = cli("plan", "size", "--flops", "1e23", "--json").json()
    res = cli("plan", "size", "--flops", "1e23", "--inference-tokens", "5e12", "--json")
    assert res.code == 0, res.err
    out = res.json()
    aware = out["inference_aware"]
    assert aware["params"] < base["params"]
    assert aware["loss"] == pytest.approx(base["loss"], abs=1e-9)
    assert 0 < aware["saving_vs_compute_optimal"] < 1
    assert out["recommendation"]["params"] == aware["params"]


def test_serving_cost_grows_with_size(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("plan", "size", "--flops", "1e22", "--serve-gpu", "H800", "--json").json()
    costs = [c["serve_gpu_hours_per_mtok"] for c in out["candidates"]]
    assert all(c is not None for c in costs)
    assert costs == sorted(costs)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--flops", "1e15"), "needs at least"),
        (("--flops", "1e22", "--fit", "hofman"), "did you mean hoffmann"),
        (("--days", "3"), "--gpus"),
        (("--gpus", "8xH800"), "exactly one budget"),
        (("--gpus", "8xH9000", "--days", "1"), "H9000"),
        (("--gpus", "8xT4", "--days", "30"), "the largest that fits is"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args: tuple[str, ...], needle: str) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "size", *args)
    assert res.code == 2
    assert needle in res.err
    assert res.err.startswith("error: ") and res.err.count("\n") == 1


def test_plot_writes_svg(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "size.svg"
    res = cli("plan", "size", "--flops", "5.76e23", "--plot", str(path))
    assert res.code == 0, res.err
    text = path.read_text()
    assert text.startswith("<svg") and text.count("<polyline") == 3
