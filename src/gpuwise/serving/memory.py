"""Serving memory: weight bytes per precision, KV-cache bytes per token, max concurrency.

Conventions (as vLLM, TensorRT-LLM and gpt-fast store a decoder-only model):

- Quantized formats apply to the linear layers (attention, MLP/experts, output head); the
  input embedding table stays in 16-bit (it is a lookup, one row read per token).
- int4 is group-wise affine: a 16-bit scale and 16-bit zero point per ``group`` weights, so
  4 + 32/group bits per weight (Frantar et al. 2023, GPTQ; Lin et al. 2024, AWQ).
- int8 weight-only is per-output-channel: one 16-bit scale per row (< 0.1 %, not counted).
- KV cache per token = layers · 2 · kv_heads · head_dim · bytes (GQA/MQA share K/V across query
  heads: Ainslie et al. 2023); MLA caches the compressed latent (DeepSeek-V2, §2.1).
- Under tensor parallelism K/V heads are split across ranks; with fewer KV heads than ranks a
  head is replicated (Megatron/vLLM), so the per-GPU share is 1/min(tp, kv_heads).
"""

from __future__ import annotations

from dataclasses import dataclass

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.planner.models import ModelConfig
from gpuwise.serving.constants import load_constants

EMBED_BITS = 16.0


def weight_bits(precision: str, group_size: int | None = None) -> float:
    """Stored bits per linear-layer weight, scales and zero points included."""
    c = load_constants()
    if precision not in c.weight_bits:
        raise GpuwiseError(
            f"--precision: unknown weight precision {precision!r}; expected one of "
            f"{', '.join(c.weight_bits)}{did_you_mean(precision, c.weight_bits)}"
        )
    bits = c.weight_bits[precision]
    if precision == "int4":
        g = group_size or c.int4_group_size
        bits += 32.0 / g
    return bits


def kv_bits(precision: str) -> float:
    """Bits per cached K or V element."""
    c = load_constants()
    if precision not in c.kv_bits:
        raise GpuwiseError(
            f"--kv-precision: unknown KV-cache precision {precision!r}; expected one of "
            f"{', '.join(c.kv_bits)}{did_you_mean(precision, c.kv_bits)}"
        )
    return c.kv_bits[precision]


def input_embedding_params(model: ModelConfig) -> int:
    """The lookup table (and learned positions), never multiplied at decode."""
    p = model.vocab * model.hidden
    if model.learned_pos_emb:
        p += model.seq_len * model.hidden
    return p


def linear_params(model: ModelConfig) -> int:
    """Parameters stored in the quantized format (everything but the input embedding)."""
    return model.num_params() - input_embedding_params(model)


def weight_bytes(model: ModelConfig, precision: str, group_size: int | None = None) -> float:
    """Bytes of all weights stored at ``precision`` (embedding table in 16-bit)."""
    lin = linear_params(model) * weight_bits(precision, group_size) / 8.0
    emb = input_embedding_params(model) * (EMBED_BITS if precision != "fp32" else 32.0) / 8.0
    return lin + emb


def kv_bytes_per_token(model: ModelConfig, kv_precision: str) -> float:
    """KV-cache bytes per token over all layers (GQA- and MLA-aware, via the model)."""
    return model.kv_bytes_per_token(kv_bits(kv_precision) / 8.0)


def kv_shard(model: ModelConfig, tp: int) -> int:
    """How many ways the KV cache is split across ``tp`` ranks (replicated past kv_heads)."""
    if model.mla is not None:
        return 1  # the MLA latent is shared by all heads: every rank keeps it
    return min(tp, model.kv)


@dataclass(frozen=True)
class MemoryFit:
    """Per-GPU memory for one serving configuration."""

    weights_bytes: float  # per GPU
    kv_bytes_per_token: float  # per GPU
    usable_bytes: float  # per GPU
    max_tokens: int  # KV-cache token capacity per GPU (= per replica, all ranks alike)
    max_batch: int  # sequences of the requested length that fit at once

    @property
    def fits(self) -> bool:
        return self.max_batch >= 1

    def holds(self, tokens: int) -> bool:
        """Whether one sequence of ``tokens`` tokens fits beside the weights."""
        return self.max_tokens >= tokens

    def used_bytes(self, batch: int, seq_tokens: int) -> float:
        return self.weights_bytes + batch * seq_tokens * self.kv_bytes_per_token


def memory_fit(
    model: ModelConfig,
    memory_bytes: float,
    tp: int,
    weight_precision: str,
    kv_precision: str,
    seq_tokens: int,
    group_size: int | None = None,
) -> MemoryFit:
    """Weights sharded over ``tp`` plus the KV cache that fits beside them (vLLM-style)."""
    usable = memory_bytes * load_constants().usable_memory_fraction
    w = weight_bytes(model, weight_precision, group_size) / tp
    kv = kv_bytes_per_token(model, kv_precision) / kv_shard(model, tp)
    free = max(0.0, usable - w)
    max_tokens = int(free // kv)
    return MemoryFit(
        weights_bytes=w,
        kv_bytes_per_token=kv,
        usable_bytes=usable,
        max_tokens=max_tokens,
        max_batch=max_tokens // max(1, seq_tokens),
    )
