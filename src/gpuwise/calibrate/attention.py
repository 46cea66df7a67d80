"""Attention-core microbenchmark: causal ``scaled_dot_product_attention`` forward and backward.

Fused attention does not run at GEMM speed: its inner products have ``k = head_dim`` (64-128)
and it interleaves a softmax between two matrix products, so a profile that only knows GEMM
rates over-predicts attention throughput (on this project's CPU by 3-6x).  The FLOP
convention follows FlashAttention-2 (Dao 2023): forward ``4 b a s^2 d``, halved for a causal
mask; backward 2.5x the forward.
"""

from __future__ import annotations

import time
from typing import Any

from gpuwise.calibrate.microbench import Clock, best_time, sync_for
from gpuwise.calibrate.profile import AttentionPoint
from gpuwise.calibrate.torch_env import require_torch, torch_dtype

#: Backward/forward FLOP ratio of FlashAttention-2 (5 matmuls against 2).
BWD_RATIO = 2.5


def attention_flops(batch: int, heads: int, seq: int, head_dim: int, causal: bool = True) -> float:
    """Forward FLOPs of one attention core: ``4 b a s^2 d``, half of it when causal."""
    f = 4.0 * batch * heads * seq * seq * head_dim
    return f / 2 if causal else f


def attention_shapes(device: str, quick: bool) -> list[tuple[int, int, int, int]]:
    """(batch, heads, seq, head_dim) to measure, about 2^22-2^25 score elements each."""
    seqs: tuple[int, ...]
    if device == "cuda":
        seqs = (1024, 4096) if quick else (512, 1024, 2048, 4096, 8192)
        return [(max(1, 32768 // s), 16, s, d) for s in seqs for d in (64, 128)]
    seqs = (256, 512) if quick else (256, 512, 1024, 2048)
    return [(max(1, (512 if quick else 2048) // s), 8, s, d) for s in seqs for d in (64, 128)]


def bench_attention(device: str, precision: str, shapes: list[tuple[int, int, int, int]],
                    budget_s: float = 0.1, clock: Clock = time.perf_counter
                    ) -> list[AttentionPoint]:
    """Best forward and backward TFLOP/s of causal SDPA for each shape (training mode: the
    forward keeps what backward needs; backward time = forward+backward - forward)."""
    torch = require_torch()
    import torch.nn.functional as F  # noqa: N812

    sync = sync_for(device)
    dtype = torch_dtype(precision)
    points = []
    for b, a, s, d in shapes:
        q, k, v = (torch.randn(b, a, s, d, device=device).to(dtype).requires_grad_()
                   for _ in range(3))
        grad = torch.ones(b, a, s, d, device=device, dtype=dtype)

        def fwd(q: Any = q, k: Any = k, v: Any = v) -> Any:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def fwd_bwd(q: Any = q, k: Any = k, v: Any = v, grad: Any = grad) -> None:
            F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(grad)

        t_f = best_time(fwd, sync, budget_s / 2, clock=clock)
        t_fb = best_time(fwd_bwd, sync, budget_s / 2, clock=clock)
        flops = attention_flops(b, a, s, d)
        t_b = max(t_fb - t_f, 1e-9)
        points.append(AttentionPoint(batch=b, heads=a, seq=s, head_dim=d, precision=precision,
                                     fwd_tflops=flops / t_f / 1e12,
                                     bwd_tflops=BWD_RATIO * flops / t_b / 1e12))
    return points
