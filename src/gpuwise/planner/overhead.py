"""Per-GPU memory a CUDA training process holds besides the model's tensors, each part cited.

* CUDA context: created by the first CUDA call; with lazy module loading (CUDA >= 11.7, on by
  default in PyTorch) "around 400MB" (pytorch/pytorch#109888, ptrblck, 2023; #107667 reports
  ~300 MB); 426 MiB measured with nvidia-smi on an RTX 6000 Ada, torch 2.10
  (unslothai/unsloth-zoo PR #1053).  It lies outside PyTorch's caching allocator: nvidia-smi
  shows it, ``torch.cuda.max_memory_reserved`` / ``max_memory_allocated`` do not.
* PyTorch's cuBLAS workspace: one per (handle, stream), allocated through the caching
  allocator; ``parseChosenWorkspaceSize`` gives 4096 KiB x 8 on sm_90 and 4096 KiB x 2 +
  16 KiB x 8 otherwise, and the cuBLASLt workspace of the same (handle, stream) adds
  ``parseCUDABlasLtWorkspaceSize``'s 1024 KiB (pytorch/pytorch@26a39059
  ``aten/src/ATen/cuda/CublasHandlePool.cpp``).  Handles come from a thread-local pool
  window (``getCurrentCUDABlasHandle``), and autograd runs a CUDA backward on its own
  per-device worker thread (pytorch/pytorch@e1253a95 ``torch/csrc/autograd/engine.cpp``, the
  ``worker_device`` note), so a training step holds two: the forward's and the backward's.
* Transformer Engine's GEMM workspace: TE passes its own cuBLASLt workspace, 32 MiB on
  compute capability >= 9 and 4 MiB otherwise (``get_cublas_workspace_size_bytes``,
  ``get_workspace``), which ``initialize_ub`` replaces by one ``_NUM_MAX_UB_STREAMS`` = 3
  times as large for the userbuffers overlap streams (NVIDIA/TransformerEngine@0004dbd0
  ``transformer_engine/pytorch/module/base.py``; later releases keep the sizes and the
  factor 3 in ``cpp_extensions/gemm.py``).  Allocated with ``torch.empty``: inside the
  caching allocator.

Not modelled, left to ``Setup.mem_margin`` (a user setting, 5 % by default): NCCL's buffers
(``NCCL_BUFFSIZE`` 4 MiB per channel and peer; how many channels and connections a
communicator sets up depends on the NCCL version, the topology and the collectives it runs,
NVIDIA/nccl#986), the userbuffers communication buffers themselves, Transformer Engine's
grouped-GEMM per-stream workspaces, and the caching allocator's fragmentation, for which no
published size for LLM training was found that transfers between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpuwise.planner.engines import Engine
from gpuwise.planner.flash_rate import HOPPER

MIB = float(2**20)
#: CUDA context with lazy module loading (pytorch/pytorch#109888: "around 400MB").
CUDA_CONTEXT_BYTES = 400.0 * MIB
#: Compute-capability-9.0 parts in the catalog (cuBLAS and TE workspaces are larger there).
SM90 = HOPPER
#: cuBLAS handles a training step holds: the forward thread's and autograd's backward thread's.
TRAINING_BLAS_HANDLES = 2
#: cuBLASLt workspace per (handle, stream): ``parseCUDABlasLtWorkspaceSize`` default 1024 KiB.
TORCH_CUBLASLT_WORKSPACE_BYTES = 1024.0 * 1024
#: Transformer Engine's userbuffers GEMM workspace is this many plain workspaces.
TE_UB_STREAMS = 3


def torch_cublas_workspace_bytes(sm90: bool) -> float:
    """PyTorch's cuBLAS + cuBLASLt workspace of one (handle, stream), default settings."""
    cublas = 4096 * 1024 * 8 if sm90 else 4096 * 1024 * 2 + 16 * 1024 * 8
    return float(cublas) + TORCH_CUBLASLT_WORKSPACE_BYTES


def te_gemm_workspace_bytes(sm90: bool, userbuffers: bool) -> float:
    """Transformer Engine's own GEMM workspace (``TE_UB_STREAMS`` times larger with userbuffers)."""
    one = 32.0 * MIB if sm90 else 4.0 * MIB
    return one * (TE_UB_STREAMS if userbuffers else 1)


@dataclass(frozen=True)
class RuntimeOverhead:
    """Bytes of the CUDA runtime's own memory on one GPU (0 for a CPU device)."""

    cuda_context: float = 0.0  # outside PyTorch's caching allocator
    workspaces: float = 0.0  # cuBLAS/cuBLASLt/TE workspaces, inside the caching allocator

    @property
    def total(self) -> float:
        return self.cuda_context + self.workspaces


def runtime_overhead(vendor: str, name: str, engine: Engine) -> RuntimeOverhead:
    """The CUDA context and GEMM workspaces of a training process on accelerator ``name``."""
    if vendor != "NVIDIA":
        return RuntimeOverhead()
    sm90 = name in SM90
    ws = TRAINING_BLAS_HANDLES * torch_cublas_workspace_bytes(sm90)
    if engine.te_gemm_workspace:
        ws += te_gemm_workspace_bytes(sm90, engine.overlap_tp)
    return RuntimeOverhead(CUDA_CONTEXT_BYTES, ws)
