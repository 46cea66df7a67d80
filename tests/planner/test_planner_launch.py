"""Per-op CPU dispatch in the training time model (``gpuwise.planner.launch``).

A layer takes ``max(GPU time, ops x dispatch)`` on a GPU (the CPU issues ahead) and ``own time
+ ops x dispatch`` on a CPU device; the kernel counts follow the engine's flags.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.engines import ENGINES
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.launch import DISPATCH_US, EAGER_RMSNORM_OPS, layer_kernels, paced
from gpuwise.planner.layer_time import layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import step_time
from tests.planner.test_planner_profile_rates import GPT, _profile

TP1, TP8 = np.array([1]), np.array([8])


def _counts(model: str, engine: str, tp: np.ndarray = TP1, gemms: float = 4.0) -> tuple:
    f, b = layer_kernels(get_model(model), ENGINES[engine], False, tp, np.array([gemms]))
    return float(f[0]), float(b[0])


def test_megatron_2021_layer_kernels() -> None:
    # GPT (learned positions, biases, dropout), unfused attention, fused norms/bias kernels:
    # forward 4 GEMMs + baddbmm/softmax/dropout/bmm/copy + 2 norms + bias-gelu + 2
    # bias-dropout-adds, + 2 all-reduces at TP 8; backward 8 GEMMs + 7 attention + 4 norm
    # + 3 fused + 4 bias reductions, + 2 all-reduces
    assert _counts("gpt-1.7b", "megatron-2021") == (14.0, 26.0)
    assert _counts("gpt-1.7b", "megatron-2021", TP8) == (16.0, 28.0)
    # sequence parallelism: 4 collectives forward, 6 backward
    assert _counts("gpt-22b", "megatron-2022", TP8) == (18.0, 32.0)


def test_eager_engines_launch_more_kernels_than_fused() -> None:
    fused = _counts("llama-3-8b", "torchtitan-compile")
    eager = _counts("llama-3-8b", "torchtitan")
    # the eager fp32 RMSNorm chain replaces two fused norm kernels
    norm_f = 2 * EAGER_RMSNORM_OPS[0] - 2
    assert eager[0] > fused[0] + norm_f
    assert eager[1] > fused[1]


def test_paced_gpu_is_the_slower_side_cpu_device_adds() -> None:
    acc = get_accelerator("H100-SXM")
    gpu = Hardware.from_catalog(acc)
    k = np.array([10.0, 10.0])
    own = np.array([1e-6, 1e-3])  # 10 ops in 1 us: dispatch-bound; in 1 ms: GPU-bound
    np.testing.assert_allclose(paced(gpu, own, k), [10 * DISPATCH_US * 1e-6, 1e-3])
    cpu = Hardware.from_profile(_profile(dispatch_us=2.0))
    assert cpu.host_device and cpu.dispatch_us == 2.0
    np.testing.assert_allclose(paced(cpu, own, k), own + 10 * 2.0e-6)


def _tiny_step(hw: Hardware, mb: int, seq: int) -> dict[str, np.ndarray]:
    model = get_model("mpt-125m")
    setup = Setup(seq=seq, global_batch=8 * mb, gpus=8, engine=ENGINES["llm-foundry-2023"])
    c = single(dp=8, zero=3, micro_batch=mb)
    out = dict(layer_times(model, False, c, setup, hw))
    out.update(step_time(model, c, setup, hw))
    return out


def test_dispatch_paces_small_layers_only() -> None:
    hw = Hardware.from_catalog(get_accelerator("H100-SXM"))
    free = Hardware.from_catalog(get_accelerator("H100-SXM"))
    free.dispatch_us = 1e-9  # a (hypothetical) free dispatch: the FLOP/byte model alone
    # mpt-125m, 512 tokens per micro-batch: its forward kernels run faster than they are issued
    small, small_free = _tiny_step(hw, 1, 512), _tiny_step(free, 1, 512)
    k_f, _ = layer_kernels(get_model("mpt-125m"), ENGINES["llm-foundry-2023"], False, TP1,
                           np.array([4.0]))
    own_f = sum(small[k] for k in ("gemm_f", "attn_f", "elem_f", "comm_f"))
    assert float(own_f[0]) < float(k_f[0]) * DISPATCH_US * 1e-6
    np.testing.assert_allclose(own_f + small["launch_f"], k_f * DISPATCH_US * 1e-6)
    assert float(small["step"][0]) > 1.05 * float(small_free["step"][0])
    # llm-foundry's own micro-batch (26 x 2048 tokens): GPU-bound, nothing changes
    big, big_free = _tiny_step(hw, 26, 2048), _tiny_step(free, 26, 2048)
    assert float(big["launch_f"][0]) == 0.0 and float(big["launch_b"][0]) == 0.0
    assert float(big["step"][0]) == pytest.approx(float(big_free["step"][0]), rel=1e-12)


def test_profile_dispatch_replaces_the_published_figure() -> None:
    slow = Hardware.from_profile(_profile(dispatch_us=50.0))
    fast = Hardware.from_profile(_profile(dispatch_us=1.0))
    setup = Setup(seq=256, global_batch=2, gpus=1, engine=ENGINES["fsdp"])
    c = single(micro_batch=1)
    t_slow = layer_times(GPT, False, c, setup, slow)
    t_fast = layer_times(GPT, False, c, setup, fast)
    # CPU device: the dispatch adds per op, so the difference is exactly ops x 49 us
    k_f, k_b = layer_kernels(GPT, ENGINES["fsdp"], False, TP1, np.array([4.0]))
    np.testing.assert_allclose(t_slow["launch_f"] - t_fast["launch_f"], k_f * 49e-6)
    np.testing.assert_allclose(t_slow["launch_b"] - t_fast["launch_b"], k_b * 49e-6)
