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
