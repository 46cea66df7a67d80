"""Measured device-profile rates in the time model, and activation bytes per element.

Each optional profile field replaces the modelled rate of its own kernel class -- the
elementwise-kernel bandwidth for memory-bound work, the SDPA rates for the fused attention
core, the dropout kernel's rate for dropout bytes -- and a profile without them gives exactly
the numbers of a profile that never had them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gpuwise.calibrate.profile import AttentionPoint, DeviceProfile, GemmPoint
from gpuwise.planner.engines import Engine
from gpuwise.planner.flash_rate import first_generation_share
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import FLASH_BWD_RATIO, layer_times
from gpuwise.planner.memory import layer_activation_bytes, memory_breakdown
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import step_time

SEQ, MB = 256, 2
STREAM_GBS, ELEMENTWISE_GBS, DROPOUT_GBS = 20.0, 8.0, 0.5

GPT = ModelConfig(name="gpt-drop", layers=2, hidden=256, heads=4, vocab=1024, ffn_type="gelu",
                  tied_embeddings=True, learned_pos_emb=True, bias=True, norm="layernorm",
                  dropout=True, seq_len=SEQ)
LLAMA = ModelConfig(name="llama-tiny", layers=2, hidden=256, heads=4, kv_heads=2, ffn=688,
                    ffn_type="swiglu", vocab=1024, seq_len=SEQ)


def _profile(**extra: Any) -> DeviceProfile:
    gemm = tuple(GemmPoint(m=n, n=n, k=n, precision="bf16", tflops=t, seconds=2 * n**3 / t / 1e12)
                 for n, t in ((64, 0.02), (256, 0.1), (1024, 0.2)))
    return DeviceProfile(device="cpu", name="CPU test", torch_version="0", threads=1,
                         memory_gib=16.0, gemm=gemm, mem_bw_gbs=STREAM_GBS, **extra)


def _attention(fwd: float = 0.04, bwd: float = 0.03) -> tuple[AttentionPoint, ...]:
    return tuple(AttentionPoint(batch=1, heads=8, seq=s, head_dim=d, precision="bf16",
                                fwd_tflops=fwd * f, bwd_tflops=bwd * f)
                 for s, f in ((128, 0.5), (512, 1.0)) for d in (64, 128))


def _engine(flash: bool, fused: bool = False) -> Engine:
    return Engine("t", flash_attention=flash, sequence_parallel=False, overlap_dp=False,
                  fused_kernels=fused)


def _times(model: ModelConfig, hw: Hardware, flash: bool) -> dict[str, float]:
    setup = Setup(seq=SEQ, global_batch=2 * MB, gpus=1, engine=_engine(flash))
    c = single(micro_batch=MB)
    out = {k: float(v[0]) for k, v in layer_times(model, False, c, setup, hw).items()}
    out.update({k: float(v[0]) for k, v in step_time(model, c, setup, hw).items()})
    return out


def _legacy(profile: DeviceProfile) -> Hardware:
    """A profile Hardware built only from GEMM rates and STREAM bandwidth (on the same kind
    of device: a CPU runs its ops on the issuing thread, ``planner.launch``)."""
    base = Hardware.from_profile(profile)
    return Hardware(base.acc, profile.mem_bw_gbs, base.link_gbs, profile.gemm_tflops_at,
                    tuple(profile.precisions), host_device=base.host_device)


@pytest.mark.parametrize(("model", "flash"), [(GPT, False), (GPT, True), (LLAMA, True)])
def test_profile_without_optional_fields_is_unchanged(model: ModelConfig, flash: bool) -> None:
    prof = _profile()
    hw = Hardware.from_profile(prof)
    assert hw.mem_bw_gbs == STREAM_GBS and not hw.attention_measured and not hw.kernel_gbs
    assert _times(model, hw, flash) == _times(model, _legacy(prof), flash)
    # an elementwise breakdown without a dropout entry changes nothing but the stream rate
    other = Hardware.from_profile(_profile(elementwise_detail={"add": 3.0, "gelu": 1.0}))
    assert _times(model, other, flash) == _times(model, hw, flash)


def test_elementwise_bandwidth_replaces_stream_for_memory_bound_terms() -> None:
    hw = Hardware.from_profile(_profile(elementwise_gbs=ELEMENTWISE_GBS))
    assert hw.mem_bw_gbs == ELEMENTWISE_GBS
    base = _times(LLAMA, _legacy(_profile()), True)
    new = _times(LLAMA, hw, True)
    ratio = STREAM_GBS / ELEMENTWISE_GBS
    for key in ("elem_f", "elem_b", "optimizer"):  # pure byte streams scale with 1 / bandwidth
        assert new[key] == pytest.approx(base[key] * ratio, rel=1e-12)
    for key in ("gemm_f", "gemm_b", "attn_f", "attn_b"):  # compute terms do not move
        assert new[key] == base[key]


def test_measured_attention_rates_charge_the_flash_core() -> None:
    hw = Hardware.from_profile(_profile(attention=_attention()))
    assert hw.attention_measured
    t = _times(LLAMA, hw, True)
    d_qk, d_v = attn_dims(LLAMA)
    flops_f = 0.5 * 2.0 * SEQ * SEQ * (d_qk + d_v) * LLAMA.heads * MB  # causal half
    prof = _profile(attention=_attention())
    fwd = prof.attention_tflops_at(SEQ, int(d_qk), "fwd")
    bwd = prof.attention_tflops_at(SEQ, int(d_qk), "bwd")
    assert t["attn_f"] == pytest.approx(flops_f / (fwd * 1e12), rel=1e-12)
    assert t["attn_b"] == pytest.approx(FLASH_BWD_RATIO * flops_f / (bwd * 1e12), rel=1e-12)
    # halving the forward rate doubles the forward term only; same for backward
    slow_f = _times(LLAMA, Hardware.from_profile(_profile(attention=_attention(fwd=0.02))), True)
    assert slow_f["attn_f"] == pytest.approx(2.0 * t["attn_f"], rel=1e-12)
    assert slow_f["attn_b"] == t["attn_b"]
    slow_b = _times(LLAMA, Hardware.from_profile(_profile(attention=_attention(bwd=0.015))), True)
    assert slow_b["attn_b"] == pytest.approx(2.0 * t["attn_b"], rel=1e-12)
    assert slow_b["attn_f"] == t["attn_f"]
    # the rest of the layer is untouched, and so is the non-flash path (batched GEMMs)
    base = _times(LLAMA, _legacy(_profile()), True)
    assert (t["gemm_f"], t["elem_f"]) == (base["gemm_f"], base["elem_f"])
    assert _times(GPT, hw, False) == _times(GPT, _legacy(_profile()), False)


def test_first_generation_flash_runs_at_its_measured_share_of_the_profile_rate() -> None:
    """A profile measures a FlashAttention-2-class SDPA; a first-generation engine runs at the
    first FlashAttention's measured share of it at that length (the catalog path's factor)."""
    hw = Hardware.from_profile(_profile(attention=_attention()))
    setup = Setup(seq=SEQ, global_batch=2 * MB, gpus=1, engine=_engine(True))
    gen1 = Setup(seq=SEQ, global_batch=2 * MB, gpus=1,
                 engine=Engine("t1", flash_attention=True, sequence_parallel=False,
                               overlap_dp=False, fused_kernels=False, flash_generation=1))
    c = single(micro_batch=MB)
    new, old = layer_times(LLAMA, False, c, gen1, hw), layer_times(LLAMA, False, c, setup, hw)
    share = float(first_generation_share(np.array([float(SEQ)]))[0])
    assert 0.5 < share < 0.7
    for k in ("attn_f", "attn_b"):
        assert new[k][0] == pytest.approx(old[k][0] / share, rel=1e-12)


def test_measured_dropout_rate_charges_forward_dropout_bytes() -> None:
    detail = {"dropout": DROPOUT_GBS, "add": 9.0}
    hw = Hardware.from_profile(_profile(elementwise_detail=detail))
    assert hw.kernel_gbs == {"dropout": DROPOUT_GBS}
    base = _times(GPT, _legacy(_profile()), False)
    new = _times(GPT, hw, False)
    # forward dropout bytes: 5 per attention-probability element (read 2, write 2, 1-byte
    # mask) and the 1-byte masks of the two hidden-state dropouts per token
    tok = SEQ * MB
    scores = 5.0 * GPT.heads * MB * SEQ * SEQ
    extra = 1.0 / (DROPOUT_GBS * 1e9) - 1.0 / (STREAM_GBS * 1e9)
    assert new["scores_f"] - base["scores_f"] == pytest.approx(scores * extra, rel=1e-9)
    hidden = 2.0 * GPT.hidden * tok
    assert new["elem_f"] - base["elem_f"] == pytest.approx((scores + hidden) * extra, rel=1e-9)
    assert new["elem_b"] == base["elem_b"]  # backward multiplies by the mask: no random numbers
    # a model without dropout does not see the dropout rate
    nodrop = GPT.with_updates(dropout=False)
    assert _times(nodrop, hw, False) == _times(nodrop, _legacy(_profile()), False)


def _gpt_layer(act_bytes: float, mask_bytes: float, flash: bool = False) -> float:
    setup = Setup(seq=SEQ, global_batch=MB, gpus=1, engine=_engine(flash, fused=True))
    c = single(micro_batch=MB)
    return float(layer_activation_bytes(GPT, False, c, setup, None, act_bytes, mask_bytes)[0])


def test_activation_bytes_per_element() -> None:
    s, b, h, a = SEQ, MB, GPT.hidden, GPT.heads
    # Korthikanti et al. 2022 sec. 4.1 by element: 16 sbh activations and 2 sbh dropout masks
    # per layer, plus 2 as^2b score-sized activations (softmax and dropout outputs) and one
    # score-sized mask -- 34 sbh + 5 as^2 b bytes at 2-byte activations and 1-byte masks
    for act, mask in ((2.0, 1.0), (4.0, 1.0), (2.0, 0.125)):
        expect = s * b * h * (16 * act + 2 * mask) + a * s * s * b * (2 * act + mask)
        assert _gpt_layer(act, mask) == pytest.approx(expect, rel=1e-12)
    assert _gpt_layer(2.0, 1.0) == pytest.approx(s * b * h * (34 + 5 * a * s / h), rel=1e-12)
    # flash attention: no score-sized tensors, an fp32 log-sum-exp per head instead
    for act, mask in ((2.0, 1.0), (4.0, 1.0)):
        expect = s * b * h * (16 * act + 2 * mask) + 4.0 * a * s * b
        assert _gpt_layer(act, mask, flash=True) == pytest.approx(expect, rel=1e-12)


def test_logits_term_keeps_fp32_logits() -> None:
    setup = Setup(seq=SEQ, global_batch=MB, gpus=1, engine=_engine(True, fused=True))
    c = single(micro_batch=MB)
    lo = memory_breakdown(GPT, c, setup, 80.0)
    hi = memory_breakdown(GPT, c, setup, 80.0, act_bytes=4.0)
    tok = SEQ * MB
    # fp32 logits (4 B) in both; the final norm's and the output layer's inputs widen
    assert float(lo["logits"][0]) == pytest.approx(tok * (4.0 * GPT.vocab + 4.0 * GPT.hidden))
    assert float(hi["logits"][0]) == pytest.approx(tok * (4.0 * GPT.vocab + 8.0 * GPT.hidden))
    assert np.array_equal(lo["weights"], hi["weights"])


def test_fp32_activation_bytes_match_counted_tensors() -> None:
    """fp32 training (4-byte activations, 1-byte masks) against saved-tensor hooks."""
    torch = pytest.importorskip("torch")
    from gpuwise.calibrate.torch_train import count_memory

    torch.set_num_threads(1)
    cfg = GPT.with_updates(hidden=128, seq_len=128)
    real = count_memory(cfg, 2, 128, precision="fp32", grad_bytes=4, flash=False)
    setup = Setup(seq=128, global_batch=2, gpus=1, engine=_engine(False, fused=True))
    br = memory_breakdown(cfg, single(micro_batch=2), setup, 80.0, act_bytes=4.0)
    assert float(br["activations"][0] + br["logits"][0]) == pytest.approx(real.activations,
                                                                          rel=0.05)
