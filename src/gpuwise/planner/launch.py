"""Fixed per-kernel costs of a training step: kernels per layer and the CPU's dispatch of each.

The rest of the time model prices every kernel by its FLOPs or bytes only.  Every op a
training step runs is also dispatched by the framework on the CPU (Python, the ATen
dispatcher, ``cudaLaunchKernel``), a fixed cost however small the kernel.
On a GPU the CPU issues ahead of the device, so dispatch sets the pace only where the ops are
issued slower than the GPU runs them -- small models, small micro-batches, short sequences,
high tensor parallelism: a layer takes ``max(GPU time, ops x dispatch)`` (:func:`paced`).
An eager PyTorch op on CUDA costs the framework's own dispatch plus the CUDA launch
(:data:`DISPATCH_US`); a ``gpuwise calibrate`` profile's measured ``dispatch_us`` replaces it.
On a CPU device the ops run synchronously on the issuing thread, so there the dispatch cost
adds to each op's own time instead.  The same per-op cost is charged to backward ops, which
the autograd engine issues from C++ without the Python layer (about half of a small op's
dispatch, pytorch/pytorch#41383): an upper bound there; forward ops also record autograd
nodes, which that issue measures at ~1.8 us more per op and which is left out.

Kernels per transformer layer (:func:`layer_kernels`) are counted from the engines' code, per
:class:`~gpuwise.planner.engines.Engine` flag; a "kernel" here is one op that launches GPU
work (views and reshapes launch none).  Fused engines (Megatron-LM / Transformer Engine,
``fused_kernels``): per norm one kernel forward and two backward (TE ``layernorm_bwd`` and
its finalize kernel; apex ``cuComputeGradInput`` and the gamma/beta kernels), bias+activation
one (``bias_gelu_impl``), bias+dropout+residual one each (``bias_dropout_add_fused_train``),
rotary one per q and k (TE fused RoPE).  Eager engines (llm-foundry's MPT block, torchtitan):
``F.layer_norm`` one kernel forward / two backward, the residual adds and dropout as their
own kernels (a bias rides in its GEMM), SwiGLU as ``silu`` and ``mul``, rotary as
torchtitan's ``apply_rotary_emb`` (upcast, complex multiply, downcast for each of q and k),
the q/k/v re-layout copies the byte model charges (``layer_time.layer_times``), and torchtitan's
eager fp32 RMSNorm as its op chain (:data:`EAGER_RMSNORM_OPS`).  The attention core:
FlashAttention one kernel forward and three backward (Dao-AILab/flash-attention
``run_flash_bwd``: ``flash_bwd_dot_do_o``, the main dq/dk/dv loop, ``flash_bwd_convert_dq``);
Megatron-LM's unfused core (``CoreAttention.forward``, NVIDIA/Megatron-LM
megatron/model/transformer.py @00baee46) ``baddbmm``, fused softmax, dropout, ``bmm`` and the
``permute().contiguous()`` copy forward, backward two batched GEMMs per forward one plus the
softmax, dropout and copy gradients.  Tensor-parallel collectives as ``layer_time.layer_times``
charges them: 2 all-reduces each way, or under sequence parallelism 4 forward (2 all-gathers,
2 reduce-scatters) and 6 backward (the re-gathers).
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.engines import Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig

#: CPU time per eager PyTorch op on CUDA, microseconds: PyTorch's Python and dispatcher cost of
#: a tensor-tensor op, ~2 us (pytorch/pytorch#41383, maintainer's measurement of ``x * x``
#: without autograd), plus one kernel launch, 2.2 us per back-to-back launch of an empty kernel
#: (CSCS's ReFrame check cscs-checks/microbenchmarks/kernel_latency, "async" reference on
#: Piz Daint's P100, reframe-hpc/reframe@034d60b1).  A device profile's ``dispatch_us``
#: replaces it.
DISPATCH_US = 2.0 + 2.2
#: torchtitan's eager fp32 RMSNorm (``self._norm(x.float()).type_as(x) * self.weight``,
#: ``_norm`` = ``x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)``): forward upcast,
#: pow, mean, add, rsqrt, mul, downcast, weight mul = 8 ops; backward (PyTorch
#: derivatives.yaml) the two muls' gradients (4), rsqrt/add/mean/pow gradients (4), the two
#: input-gradient terms summed (1) and the casts (2) = 11.
EAGER_RMSNORM_OPS = (8, 11)


def layer_kernels(
    model: ModelConfig, eng: Engine, moe: bool, tp: np.ndarray, gemms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kernels one transformer layer launches per micro-batch on one GPU: (forward, backward).

    ``gemms`` is the layer's forward GEMM launches (``layer_time.layer_gemms``, experts counted
    one launch each); backward runs two per forward GEMM (data and weight gradient)."""
    fused = eng.fused_kernels
    swiglu = model.ffn_type == "swiglu"
    fwd = np.asarray(gemms, dtype=float)
    bwd = 2.0 * fwd
    # attention core
    if eng.flash_attention:
        fwd, bwd = fwd + 1, bwd + 3
    else:
        drop = 1 if model.dropout else 0
        fwd, bwd = fwd + 4 + drop, bwd + 4 + 2 + drop
    # the two norms
    if eng.eager_rmsnorm:
        fwd, bwd = fwd + 2 * EAGER_RMSNORM_OPS[0], bwd + 2 * EAGER_RMSNORM_OPS[1]
    else:
        fwd, bwd = fwd + 2, bwd + 4
    # activation (gelu, or silu x gate); bias-add and dropout around the two residual adds
    if fused:
        fwd, bwd = fwd + 1 + 2, bwd + 1 + 2
    else:
        act_f, act_b = (2, 3) if swiglu else (1, 1)
        extra = 1 if model.dropout else 0  # a bias rides in its GEMM (``F.linear`` -> addmm)
        fwd, bwd = fwd + act_f + 2 * (1 + extra), bwd + act_b + 2 * (1 + extra)
        fwd, bwd = fwd + 3, bwd + 3  # q/k/v re-layout copies
    if model.bias:
        bwd = bwd + 4  # bias gradients: one reduction per biased GEMM (QKV, proj, FC1, FC2)
    if model.qk_norm:  # the q and k norms: one kernel each forward, two backward
        fwd, bwd = fwd + 2, bwd + 4
    if not model.learned_pos_emb:
        rope = 2 if fused else 6
        fwd, bwd = fwd + rope, bwd + rope
    if moe:
        fwd, bwd = fwd + 4, bwd + 4  # router softmax/top-k, token permute and unpermute
    # tensor-parallel collectives (one NCCL kernel each)
    coll_f, coll_b = (4.0, 6.0) if eng.sequence_parallel else (2.0, 2.0)
    many = tp > 1
    return fwd + np.where(many, coll_f, 0.0), bwd + np.where(many, coll_b, 0.0)


def dispatch_us(hw: Hardware) -> float:
    """CPU microseconds per op: the device profile's measurement, else :data:`DISPATCH_US`."""
    return hw.dispatch_us if hw.dispatch_us is not None else DISPATCH_US


def paced(hw: Hardware, gpu_s: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Seconds for ``kernels`` ops whose own work takes ``gpu_s`` on the device.

    GPU: the CPU issues ahead and sets the pace only when it is the slower side.  CPU device
    (ops synchronous on the issuing thread): the dispatch cost adds to every op."""
    cpu_s = kernels * dispatch_us(hw) * 1e-6
    return gpu_s + cpu_s if hw.host_device else np.maximum(gpu_s, cpu_s)
