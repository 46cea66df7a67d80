"""Once-per-step optimizer passes over every local parameter (after the last backward).

Mixed-precision AdamW as Megatron-LM's ``Float16OptimizerWithFloat16Params`` runs it (FSDP and
torchtitan stream the same states): the clipping norm reads every gradient, AdamW reads and
writes the fp32 master weight and both moments and reads the gradient, a copy pass reads the
master again and writes the 16-bit weight, and the gradient buffer is zeroed.  Engine flags add
Megatron-LM's other passes (the fp32 gradient copy, the buffer scaling, the fp16 unscale).

Launch shape: apex's and Transformer Engine's fused multi-tensor kernels (``FusedAdam``'s
``multi_tensor_adam``, ``multi_tensor_l2norm`` behind Megatron-LM's ``clip_grad_norm_fp32``)
and PyTorch's own ``multi_tensor_apply`` before 2024 pass the tensor list in the 4 KB kernel
argument space and so launch at most 320 blocks at a time (``depth_to_max_blocks``:
NVIDIA/apex csrc/multi_tensor_apply.cuh @123854c3; NVIDIA/TransformerEngine
transformer_engine/common/multi_tensor/multi_tensor_apply.cuh @31d0aa59).  A large model's pass
is then a chain of short kernels that each drain before the next fills the GPU -- "low
sustained occupancy" in PyTorch's words when it moved its own fused optimizers off the cap
(pytorch/pytorch PRs 119764, 119842; today up to 2240 blocks per launch with CUDA 12.1's 32 KB
kernel arguments, aten/src/ATen/native/cuda/MultiTensorApply.cuh @008356ca).  Passes over one
contiguous buffer (zeroing, scaling) and per-tensor copies are ordinary kernels at the
streaming rate.

The measured cost (:data:`SPLIT_LAUNCH_MS`) is a ratio of times on one H100 with HBM2e, whose
bandwidth per SM (2.4 TB/s / 132) is close to the A100's (2.04 TB/s / 108); it is applied to
every GPU, and to fp32 states as to the bf16 ones it was measured on (a launch's blocks each
carry twice the bytes, and so does its drain).

PyTorch's own optimizer (``Engine.torch_foreach_adamw``, torchtitan): ``torch.optim.AdamW`` with
``foreach=True`` works on the fp32 parameters themselves, so there is no master-to-16-bit copy
(FSDP2 casts the shards in its all-gather copy-in, :mod:`gpuwise.planner.fsdp2_copies`) and
``zero_grad()`` sets the gradients to ``None`` (no zeroing kernel); but its update is a chain of
separate foreach kernels, each streaming its operands (:func:`foreach_adamw_bytes`), and
``torch.nn.utils.clip_grad_norm_`` multiplies every gradient by the clipping coefficient after
the norm, also when it is 1 (:func:`foreach_clip_bytes`).  torchtitan builds this optimizer
unless ``optimizer.fused`` is set (a store_true flag the shipped train_configs leave off):
``train.py`` ``build_optimizer`` (2024: ``AdamW(..., foreach=True)``), later
``torchtitan/optimizer.py`` (``"fused": fused, "foreach": not fused``); ``train.py`` clips with
``clip_grad_norm_(m.parameters(), max_norm, foreach=True)`` every step.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.engines import Engine
from gpuwise.planner.hardware import Hardware

#: Fused Adam / AdamW over one 128th of Llama-2-70B's parameters (0.54e9, bf16: 14 B each), on
#: an H100 (HBM2e, 2.4 TB/s, 500 W), in ms: (launches of at most 320 blocks, one launch) --
#: pytorch/pytorch PR 119842 benchmark table, the Fused Adam and Fused AdamW rows.  The single
#: launch moves 2.11 TB/s, 88 % of the datasheet rate (the streaming rate this model already
#: charges, ``efficiency.MEM_BW_FRACTION``), so the split-launch rows measure what the 320-block
#: cap costs on top of it.
SPLIT_LAUNCH_MS: tuple[tuple[float, float], ...] = ((4.539, 3.578), (4.503, 3.564))


def split_launch_slowdown() -> float:
    """Time of a multi-tensor pass launched 320 blocks at a time over the same pass in one
    launch: the mean of :data:`SPLIT_LAUNCH_MS` (1.27)."""
    return sum(split / one for split, one in SPLIT_LAUNCH_MS) / len(SPLIT_LAUNCH_MS)


def foreach_adamw_bytes(grad_bytes: float) -> float:
    """HBM bytes per parameter of ``torch.optim.AdamW(foreach=True)`` on fp32 parameters and
    states with ``grad_bytes`` gradients: the kernels of ``_multi_tensor_adamw`` without
    ``capturable`` (pytorch/pytorch@002d2f0b ``torch/optim/adamw.py``; the step counters and bias
    corrections stay on the CPU), one read or write of each operand per kernel."""
    g = grad_bytes
    return (
        8.0  # _foreach_mul_(params, 1 - lr * wd): read + write the parameter
        + 8.0 + g  # _foreach_lerp_(exp_avgs, grads): read m and g, write m
        + 8.0  # _foreach_mul_(exp_avg_sqs, beta2)
        + 8.0 + g  # _foreach_addcmul_(exp_avg_sqs, grads, grads): read v and g, write v
        + 8.0  # _foreach_sqrt(exp_avg_sqs): read v, write the new denominator list
        + 8.0  # _foreach_div_(denominators, bias_correction2_sqrt)
        + 8.0  # _foreach_add_(denominators, eps)
        + 16.0  # _foreach_addcdiv_(params, exp_avgs, denominators): read p, m, d; write p
    )


def foreach_clip_bytes(grad_bytes: float) -> float:
    """HBM bytes per parameter of ``torch.nn.utils.clip_grad_norm_(foreach=True)``: the
    ``_foreach_norm`` reads every gradient, then ``_foreach_mul_`` by the clamped coefficient
    reads and writes it again -- unconditionally, to avoid a host sync on ``clip_coef < 1``
    (pytorch/pytorch@20592e4d ``torch/nn/utils/clip_grad.py``)."""
    return 3.0 * grad_bytes


def optimizer_time(
    eng: Engine, hw: Hardware, p_local: np.ndarray, p_acc: np.ndarray
) -> np.ndarray:
    """Seconds of the optimizer passes for ``p_local`` parameters held by the optimizer (the
    DP shard under ZeRO) and ``p_acc`` parameters in the gradient buffer."""
    if eng.torch_foreach_adamw:
        g = float(eng.grad_bytes)
        per_param = foreach_adamw_bytes(g) + foreach_clip_bytes(g)
        return np.asarray(hw.stream_time(p_local * per_param))
    # with ``main_grad_copy`` the 16-bit gradients are first copied to fp32 (read + write); the
    # clipping norm, AdamW and the unscale pass then read that 4-byte copy
    g_opt = 4.0 if eng.main_grad_copy else float(eng.grad_bytes)
    mta = split_launch_slowdown() if eng.split_multi_tensor_launch else 1.0
    # multi-tensor kernels: the clipping norm (g) and AdamW (24 B of states + g)
    fused = hw.stream_time(p_local * (24.0 + 2.0 * g_opt)) * mta
    # copy of the master into the 16-bit weight (4 + 2): per-tensor ``copy_`` for bf16
    # (Megatron-LM ``_multi_tensor_copy_this_to_that`` without an overflow buffer); zeroing
    plain = hw.stream_time(p_local * (4.0 + 2.0 + eng.grad_bytes))
    opt = fused + plain
    if eng.main_grad_copy:
        opt = opt + hw.stream_time(p_local * (eng.grad_bytes + 4.0))  # ``.float()`` copy
    if eng.grad_buffer_scale:
        opt = opt + hw.stream_time(2.0 * eng.grad_bytes * p_acc)  # Megatron DDP's buffer /= dp
    if eng.fp16_loss_scaling:
        # unscale + inf/nan check: ``torch._amp_foreach_non_finite_check_and_unscale_``, a
        # PyTorch multi-tensor kernel
        opt = opt + hw.stream_time(2.0 * g_opt * p_local) * mta
    return np.asarray(opt)
