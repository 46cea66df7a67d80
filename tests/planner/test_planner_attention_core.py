"""The unfused attention core of Megatron-LM 2021-2022 (planner.unfused_attention)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_attention_core import implied_rates
from gpuwise.catalog import get_accelerator
from gpuwise.planner.dropout_rng import rng_excess
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.unfused_attention import (
    DROPOUT_BYTES,
    STORE_BOUND_GEMM_FRACTION,
    TORCH_SOFTMAX_BYTES,
    AttentionCore,
    unfused_attention,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"
DAO = list(csv.DictReader((DATA / "dao2022_attention_a100.csv").open()))
A100_40 = Hardware.from_catalog(get_accelerator("A100-40GB"))


def _core(
    dropout: bool, seq: float = 2048.0, d: float = 64.0, softmax: str = "fused"
) -> AttentionCore:
    return unfused_attention(
        A100_40, np.array([128.0]), np.array([seq]), seq, d, d, dropout, softmax
    )


def test_score_kernel_bytes_per_element() -> None:
    """Softmax 2+2 bytes forward, 2+2+2 backward; dropout 2+2+1 (mask) each way."""
    elems = 128.0 * 2048.0**2
    drop, plain = _core(True), _core(False)
    assert drop.scores_bytes_f[0] == pytest.approx(9.0 * elems)
    assert drop.scores_bytes_b[0] == pytest.approx(11.0 * elems)
    assert drop.dropout_bytes_f[0] == pytest.approx(5.0 * elems)
    assert plain.scores_bytes_f[0] == pytest.approx(4.0 * elems)
    assert plain.scores_bytes_b[0] == pytest.approx(6.0 * elems)
    assert plain.dropout_bytes_f[0] == 0.0


def test_torch_softmax_backward_is_two_kernels() -> None:
    """torch.softmax backward forms grad * output (2+2+2 bytes) before the softmax-backward
    kernel (2+2+2): 12 bytes per element against the fused kernel's 6; forward the same 4."""
    elems = 128.0 * 2048.0**2
    torch, fused = _core(True, softmax="torch"), _core(True)
    assert TORCH_SOFTMAX_BYTES == (4.0, 12.0)
    assert torch.scores_bytes_f[0] == pytest.approx(fused.scores_bytes_f[0])
    assert torch.scores_bytes_b[0] == pytest.approx(fused.scores_bytes_b[0] + 6.0 * elems)
    assert torch.dropout_bytes_f[0] == pytest.approx(fused.dropout_bytes_f[0])
    assert torch.gemm_b[0] == pytest.approx(fused.gemm_b[0])


def test_score_gemms_are_store_bound_on_a100() -> None:
    """Q K^T (and the backward's dO V^T) over head dim 64 costs its output write at the
    measured store-bound GEMM rate (56 % of HBM), not the 90 % STREAM rate of the roofline."""
    core = _core(False)
    s, h = 2048.0, 128.0
    store = 2.0 * (2 * s * 64.0 + s * s) * h / (1555e9 * STORE_BOUND_GEMM_FRACTION)
    assert STORE_BOUND_GEMM_FRACTION == pytest.approx(0.5575, abs=1e-4)
    assert store > A100_40.gemm_time(s, s, 64.0, "bf16", h) * 1.5
    pv = A100_40.gemm_time(s, 64.0, s, "bf16", h)
    assert core.gemm_f[0] == pytest.approx(store + pv)
    # backward: dP = dO V^T writes scores; dV = P^T dO, dQ = dS K, dK^T = Q^T dS read them
    reads = 2.0 * pv + A100_40.gemm_time(64.0, s, s, "bf16", h)
    assert core.gemm_b[0] == pytest.approx(store + reads)


def test_measured_gemm_rates_stand_as_measured() -> None:
    """With a device profile's GEMM rates the score GEMMs are the profile's, no floor."""
    acc = get_accelerator("A100-40GB")
    hw = Hardware(acc, 1400.0, 200.0, lambda m, n, k, p: 100.0, ("bf16",))
    core = unfused_attention(hw, np.array([128.0]), np.array([2048.0]), 2048.0, 64.0, 64.0, False)
    flops = 2.0 * 2048.0 * 2048.0 * 64.0 * 128.0
    assert core.gemm_f[0] == pytest.approx(2.0 * flops / 100e12)
    assert core.gemm_b[0] == pytest.approx(4.0 * flops / 100e12)


