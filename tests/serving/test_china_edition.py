"""Which China-edition chip suits which phase must fall out of the catalog numbers.

H20: 4.0 TB/s HBM but 148 dense BF16 TFLOP/s -> strong at decode, weak at prefill.
L20 / RTX 4090: PCIe only -> wide tensor parallelism loses per-GPU throughput to all-reduces.
"""

from __future__ import annotations

from gpuwise.planner.models import get_model
from gpuwise.serving.batching import Workload
from gpuwise.serving.hw import hardware
from gpuwise.serving.memory import memory_fit
from gpuwise.serving.timing import Deployment, decode_step, prefill


def _decode_tps(gpu: str, model: str, tp: int, batch: int, ctx: int = 1024) -> float:
    dep = Deployment(get_model(model), hardware(gpu), tp)
    return batch / decode_step(dep, batch, ctx).total_s / tp


def _prefill_tps(gpu: str, model: str, tp: int, prompt: int = 2048) -> float:
    dep = Deployment(get_model(model), hardware(gpu), tp)
    return prompt / prefill(dep, 1, prompt).total_s / tp


def test_h20_decode_advantage_beats_its_prefill_ratio_vs_h800() -> None:
    for batch in (1, 16, 64):
        decode_ratio = _decode_tps("H20", "llama-3-8b", 1, batch) / _decode_tps(
            "H800", "llama-3-8b", 1, batch
        )
        prefill_ratio = _prefill_tps("H20", "llama-3-8b", 1) / _prefill_tps(
            "H800", "llama-3-8b", 1
        )
        assert decode_ratio > 0.9  # as fast or faster per GPU at decode (more HBM bandwidth)
        assert prefill_ratio < 0.3  # a fraction of H800 at prefill
        assert decode_ratio > 3 * prefill_ratio


def _tp8_over_tp2(gpu: str, model: str, prec: str, batch: int = 64) -> float:
    """Per-GPU decode throughput of TP=8 over TP=2 at the same batch (both must fit)."""
    m, hw = get_model(model), hardware(gpu)
    wl = Workload(1024, 256)
    tps = {}
    for tp in (2, 8):
        assert memory_fit(m, hw.memory_bytes, tp, prec, "bf16", 1280).max_batch >= batch
        dep = Deployment(m, hw, tp, prec)
        tps[tp] = batch / decode_step(dep, batch, wl.mean_context).total_s / tp
    return tps[8] / tps[2]


def test_tp8_on_pcie_is_slower_per_gpu_than_tp2() -> None:
    for gpu in ("L20", "RTX4090"):
        assert _tp8_over_tp2(gpu, "llama-3-8b", "bf16") < 1.0
    assert _tp8_over_tp2("L20", "llama-2-70b", "int4", batch=16) < 1.0


def test_wide_tp_costs_more_on_pcie_than_on_nvlink() -> None:
    for model, prec, b in (("llama-3-8b", "bf16", 64), ("llama-2-70b", "int4", 16)):
        assert _tp8_over_tp2("L20", model, prec, b) < _tp8_over_tp2("H800", model, prec, b)


def test_tp_allreduce_is_a_large_share_of_decode_on_l20() -> None:
    m = get_model("llama-3-8b")
    l20 = decode_step(Deployment(m, hardware("L20"), 8), 64, 1024)
    h800 = decode_step(Deployment(m, hardware("H800"), 8), 64, 1024)
    assert l20.comm_s / l20.total_s > 2 * h800.comm_s / h800.total_s
