"""Decode step time from decode-shaped measurements (a ``gpuwise calibrate`` profile).

The same roofline as :func:`gpuwise.serving.timing.decode_step` (Williams et al. 2009; Pope
et al. 2022 §2), taken per weight matrix instead of per model, because on a measured device
the rates depend on the shape (see :mod:`gpuwise.calibrate.decode_grid`):

- memory: each weight matrix ``n x k`` is streamed once at the GEMV bandwidth measured for
  that shape; the KV cache as ``context x head_dim`` GEMV operands;
- compute: each matrix multiplies ``batch`` rows at the TFLOP/s measured for
  ``(batch, n, k)``; attention scores and values at the rate of a ``(heads/kv_heads,
  context, head_dim)`` GEMM per sequence and KV head;
- ``t = max(memory, compute) + dequant + ops · per-op cost + TP all-reduces``, the per-op
  cost being the profile's measured dispatch latency and ``ops`` the implementation's ops per
  layer (:attr:`Deployment.ops_per_layer`) — eager PyTorch on a CPU runs ~25 per Llama block.
"""

from __future__ import annotations

import math

from gpuwise.planner.models import ModelConfig
from gpuwise.serving.memory import kv_bytes_per_token, kv_shard, weight_bits
from gpuwise.serving.timing import (
    ACT_BYTES,
    Deployment,
    StepTime,
    allreduce_s,
    dequant_s,
    experts_touched,
    kernel_overhead_s,
)

Shape = tuple[int, int, float]  # (n, k, how many such matrices per step)


def linear_shapes(model: ModelConfig, tp: int, tokens: float) -> list[Shape]:
    """Weight matrices ``(n, k, count)`` per TP rank that a forward step over ``tokens``
    tokens multiplies, with fused QKV and fused gate/up projections (as gpt-fast, vLLM and
    ``benchmarks/bench_serve_cpu.py`` store them).  MLA attention counts as one matrix of
    its parameter count; MoE layers touch the shared and the expected routed experts."""
    h, layers = model.hidden, float(model.layers)

    def split(x: float) -> int:
        return max(1, math.ceil(x / tp))

    if model.mla is None:
        qkv = (model.heads + 2 * model.kv) * model.hd
        shapes: list[Shape] = [(split(qkv), h, layers), (h, split(model.heads * model.hd), layers)]
    else:
        shapes = [(split(model.attn_params() / h), h, layers)]

    def mlp(inner: int, count: float) -> list[Shape]:
        up = 2 * inner if model.ffn_type == "swiglu" else inner
        return [(split(up), h, count), (h, split(inner), count)]

    if model.dense_layers:
        shapes += mlp(model.ffn_size, float(model.dense_layers))
    if model.moe_layers:
        per_layer = model.shared_experts + experts_touched(model.experts, model.top_k, tokens)
        shapes += mlp(model.expert_ffn, model.moe_layers * per_layer)
        shapes.append((split(model.experts), h, float(model.moe_layers)))  # router
    shapes.append((split(model.vocab), h, 1.0))  # output head
    return shapes


def decode_step_measured(dep: Deployment, batch: float, context: float) -> StepTime:
    """One decode step of ``batch`` sequences with ``context`` cached tokens on average, on
    hardware whose profile has decode-shaped measurements (``dep.hw.decode_measured``)."""
    m, tp, hw = dep.model, dep.tp, dep.hw
    prec = dep.compute_precision
    rows = max(1, math.ceil(batch))
    w_bytes = weight_bits(dep.weights, dep.group_size) / 8.0
    memory_s = compute_s = params = 0.0
    for n, k, count in linear_shapes(m, tp, batch):
        params += count * n * k
        memory_s += count * n * k * w_bytes / (hw.weight_stream_gbs(n, k) * 1e9)
        compute_s += count * 2.0 * batch * n * k / (hw.gemm_tflops(rows, n, k, prec) * 1e12)
    ctx = max(1, math.ceil(context))
    kv_bytes = batch * context * kv_bytes_per_token(m, dep.kv) / kv_shard(m, tp)
    memory_s += kv_bytes / (hw.weight_stream_gbs(ctx, m.hd) * 1e9)
    attn_flops = 4.0 * batch * context * m.layers * m.heads * m.hd / tp
    group = max(1, m.heads // m.kv)
    compute_s += attn_flops / (hw.gemm_tflops(group, ctx, m.hd, prec) * 1e12)
    comm = 2 * m.layers * allreduce_s(hw, batch * m.hidden * ACT_BYTES[dep.activations], tp)
    return StepTime(
        memory_s=memory_s,
        compute_s=compute_s,
        dequant_s=dequant_s(dep, params * tp),
        overhead_s=kernel_overhead_s(m, dep.ops_per_layer, hw.op_overhead_us()),
        comm_s=comm,
    )
