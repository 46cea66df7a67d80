"""Time of one prefill and one decode step of a tensor-parallel replica.

Roofline per step (Williams et al. 2009) with the terms that dominate LLM serving
(Pope et al. 2022, "Efficiently Scaling Transformer Inference", §2-3):

- decode: every step streams the weights once and the KV cache of every sequence in the
  batch; memory-bound at small batch, compute-bound once 2·N·B FLOPs outrun the stream:
  ``t = max(bytes / BW, flops / F(B)) + dequant + kernel overhead + TP all-reduces``;
- prefill: ``2·N·T`` linear FLOPs plus causal attention ``2·L·T²·d`` at the achievable GEMM
  rate for an m = T GEMM (compute-bound);
- weight-only int8/int4 dequantize each weight on the vector units before the multiply;
- tensor parallelism (Shoeybi et al. 2019) adds two all-reduces of ``tokens·hidden``
  activations per layer, on the real intra-node link.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig
from gpuwise.serving.constants import load_constants
from gpuwise.serving.hw import WEIGHT_ONLY, Hardware
from gpuwise.serving.memory import (
    input_embedding_params,
    kv_bytes_per_token,
    kv_shard,
    weight_bits,
)

ACT_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


@dataclass(frozen=True)
class Deployment:
    """One model replica: ``tp`` GPUs of one kind, with its precisions."""

    model: ModelConfig
    hw: Hardware
    tp: int = 1
    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    group_size: int | None = None
    #: Kernels (ops) per decoder layer of the implementation; None: a fused GPU engine's
    #: (``kernels_per_layer`` in serving_constants.yaml).
    ops_per_layer: int | None = None

    def __post_init__(self) -> None:
        if self.activations not in ACT_BYTES:
            raise GpuwiseError(
                f"--act-precision: unknown activation precision {self.activations!r}; "
                f"expected one of {', '.join(ACT_BYTES)}"
            )
        if self.model.heads % self.tp:
            raise GpuwiseError(
                f"--tp {self.tp}: {self.model.heads} attention heads do not split over "
                f"{self.tp} GPUs; use a TP that divides {self.model.heads}"
            )

    @property
    def compute_precision(self) -> str:
        return self.hw.compute_precision(self.weights, self.activations)

    @property
    def dequantizes(self) -> bool:
        """Whether weights are converted on the vector units before each GEMM."""
        native = self.weights in ("fp32", "bf16", "fp16") or self.weights == self.compute_precision
        return self.weights in WEIGHT_ONLY + ("fp8",) and not native


@dataclass(frozen=True)
class StepTime:
    """A step's time and its parts (seconds)."""

    memory_s: float
    compute_s: float
    dequant_s: float
    overhead_s: float
    comm_s: float

    @property
    def total_s(self) -> float:
        return max(self.memory_s, self.compute_s) + self.dequant_s + self.overhead_s + self.comm_s

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s >= self.compute_s else "compute"


