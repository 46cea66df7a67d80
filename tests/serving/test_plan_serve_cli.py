"""``gpuwise plan serve`` with a rate: ranking by GPUs, alternatives, bad input."""

from __future__ import annotations

RATE_ARGS = ("--prompt-tokens", "1024", "--output-tokens", "256", "--rate", "4",
             "--ttft-slo", "2000", "--tpot-slo", "50", "--json")


def test_rate_plan_ranks_options_by_gpus(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--model", "llama-2-70b", "--gpu", "H800,H20,L20",
              "--precision", "bf16,int4", "--alt-model", "llama-3-8b", *RATE_ARGS)
    assert res.code == 0, res.err
    out = res.json()
    assert out["model"] == "llama-2-70b" and isinstance(out["gpus_needed"], int)
    feasible = [o["gpus_needed"] for o in out["options"] if o["gpus_needed"] is not None]
    assert feasible == sorted(feasible)
    mine = [o for o in out["options"] if o["model"] == "llama-2-70b" and o["gpus_needed"]]
    assert out["gpus_needed"] == min(o["gpus_needed"] for o in mine)
    assert out["tpot_ms"] <= 50 and out["ttft_ms"] <= 2000
    for key in ("fits", "memory_gib_per_gpu", "decode_tokens_per_s", "max_batch"):
        assert key in out
    small = [o for o in out["options"] if o["model"] == "llama-3-8b"]
    assert small and small[0]["loss"] > out["loss"]  # the quality cost of the smaller model


def test_model_fits_no_tp_gives_alternative(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--model", "llama-3-405b", "--gpu", "L20", "--precision", "bf16")
    assert res.code == 2
    assert "does not fit on L20" in res.err and res.err.count("\n") == 1


def test_unmeetable_objectives_name_the_closest(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--model", "llama-2-70b", "--gpu", "L20", "--precision", "int4",
              "--rate", "1", "--ttft-slo", "10", "--tpot-slo", "1")
    assert res.code == 2
    assert "closest is llama-2-70b int4" in res.err


def test_unknown_gpu_and_model_suggest(cli) -> None:  # type: ignore[no-untyped-def]
    assert "error:" in cli("plan", "serve", "--model", "llama-2-7b", "--gpu", "H2O").err
    res = cli("plan", "serve", "--model", "llama2-7b", "--gpu", "H20")
    assert res.code == 2 and "llama-2-7b" in res.err


def test_compare_side_by_side_with_quality_cost(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--compare",
              "llama-2-70b:bf16:8xH800,llama-2-70b:int4:2xH20,llama-3-8b:bf16:1xL20",
              "--rate", "2", "--ttft-slo", "3000", "--tpot-slo", "50", "--json")
    assert res.code == 0, res.err
    rows = res.json()["comparison"]
    assert [(r["model"], r["gpu"], r["tp"]) for r in rows] == [
        ("llama-2-70b", "H800", 8), ("llama-2-70b", "H20", 2), ("llama-3-8b", "L20", 1)]
    assert rows[0]["loss_delta"] == 0.0
    assert rows[2]["loss_delta"] > 0  # the 8B model costs quality
    assert all(r["gpus_needed"] for r in rows)


def test_compare_bad_spec(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("plan", "serve", "--compare", "llama-2-70b:bf16:H800")
    assert res.code == 2 and "MODEL:PRECISION:NxGPU" in res.err


def test_device_profile_replaces_catalog_rates(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gpuwise.calibrate import DeviceProfile, GemmPoint

    prof = DeviceProfile(
        device="cuda", name="probe", torch_version="2.13.0", threads=1, memory_gib=80.0,
        gemm=(GemmPoint(m=4096, n=4096, k=4096, precision="bf16", tflops=250.0, seconds=0.5),),
        mem_bw_gbs=1000.0,
    )
    path = tmp_path / "p.json"
    prof.save(path)
    args = ("plan", "serve", "--model", "llama-2-7b", "--gpu", "A100-80GB", "--tp", "1",
            "--json")
    cat = cli(*args).json()
    meas = cli(*args, "--device-profile", str(path)).json()
    # batch-1 decode is memory-bound: half the bandwidth (1000 vs ~1835 GB/s) ≈ half the rate
    assert meas["decode_tokens_per_s"] < 0.75 * cat["decode_tokens_per_s"]
