"""The MoE host-dispatch report (``benchmarks/bench_moe_host_bound.py``): its bounds and what
they say about the Qwen3-30B-A3B rows."""

from __future__ import annotations

import pytest

from benchmarks.bench_moe_host_bound import HostBound, host_bound, moe_rows

ROWS = {r["id"]: r for r in moe_rows()}


def test_sync_bound_adds_the_smaller_of_gpu_and_cpu_forward() -> None:
    """Serialising the forward adds exactly the shorter of its GPU time and its dispatch."""
    b = HostBound("x", 2.0, gpu_f=1e-3, gpu_b=2e-3, kernels_f=100, kernels_b=200, dispatch_us=4.0)
    assert b.layer == pytest.approx(3e-3)
    assert b.layer_sync == pytest.approx(3.4e-3)
    assert b.ratio_sync == pytest.approx(2.0 * 3.0 / 3.4)
    host = HostBound("y", 1.0, 1e-4, 2e-3, kernels_f=100, kernels_b=200, dispatch_us=4.0)
    assert host.layer_sync - host.layer == pytest.approx(1e-4)


def test_qwen3_30b_counts_every_local_expert_gemm() -> None:
    """EP8 over 128 experts: 16 local experts, FC1 and FC2 each, one launch per expert."""
    b = host_bound(ROWS["mb2602-qwen3-30b-a3b-fp8"])
    assert b.kernels_f >= 2 * 128 / 8
    assert b.kernels_b >= 2 * b.kernels_f - 10


def test_qwen3_30b_gap_scales_with_tokens_not_ops() -> None:
    """The two Qwen3-30B rows differ in micro-batch (1 vs 2) at the same kernel count and are
    published at nearly the same tokens/s, so the per-op cost that would make them host-bound
    doubles with the micro-batch: the missing time is per token, not per dispatched op."""
    mbs1 = host_bound(ROWS["mb2602-qwen3-30b-a3b-fp8"])
    mbs2 = host_bound(ROWS["mb2511-qwen3-30b-a3b-fp8"])
    assert mbs1.kernels_f + mbs1.kernels_b == mbs2.kernels_f + mbs2.kernels_b
    assert mbs2.needed_us_per_op / mbs1.needed_us_per_op == pytest.approx(2.0, rel=0.1)
    # even serialised at the default per-op cost, the sync leaves the rows over 2x
    assert min(mbs1.ratio_sync, mbs2.ratio_sync) > 2.0


def test_sync_bound_is_for_the_nccl_alltoall_rows_only() -> None:
    """The AutoModel DeepSeek-V3 rows run DeepEP, not Megatron-Core's all-to-all dispatcher."""
    assert not host_bound(ROWS["automodel-dsv3-256"]).nccl_alltoall
    assert host_bound(ROWS["mb2602-qwen3-235b-a22b-fp8"]).nccl_alltoall