def test_layer_times_use_the_unfused_core_without_flash_attention() -> None:
    """The megatron-2021 presets (no flash attention) charge exactly this core per layer."""
    model = get_model("gpt-22b")
    hw = Hardware.from_catalog(get_accelerator("A100-80GB"))
    setup = Setup(2048, 8, 8, 8, 25.0, 0.05, ENGINES["megatron-2021"], None)
    c = single(1, 8, 1, 1, 1, 1, 0, "none", 4, "bf16")
    lt = layer_times(model, False, c, setup, hw)
    heads = np.array([model.heads / 8 * 4.0])
    core = unfused_attention(hw, heads, np.array([2048.0]), 2048.0, 96.0, 96.0, model.dropout)
    assert lt["attn_f"][0] == pytest.approx(core.gemm_f[0])
    assert lt["attn_b"][0] == pytest.approx(core.gemm_b[0])
    elements = core.dropout_bytes_f / DROPOUT_BYTES
    rng = rng_excess(hw, elements, DROPOUT_BYTES)
    assert rng[0] > 0.0  # the A100's forward dropout is paced by its random numbers
    assert lt["scores_f"][0] == pytest.approx(hw.stream_time(core.scores_bytes_f[0]) + rng[0])


FWD_MISS = pytest.mark.xfail(
    strict=True,
    reason="model 0.85-0.88x the published forward at s 2048-4096 without dropout "
    "(benchmarks/bench_attention_core.py): the rows imply torch.softmax forward at 0.63-0.67 "
    "of HBM against the modelled 0.90; no published microbenchmark of that kernel at these "
    "shapes was found to source a term (dropout's forward rate comes from these rows: "
    "planner.dropout_rng)",
)


@pytest.mark.parametrize("direction", [pytest.param("fwd", marks=FWD_MISS), "bwd"])
def test_dao2022_unmasked_attention_within_10_percent(direction: str) -> None:
    """Dao et al. 2022 appendix E.6 (A100-40GB), unmasked rows at s >= 2048 (launch overhead
    dominates the short rows: 0.2-0.3 ms whatever the length).  Without a mask both methods
    ran torch.softmax (Megatron-LM's fused kernel needs a mask)."""
    for r in DAO:
        if r["padding_mask"] == "1" or int(r["seq"]) < 2048:
            continue
        core = _core(r["dropout"] == "1", float(r["seq"]), softmax="torch")
        if direction == "fwd":
            got = core.gemm_f[0] + A100_40.stream_time(core.scores_bytes_f[0])
            got += rng_excess(A100_40, core.dropout_bytes_f / DROPOUT_BYTES, DROPOUT_BYTES)[0]
        else:
            got = core.gemm_b[0] + A100_40.stream_time(core.scores_bytes_b[0])
        assert 1e3 * got == pytest.approx(float(r[f"{direction}_ms"]), rel=0.10), r


def test_dao2022_fused_softmax_backward_within_10_percent() -> None:
    """With the padding mask Megatron's method runs its fused softmax, whose backward reads no
    mask: the fused core's backward against Dao et al. 2022 E.6 at s >= 2048."""
    rows = [r for r in DAO if r["padding_mask"] == "1" and r["method"] == "Megatron"]
    rows = [r for r in rows if int(r["seq"]) >= 2048]
    assert len(rows) == 2
    for r in rows:
        core = _core(r["dropout"] == "1", float(r["seq"]))
        got = core.gemm_b[0] + A100_40.stream_time(core.scores_bytes_b[0])
        assert 1e3 * got == pytest.approx(float(r["bwd_ms"]), rel=0.10), r


def test_implied_rates_difference_the_published_rows() -> None:
    """The benchmark's diagnostic: dropout's rate is the dropout bytes over the difference of
    the rows with and without it; torch.softmax's is its bytes over the row less the GEMMs."""
    rates = {(seq, kind): (f, b) for seq, kind, f, b in implied_rates(A100_40)}
    assert sorted(rates) == [(2048, "dropout"), (2048, "torch.softmax"),
                             (4096, "dropout"), (4096, "torch.softmax")]
    elems, peak = 128.0 * 2048.0**2, 1555e9
    drop_f = DROPOUT_BYTES * elems / ((6.56 - 4.32) * 1e-3) / peak
    assert rates[(2048, "dropout")][0] == pytest.approx(drop_f)
    core = _core(False, softmax="torch")
    soft_b = TORCH_SOFTMAX_BYTES[1] * elems / (8.82e-3 - core.gemm_b[0]) / peak
    assert rates[(2048, "torch.softmax")][1] == pytest.approx(soft_b)


def test_published_rows_put_the_forward_gap_in_the_forward_kernels() -> None:
    """Where the forward misses (xfail above): the dropout and softmax backward kernels run
    within 10 % of the modelled stream rate, their forward kernels 13-30 % below it."""
    stream = A100_40.mem_bw_gbs / A100_40.acc.mem_bw_gbs
    for _seq, _kind, fwd, bwd in implied_rates(A100_40):
        assert bwd == pytest.approx(stream, rel=0.10)
        assert 0.70 * stream < fwd < 0.87 * stream
