"""Length distributions: mean for throughput, p99 for fitting and for the TTFT tail."""

from __future__ import annotations

import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import get_model
from gpuwise.serving.batching import steady_state
from gpuwise.serving.hw import hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.timing import Deployment
from gpuwise.serving.workload import Workload, load_lengths, parse_length


def test_parse_length() -> None:
    assert parse_length("512", "--p") == (512, None)
    assert parse_length("512:4096", "--p") == (512, 4096)
    with pytest.raises(GpuwiseError, match="MEAN:P99"):
        parse_length("lots", "--p")
    with pytest.raises(GpuwiseError, match="mean ≤ p99"):
        parse_length("4096:512", "--p")


def test_load_lengths_mean_and_p99(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "req.csv"
    rows = ["prompt_tokens,output_tokens"] + [f"{100 + i},{10 + i % 7}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n")
    wl = load_lengths(path)
    assert wl.prompt == 200 and wl.prompt_tail >= 296
    assert wl.output == 13 and wl.output_tail == 16


def test_load_lengths_bad_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "req.csv"
    path.write_text("prompt,output\n1,2\n")
    with pytest.raises(GpuwiseError, match="prompt_tokens,output_tokens"):
        load_lengths(path)
    path.write_text("prompt_tokens,output_tokens\n5,x\n")
    with pytest.raises(GpuwiseError, match=":2:"):
        load_lengths(path)


def test_tail_raises_p99_ttft_not_throughput() -> None:
    dep = Deployment(get_model("llama-3-8b"), hardware("H800"))
    cap = memory_fit(dep.model, dep.hw.memory_bytes, 1, "bf16", "bf16", 1280).max_batch
    fixed = steady_state(dep, Workload(1024, 256), 4.0, cap)
    tail = steady_state(dep, Workload(1024, 256, prompt_p99=8192), 4.0, cap)
    assert fixed is not None and tail is not None
    assert tail.ttft_p99_s > fixed.ttft_p99_s
    assert tail.ttft_p50_s == pytest.approx(fixed.ttft_p50_s)
    assert tail.tpot_s == pytest.approx(fixed.tpot_s)


def test_cli_length_distribution(cli) -> None:  # type: ignore[no-untyped-def]
    base = ("plan", "serve", "--model", "llama-3-8b", "--gpu", "L20", "--tp", "1",
            "--output-tokens", "256", "--rate", "1", "--ttft-slo", "5000", "--json")
    fixed = cli(*base, "--prompt-tokens", "1024")
    tail = cli(*base, "--prompt-tokens", "1024:16384")
    assert fixed.code == 0 and tail.code == 0, tail.err
    assert tail.json()["ttft_ms"] > fixed.json()["ttft_ms"]
