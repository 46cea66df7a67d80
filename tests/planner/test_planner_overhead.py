"""The per-GPU runtime overhead: CUDA context and GEMM workspaces (planner.overhead)."""

from __future__ import annotations

import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.evaluate import evaluate_config
from gpuwise.planner.memory import GIB, memory_breakdown
from gpuwise.planner.models import get_model
from gpuwise.planner.overhead import (
    CUDA_CONTEXT_BYTES,
    MIB,
    runtime_overhead,
    te_gemm_workspace_bytes,
    torch_cublas_workspace_bytes,
)
from gpuwise.planner.parallel import Setup, single


def test_pytorch_cublas_workspace_sizes() -> None:
    # CublasHandlePool.cpp: 4096 KiB x 8 on sm_90, 4096 KiB x 2 + 16 KiB x 8 before; + 1 MiB Lt
    assert torch_cublas_workspace_bytes(True) == 33 * MIB
    assert torch_cublas_workspace_bytes(False) == 4096 * 1024 * 2 + 16 * 1024 * 8 + MIB


def test_te_workspace_grows_with_userbuffers() -> None:
    assert te_gemm_workspace_bytes(True, False) == 32 * MIB
    assert te_gemm_workspace_bytes(False, False) == 4 * MIB
    assert te_gemm_workspace_bytes(True, True) == 3 * 32 * MIB


def test_runtime_overhead_by_engine_and_device() -> None:
    h100_te = runtime_overhead("NVIDIA", "H100-SXM", ENGINES["modern"])
    assert h100_te.cuda_context == CUDA_CONTEXT_BYTES
    assert h100_te.workspaces == 2 * 33 * MIB + 32 * MIB
    ub = runtime_overhead("NVIDIA", "H100-SXM", ENGINES["modern-ub"])
    assert ub.workspaces == 2 * 33 * MIB + 96 * MIB
    # no Transformer Engine: PyTorch's two handles only, at the pre-Hopper size on A100
    a100 = runtime_overhead("NVIDIA", "A100-80GB", ENGINES["torchtitan"])
    assert a100.workspaces == 2 * torch_cublas_workspace_bytes(False)
    # a CPU device has no CUDA context or cuBLAS workspace
    assert runtime_overhead("Intel", "CPU Intel", ENGINES["modern"]).total == 0.0


def test_memory_breakdown_adds_the_runtime_overhead() -> None:
    model = get_model("llama-3-8b")
    setup = Setup(seq=8192, global_batch=128, gpus=8)
    c = single(8, 1, 1, 1, 1, 1, 1, "full", 1, "bf16")
    rt = runtime_overhead("NVIDIA", "H100-SXM", setup.engine)
    bare = memory_breakdown(model, c, setup, 80.0)
    with_rt = memory_breakdown(model, c, setup, 80.0, runtime=rt)
    assert float(bare["overhead"][0]) == 0.0
    assert float(with_rt["overhead"][0]) == pytest.approx(rt.total)
    assert float(with_rt["total"][0] - bare["total"][0]) == pytest.approx(rt.total)


def test_evaluate_charges_the_device_overhead() -> None:
    r = evaluate_config(
        get_model("llama-3-8b"), "H100-SXM", seq=8192, global_batch=128, gpus=8,
        recompute="full", zero=1,
    )
    rt = runtime_overhead("NVIDIA", "H100-SXM", ENGINES["modern"])
    assert r["memory_gib"]["overhead"] == pytest.approx(rt.total / GIB)  # type: ignore[index]