def experts_touched(experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts hit when ``tokens`` each pick ``top_k`` of ``experts``.

    E·(1 − (1 − k/E)^T), uniform routing (the balanced-load assumption of Fedus et al. 2022).
    """
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def read_params(model: ModelConfig, tokens: float) -> float:
    """Linear-layer parameters a forward pass over ``tokens`` tokens reads (head included)."""
    head = model.vocab * model.hidden
    dense = float(model.dense_layers * model.layer_params(False))
    if not model.is_moe:
        return dense + head
    per_moe = float(model.attn_params() + model.hidden * model.experts)
    per_moe += (
        model.shared_experts + experts_touched(model.experts, model.top_k, tokens)
    ) * model.mlp_params(model.expert_ffn)
    return dense + model.moe_layers * per_moe + head


def active_linear_params(model: ModelConfig) -> float:
    """Parameters multiplied per token (top-k experts; no embedding lookup)."""
    head_in = model.vocab * model.hidden if model.tied_embeddings else 0
    return model.active_params() - input_embedding_params(model) + head_in


def allreduce_s(hw: Hardware, nbytes: float, tp: int) -> float:
    """All-reduce of ``nbytes`` over ``tp`` GPUs: latency steps · α + 2(p−1)/p · bytes / B.

    Bandwidth term of a ring / reduce-scatter + all-gather (Thakur et al. 2005).  Latency: a
    switched full crossbar (NVLink/NVSwitch, HCCS mesh) runs the two-step all-reduce (one
    reduce-scatter and one all-gather step, as NCCL NVLS and TensorRT-LLM's two-shot kernel
    do), 2 steps whatever p; over PCIe the ring takes 2(p−1) steps.
    """
    if tp <= 1:
        return 0.0
    alpha = load_constants().allreduce_alpha_us.get(hw.link_kind, 5.0) * 1e-6
    steps = 2 if hw.link_kind in ("nvlink", "hccs") else 2 * (tp - 1)
    return steps * alpha + 2 * (tp - 1) / tp * nbytes / (hw.link_gbs() * 1e9)


def kernel_overhead_s(model: ModelConfig, ops_per_layer: int | None = None,
                      per_op_us: float | None = None) -> float:
    """Fixed per-kernel cost summed over the layers (+3 kernels for the head and sampling):
    ``ops_per_layer`` and ``per_op_us`` default to the constants of serving_constants.yaml."""
    c = load_constants()
    per_layer = c.kernels_per_layer if ops_per_layer is None else ops_per_layer
    kernels = model.layers * per_layer + 3
    kernels += model.moe_layers * c.kernels_per_moe_layer_extra
    return kernels * (c.kernel_overhead_us if per_op_us is None else per_op_us) * 1e-6


def dequant_s(dep: Deployment, params: float) -> float:
    """Dequantizing ``params`` weights (all ranks) on one rank's vector units, seconds."""
    if not dep.dequantizes:
        return 0.0
    ops = params / dep.tp * load_constants().dequant_ops_per_weight
    return ops / (dep.hw.vector_tflops() * 1e12)


def _gemm_flops_per_s(dep: Deployment, rows: float) -> float:
    """Achievable rate of the layer's GEMMs with ``rows`` token rows (MLP shape, TP-split)."""
    m = dep.model
    n = max(1, m.ffn_size // dep.tp)
    return dep.hw.gemm_tflops(math.ceil(rows), n, m.hidden, dep.compute_precision) * 1e12


def decode_step(dep: Deployment, batch: float, context: float) -> StepTime:
    """One decode step for ``batch`` sequences with ``context`` cached tokens on average
    (per weight shape, from the profile's decode-shaped measurements, when it has them)."""
    if dep.hw.decode_measured:
        from gpuwise.serving.measured import decode_step_measured

        return decode_step_measured(dep, batch, context)
    m, tp = dep.model, dep.tp
    params = read_params(m, batch)
    w_bytes = params * weight_bits(dep.weights, dep.group_size) / 8.0 / tp
    kv_bytes = batch * context * kv_bytes_per_token(m, dep.kv) / kv_shard(m, tp)
    bw = dep.hw.mem_bw_gbs() * 1e9
    linear_flops = 2.0 * batch * active_linear_params(m) / tp
    attn_flops = 4.0 * batch * context * m.layers * m.heads * m.hd / tp
    rate = _gemm_flops_per_s(dep, batch)
    comm = 2 * m.layers * allreduce_s(dep.hw, batch * m.hidden * ACT_BYTES[dep.activations], tp)
    return StepTime(
        memory_s=(w_bytes + kv_bytes) / bw,
        compute_s=(linear_flops + attn_flops) / rate,
        dequant_s=dequant_s(dep, params),
        overhead_s=kernel_overhead_s(m, dep.ops_per_layer, dep.hw.op_overhead_us()),
        comm_s=comm,
    )


def prefill(dep: Deployment, batch: float, prompt: int) -> StepTime:
    """Prefill of ``batch`` prompts of ``prompt`` tokens (logits for the last token only)."""
    m, tp = dep.model, dep.tp
    tokens = batch * prompt
    head = m.vocab * m.hidden
    params = read_params(m, tokens)
    w_bytes = params * weight_bits(dep.weights, dep.group_size) / 8.0 / tp
    linear = 2.0 * (tokens * (active_linear_params(m) - head) + batch * head) / tp
    attn = 2.0 * m.layers * m.heads * m.hd * batch * prompt * prompt / tp  # causal: half of 4
    rate = _gemm_flops_per_s(dep, tokens)
    comm = 2 * m.layers * allreduce_s(dep.hw, tokens * m.hidden * ACT_BYTES[dep.activations], tp)
    return StepTime(
        memory_s=w_bytes / (dep.hw.mem_bw_gbs() * 1e9),
        compute_s=(linear + attn) / rate,
        dequant_s=dequant_s(dep, params),
        overhead_s=kernel_overhead_s(m, dep.ops_per_layer, dep.hw.op_overhead_us()),
        comm_s=comm,
    )
