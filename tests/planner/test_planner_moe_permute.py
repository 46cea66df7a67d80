"""Megatron-Core's MoE permutation kernels (planner.moe_permute): permute / unpermute, the
all-to-all dispatcher's chunk sort, TEGroupedMLP's FP8 padding, the DeepEP variant."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.moe_comm import nodes_per_token
from gpuwise.planner.moe_permute import mcore_permute_bytes
from gpuwise.planner.parallel import Setup, single

QWEN = get_model("qwen3-30b-a3b")
H, K = float(QWEN.hidden), float(QWEN.top_k)
ONE = np.ones(1)


def _bytes(tp: float = 1.0, ep: float = 16.0, etp: float = 1.0, fp8: int = 0,
           dispatch: str = "nccl") -> float:
    return float(mcore_permute_bytes(
        QWEN, tp * ONE, ep * ONE, etp * ONE, np.array([fp8]), dispatch)[0])


def test_permute_unpermute_alone() -> None:
    """One local expert, BF16: the permute reads each token once and writes its k rows, the
    unpermute reads the k rows and writes one."""
    assert _bytes(ep=128.0) == pytest.approx(2.0 * (2.0 * H + 2.0 * H * K))


def test_chunk_sort_with_several_local_experts() -> None:
    """More than one local expert: the chunk sort and its restore copy every routed row."""
    assert _bytes(ep=16.0) - _bytes(ep=128.0) == pytest.approx(2.0 * 4.0 * H * K)


def test_fp8_padding() -> None:
    """FP8: TEGroupedMLP pads and unpads every routed row."""
    assert _bytes(fp8=1) - _bytes(fp8=0) == pytest.approx(2.0 * 4.0 * H * K)


def test_sequence_shard_and_expert_share() -> None:
    """TP 2 with expert TP 1: permute and unpermute on the sequence shard, the chunk sort on
    the rank's own routed rows -- half of everything per token of the TP group."""
    assert _bytes(tp=2.0, etp=1.0) == pytest.approx(0.5 * _bytes())
    # expert TP = TP: the sort runs on the all-gathered rows, the permute on the shard
    assert _bytes(tp=2.0, etp=2.0) == pytest.approx(
        0.5 * 2.0 * (2.0 * H + 2.0 * H * K) + 2.0 * 4.0 * H * K)


def test_deepep_reads_once_per_destination_rank() -> None:
    """DeepEP: no chunk sort; each received (token, rank) row read once, its k rows written."""
    r = nodes_per_token(QWEN.experts, QWEN.top_k, 32, "uniform")
    assert 1.0 < r < K
    assert _bytes(ep=32.0, dispatch="deepep") == pytest.approx(2.0 * (2.0 * H * r + 2.0 * H * K))


def test_layer_charges_the_same_bytes_each_pass() -> None:
    """In the layer: the Megatron-Core engines charge these bytes forward and backward alike,
    in place of the generic 8 h k forward (doubled backward)."""
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    mcore = ENGINES["modern"]
    generic = replace(mcore, name="generic-moe", mcore_moe=False)
    c = single(dp=1, tp=1, ep=16, precision="fp8")
    tok = 4096.0
    times = {}
    for eng in (mcore, generic):
        setup = Setup(seq=4096, global_batch=64, gpus=16, net_gbs_per_gpu=50.0, engine=eng)
        times[eng.name] = layer_times(QWEN, True, c, setup, hw)
    perm = _bytes(fp8=1)
    old = 8.0 * H * K
    d_f = times["modern"]["elem_f"][0] - times["generic-moe"]["elem_f"][0]
    d_b = times["modern"]["elem_b"][0] - times["generic-moe"]["elem_b"][0]
    assert d_f == pytest.approx(hw.stream_time((perm - old) * tok))
    assert d_b == pytest.approx(hw.stream_time((perm - 2.0 * old) * tok))
