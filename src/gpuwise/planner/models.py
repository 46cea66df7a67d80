"""Transformer model descriptions: dimensions, parameter counts, named presets.

A :class:`ModelConfig` is the shape of a decoder-only transformer: dense or mixture-of-experts,
multi-head / grouped-query / multi-latent attention, GeLU or SwiGLU MLP.  Parameter counts are
exact sums over weight matrices, biases and norms (Narayanan et al. 2021, eq. in sec. 5.1:
``P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12lh))`` for the Megatron GPT shape is the special case
``gelu, ffn=4h, bias, layernorm, learned positions, tied embeddings``).

Presets live in ``presets.yaml`` (each with its source).  ``get_model(name)`` resolves a
preset; ``list_models()`` lists them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpuwise.errors import GpuwiseError, did_you_mean


class MLAConfig(BaseModel):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank Q and joint low-rank KV."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    q_lora_rank: int = Field(ge=0)  # 0 = full-rank Q projection
    kv_lora_rank: int = Field(gt=0)
    qk_nope_head_dim: int = Field(gt=0)
    qk_rope_head_dim: int = Field(gt=0)
    v_head_dim: int = Field(gt=0)


class ModelConfig(BaseModel):
    """A decoder-only transformer.  Frozen; derived sizes are methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    layers: int = Field(gt=0)
    hidden: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int | None = Field(default=None, gt=0)  # None = heads (MHA); 1 = MQA
    head_dim: int | None = Field(default=None, gt=0)  # None = hidden // heads
    ffn: int | None = Field(default=None, gt=0)  # dense MLP inner size; None = 4h (gelu)
    ffn_type: Literal["gelu", "swiglu"] = "gelu"
    vocab: int = Field(default=51200, gt=0)
    tied_embeddings: bool = False
    learned_pos_emb: bool = False
    bias: bool = False  # biases on every linear layer and norm (GPT-2 / Megatron GPT)
    qkv_bias: bool = False  # bias on the QKV projection only (Qwen2)
    # per-head RMSNorm on the queries and keys before rotary (Qwen3: Hugging Face
    # ``Qwen3Attention.q_norm``/``k_norm`` of size head_dim; Megatron-Core ``qk_layernorm``)
    qk_norm: bool = False
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    dropout: bool = False  # training uses dropout (changes saved activations)
    experts: int = Field(default=0, ge=0)  # routed experts per MoE layer; 0 = dense model
    top_k: int = Field(default=0, ge=0)
    shared_experts: int = Field(default=0, ge=0)
    moe_ffn: int | None = Field(default=None, gt=0)  # inner size of one expert
    first_dense_layers: int = Field(default=0, ge=0)  # leading layers with a dense MLP
    moe_layer_freq: int = Field(default=1, ge=1)  # every k-th layer (after the dense ones) is MoE
    mla: MLAConfig | None = None
    seq_len: int = Field(default=2048, gt=0)
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not divisible by heads {self.heads}")
        if self.heads % self.kv:
            raise ValueError(f"heads {self.heads} is not divisible by kv_heads {self.kv}")
        if self.ffn_type == "swiglu" and self.ffn is None and not self.is_moe:
            raise ValueError("a SwiGLU model needs an explicit ffn size")
        if self.is_moe and self.top_k == 0:
            raise ValueError("a mixture-of-experts model needs top_k >= 1")
        if self.top_k > max(self.experts, 0):
            raise ValueError(f"top_k {self.top_k} exceeds experts {self.experts}")
        return self

    # ----- derived dimensions -----------------------------------------------------------
    @property
    def kv(self) -> int:
        """Number of key/value heads (= heads for MHA)."""
        return self.kv_heads or self.heads

    @property
    def hd(self) -> int:
        """Per-head dimension."""
        return self.head_dim or self.hidden // self.heads

    @property
    def ffn_size(self) -> int:
        """Inner size of the dense MLP."""
        return self.ffn or 4 * self.hidden

    @property
    def expert_ffn(self) -> int:
        """Inner size of one routed (or shared) expert."""
        return self.moe_ffn or self.ffn_size

    @property
    def is_moe(self) -> bool:
        return self.experts > 1

    @property
    def mlp_matrices(self) -> int:
        """Weight matrices per MLP: 2 for GeLU (up, down), 3 for SwiGLU (gate, up, down)."""
        return 3 if self.ffn_type == "swiglu" else 2

    def is_moe_layer(self, i: int) -> bool:
        """Whether layer ``i`` (0-based) has a mixture-of-experts MLP."""
        if not self.is_moe or i < self.first_dense_layers:
            return False
        return (i - self.first_dense_layers) % self.moe_layer_freq == 0

    @property
    def moe_layers(self) -> int:
        return sum(self.is_moe_layer(i) for i in range(self.layers))

    @property
    def dense_layers(self) -> int:
        return self.layers - self.moe_layers

    # ----- parameter counts -------------------------------------------------------------
    def norm_params(self) -> int:
        """Parameters of one norm: LayerNorm has a bias when the model has biases."""
        return 2 * self.hidden if (self.norm == "layernorm" and self.bias) else self.hidden

    def attn_params(self) -> int:
        """Attention weights (+ biases) of one layer."""
        h, d = self.hidden, self.hd
        if self.mla is not None:
            m = self.mla
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank:
                q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * self.heads * qk
            else:
                q = h * self.heads * qk
            kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
            kv += m.kv_lora_rank * self.heads * (m.qk_nope_head_dim + m.v_head_dim)
            return q + kv + self.heads * m.v_head_dim * h
        qkv_out = (self.heads + 2 * self.kv) * d
        p = h * qkv_out + self.heads * d * h
        if self.bias or self.qkv_bias:
            p += qkv_out
        if self.bias:
            p += h
        if self.qk_norm:
            p += 2 * d  # the q and k norms' weights, shared by every head
        return p

    def mlp_params(self, inner: int) -> int:
        """One MLP (or one expert) of inner size ``inner``."""
        p = self.mlp_matrices * self.hidden * inner
        if self.bias:
            p += (self.mlp_matrices - 1) * inner + self.hidden
        return p

    def layer_params(self, moe: bool) -> int:
        """All parameters of one transformer layer (MoE counts every expert)."""
        p = self.attn_params() + 2 * self.norm_params()
        if moe:
            p += (self.experts + self.shared_experts) * self.mlp_params(self.expert_ffn)
            p += self.hidden * self.experts  # router
        else:
            p += self.mlp_params(self.ffn_size)
        return p

    def layer_active_params(self, moe: bool) -> int:
        """Parameters one token touches in one layer (top-k routed + shared experts)."""
        if not moe:
            return self.layer_params(False)
        p = self.attn_params() + 2 * self.norm_params() + self.hidden * self.experts
        p += (self.top_k + self.shared_experts) * self.mlp_params(self.expert_ffn)
        return p

    def embedding_params(self) -> int:
        """Input embedding (+ learned positions) plus an untied output projection."""
        p = self.vocab * self.hidden
        if self.learned_pos_emb:
            p += self.seq_len * self.hidden
        if not self.tied_embeddings:
            p += self.vocab * self.hidden
        return p

    def num_params(self) -> int:
        """Total parameters (every expert counted), including the final norm."""
        body = self.dense_layers * self.layer_params(False)
        body += self.moe_layers * self.layer_params(True)
        return body + self.embedding_params() + self.norm_params()

    def active_params(self) -> int:
        """Parameters used per token (equals ``num_params`` for a dense model)."""
        body = self.dense_layers * self.layer_active_params(False)
        body += self.moe_layers * self.layer_active_params(True)
        return body + self.embedding_params() + self.norm_params()

    def kv_bytes_per_token(self, bytes_per_elem: float = 2.0) -> float:
        """KV-cache bytes per token over all layers (MLA caches the latent + rope key)."""
        if self.mla is not None:
            per_layer = self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        else:
            per_layer = 2 * self.kv * self.hd
        return float(self.layers * per_layer * bytes_per_elem)

    def with_updates(self, **changes: Any) -> ModelConfig:
        """A validated copy with some fields changed (e.g. ``seq_len``)."""
        data = self.model_dump()
        data.update(changes)
        return ModelConfig.model_validate(data)


@cache
def _presets() -> dict[str, ModelConfig]:
    text = resources.files("gpuwise.planner").joinpath("presets.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {
        name: ModelConfig.model_validate({"name": name, **spec})
        for name, spec in raw["presets"].items()
    }


def list_models() -> list[ModelConfig]:
    """Every preset, in file order."""
    return list(_presets().values())


def get_model(name: str) -> ModelConfig:
    """The preset called ``name`` (case-insensitive; ``_`` and spaces read as ``-``)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    presets = _presets()
    if key in presets:
        return presets[key]
    raise GpuwiseError(
        f"--model: unknown model preset {name!r}{did_you_mean(key, presets)}; "
        "see `gpuwise plan models`"
    )
