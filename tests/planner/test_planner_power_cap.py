"""A chip held below its design power limit (``Accelerator.power_limit_w``, ``nvidia-smi -pl``):
the sustained GEMM clock follows the measured same-die cap runs of ``efficiency.yaml``
``power_cap_measurements``, not the design-TDP interpolation of ``sustain_anchors``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from benchmarks.bench_planner_unseen import accelerator_for
from gpuwise.catalog import Accelerator, get_accelerator, load_catalog
from gpuwise.planner.efficiency import power_cap_ratio, sustained_clock_ratio
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.models import get_model
from tests.conftest import CliResult


def _capped(name: str, watts: float) -> Accelerator:
    return get_accelerator(name).model_copy(update={"power_limit_w": watts})


def test_no_cap_leaves_every_catalog_chip_as_designed() -> None:
    for acc in load_catalog().accelerators:
        assert acc.power_limit_w is None
        assert power_cap_ratio(acc) == 1.0
        assert acc.board_power_w == acc.tdp_w
    h100 = get_accelerator("H100-SXM")
    assert sustained_clock_ratio(_capped("H100-SXM", 700.0)) == sustained_clock_ratio(h100)


def test_cap_ratio_reproduces_the_mlperf_maxq_measurements() -> None:
    # DGX H100 Offline, MLPerf Inference v4.0: MaxQ / MaxP samples per second at each cap
    measured = {400.0: 53726.9 / 70116.2, 450.0: 50998.9 / 62182.5, 350.0: 9.64827 / 13.1263}
    for watts, ratio in measured.items():
        assert power_cap_ratio(_capped("H100-SXM", watts)) == pytest.approx(ratio, rel=0.015)
    ratios = [power_cap_ratio(_capped("H100-SXM", w)) for w in (200.0, 400.0, 500.0, 699.0)]
    assert ratios == sorted(ratios) and 0.0 < ratios[0] < ratios[-1] < 1.0


def test_a_capped_chip_throttles_deeper_than_one_designed_for_the_cap() -> None:
    """500 W on an H100 SXM: the die keeps its 700 W voltage curve and walks down it, deeper
    than the FLOP/s-per-watt interpolation gives a chip whose design TDP is 500 W."""
    capped = sustained_clock_ratio(_capped("H100-SXM", 500.0))
    h100 = get_accelerator("H100-SXM")
    designed = sustained_clock_ratio(h100.model_copy(update={"tdp_w": 500.0}))
    assert capped == pytest.approx(sustained_clock_ratio(h100) * 0.858, 1e-3)
    assert capped < designed


def test_cap_above_design_tdp_is_refused() -> None:
    data = get_accelerator("A100-80GB").model_dump()
    with pytest.raises(ValidationError, match="exceeds the design TDP"):
        Accelerator.model_validate({**data, "power_limit_w": 450.0})


def _plan(acc: Accelerator) -> dict[str, float]:
    row = evaluate_config(
        get_model("llama-3-8b"), acc, seq=8192, global_batch=16, gpus=8, zero=3,
        recompute="selective", engine="torchtitan", tokens=1e9,
    )
    return {k: float(row[k]) for k in ("tokens_per_s_per_gpu", "energy_mwh", "gpu_hours")}


def test_capped_plan_is_slower_and_its_energy_uses_the_cap() -> None:
    full = _plan(get_accelerator("H100-SXM"))
    capped = _plan(_capped("H100-SXM", 500.0))
    assert capped["tokens_per_s_per_gpu"] < full["tokens_per_s_per_gpu"]
    mw_full = full["energy_mwh"] / full["gpu_hours"]
    assert capped["energy_mwh"] / capped["gpu_hours"] == pytest.approx(mw_full * 500.0 / 700.0)


def test_grand_teton_variant_is_a_cap_not_a_new_design() -> None:
    acc = accelerator_for("H100-SXM-96GB-500W")
    assert acc.tdp_w == 700.0 and acc.power_limit_w == 500.0


def test_plan_train_power_limit_flag(cli: Callable[..., CliResult]) -> None:
    args = ("plan", "train", "--model", "llama-3-8b", "--gpus", "8xH100", "--global-batch", "16",
            "--precision", "bf16", "--top", "1", "--json")
    full, capped = cli(*args), cli(*args, "--power-limit", "500")
    assert full.code == 0 and capped.code == 0, capped.err
    speed = [r.json()["best"]["tokens_per_s_per_gpu"] for r in (full, capped)]
    assert speed[1] < speed[0]
    over = cli(*args, "--power-limit", "800")
    assert over.code == 2 and "design TDP 700" in over.err
    assert over.err.strip().count("\n") == 0
