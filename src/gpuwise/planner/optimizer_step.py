"""Once-per-step optimizer passes over every local parameter (after the last backward).

Mixed-precision AdamW as Megatron-LM's ``Float16OptimizerWithFloat16Params`` runs it (FSDP and
torchtitan stream the same states): the clipping norm reads every gradient, AdamW reads and
writes the fp32 master weight and both moments and reads the gradient, a copy pass reads the
master again and writes the 16-bit weight, and the gradient buffer is zeroed.  Engine flags add
Megatron-LM's other passes (the fp32 gradient copy, the buffer scaling, the fp16 unscale).
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.efficiency import Hardware
from gpuwise.planner.parallel import Engine


def optimizer_time(
    eng: Engine, hw: Hardware, p_local: np.ndarray, p_acc: np.ndarray
) -> np.ndarray:
    """Seconds of the optimizer passes for ``p_local`` parameters held by the optimizer (the
    DP shard under ZeRO) and ``p_acc`` parameters in the gradient buffer."""
    # with ``main_grad_copy`` the 16-bit gradients are first copied to fp32 (read + write); the
    # clipping norm, AdamW and the unscale pass then read that 4-byte copy
    g_opt = 4.0 if eng.main_grad_copy else float(eng.grad_bytes)
    # the clipping norm (g), AdamW (24 B of states + g), the master -> 16-bit weight copy
    # (4 + 2) and the zeroing of the gradient buffer
    opt = hw.stream_time(p_local * (24.0 + 2.0 * g_opt + 4.0 + 2.0 + eng.grad_bytes))
    if eng.main_grad_copy:
        opt = opt + hw.stream_time(p_local * (eng.grad_bytes + 4.0))  # ``.float()`` copy
    if eng.grad_buffer_scale:
        opt = opt + hw.stream_time(2.0 * eng.grad_bytes * p_acc)  # Megatron DDP's buffer /= dp
    if eng.fp16_loss_scaling:
        opt = opt + hw.stream_time(2.0 * g_opt * p_local)  # unscale + inf/nan check
    return np.asarray(opt)
