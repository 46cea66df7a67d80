"""FLOP counts of a training step: model FLOPs (for MFU) and hardware FLOPs (for HFU).

Conventions (Narayanan et al. 2021 sec. 5.1; Korthikanti et al. 2022 sec. 6; PaLM appendix B):

* a GEMM of ``(m x k) @ (k x n)`` is ``2mnk`` FLOPs; backward is twice forward;
* attention scores ``QK^T`` and ``softmax(.) V`` are counted over the full ``s x s`` matrix
  (the causal half is *not* subtracted), ``4 s h`` per token and layer forward;
* model FLOPs count one forward and one backward pass; hardware FLOPs add what
  recomputation re-runs (the whole forward for full recompute, the attention core for
  selective recompute, every second matmul for torchtitan's op-level selective recompute).
"""

from __future__ import annotations

from gpuwise.planner.models import ModelConfig
from gpuwise.planner.recompute import recomputed_params


def narayanan_flops_per_iteration(
    batch: int, seq: int, layers: int, hidden: int, vocab: int
) -> float:
    """Narayanan et al. 2021 eq. (sec. 5.1): ``96 B s l h^2 (1 + s/6h + V/16lh)``.

    Counts full activation recomputation (one extra forward of every layer), GPT shape.
    """
    b, s, ll, h, v = float(batch), float(seq), float(layers), float(hidden), float(vocab)
    return 96.0 * b * s * ll * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * ll * h))


def korthikanti_model_flops(batch: int, seq: int, layers: int, hidden: int, vocab: int) -> float:
    """Korthikanti et al. 2022 sec. 6: model FLOPs ``72 B s l h^2 (1 + s/6h + V/12lh)``."""
    b, s, ll, h, v = float(batch), float(seq), float(layers), float(hidden), float(vocab)
    return 72.0 * b * s * ll * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * ll * h))


def korthikanti_hardware_flops(batch: int, seq: int, layers: int, hidden: int, vocab: int) -> float:
    """Korthikanti et al. 2022 sec. 6 hardware FLOPs with selective recompute, as the paper
    counts them for its HFU column: ``72 B s l h^2 (1 + s/3h + V/12lh)``.

    The paper doubles the attention-core term of the model FLOPs (``s/6h -> s/3h``: the
    recomputed core counted as forward *and* backward); the physical re-run is one forward
    (``hardware_flops_per_token`` adds ``4 s h`` per token and layer, not ``12 s h``).
    Use this only to compare against the published HFU.
    """
    b, s, ll, h, v = float(batch), float(seq), float(layers), float(hidden), float(vocab)
    return 72.0 * b * s * ll * h * h * (1.0 + s / (3.0 * h) + v / (12.0 * ll * h))


def attn_dims(model: ModelConfig) -> tuple[int, int]:
    """Per-head (query/key dim, value dim): ``(hd, hd)`` for MHA/GQA, MLA's own dims."""
    if model.mla is not None:
        return model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim, model.mla.v_head_dim
    return model.hd, model.hd


def layer_matmul_params(model: ModelConfig, moe: bool, active: bool = True) -> int:
    """Weights that take part in GEMMs in one layer (no biases or norms).

    For a MoE layer, ``active`` counts the top-k routed plus shared experts and the router
    (what one token multiplies); otherwise every expert.
    """
    h = model.hidden
    if model.mla is not None:
        m = model.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (
            (h * m.q_lora_rank + m.q_lora_rank * model.heads * qk)
            if m.q_lora_rank
            else h * model.heads * qk
        )
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv += m.kv_lora_rank * model.heads * (m.qk_nope_head_dim + m.v_head_dim)
        attn = q + kv + model.heads * m.v_head_dim * h
    else:
        attn = h * (model.heads + 2 * model.kv) * model.hd + model.heads * model.hd * h
    if not moe:
        return attn + model.mlp_matrices * h * model.ffn_size
    n_exp = (model.top_k if active else model.experts) + model.shared_experts
    return attn + n_exp * model.mlp_matrices * h * model.expert_ffn + h * model.experts


def matmul_params(model: ModelConfig, active: bool = True) -> int:
    """GEMM weights used per token over all layers plus the output projection (V x h)."""
    body = model.dense_layers * layer_matmul_params(model, False)
    body += model.moe_layers * layer_matmul_params(model, True, active)
    return body + model.vocab * model.hidden


def attention_flops_per_token(model: ModelConfig, seq: int) -> float:
    """Forward attention-core FLOPs per token over all layers: ``2 s a (d_qk + d_v)`` per layer."""
    d_qk, d_v = attn_dims(model)
    return 2.0 * seq * model.heads * (d_qk + d_v) * model.layers


def model_flops_per_token(model: ModelConfig, seq: int) -> float:
    """Forward + backward model FLOPs per token: ``6 x GEMM weights + 3 x attention core``."""
    return 6.0 * matmul_params(model) + 3.0 * attention_flops_per_token(model, seq)


def recompute_flops_per_token(
    model: ModelConfig, seq: int, recompute: str, selective: str = "attention"
) -> float:
    """Extra forward FLOPs per token that recomputation re-runs (hardware, not model, FLOPs).

    ``selective`` is the engine's meaning of selective recompute: ``"attention"`` re-runs the
    attention core (Korthikanti); ``"op"`` re-runs every second matmul of each layer
    (torchtitan's op-level policy, :mod:`gpuwise.planner.recompute`) and keeps the core.
    """
    if recompute == "full":
        layers_only = matmul_params(model) - model.vocab * model.hidden
        return 2.0 * layers_only + attention_flops_per_token(model, seq)
    if recompute == "selective" and selective == "op":
        return 2.0 * recomputed_params(model) * model.layers
    if recompute == "selective":
        return attention_flops_per_token(model, seq)
    return 0.0


def hardware_flops_per_token(
    model: ModelConfig, seq: int, recompute: str, selective: str = "attention"
) -> float:
    """Model FLOPs plus recomputation (what the hardware executes, per token)."""
    extra = recompute_flops_per_token(model, seq, recompute, selective)
    return model_flops_per_token(model, seq) + extra


def flops_per_step(
    model: ModelConfig,
    seq: int,
    global_batch: int,
    recompute: str = "none",
    selective: str = "attention",
) -> dict[str, float]:
    """Model and hardware FLOPs of one optimizer step of ``global_batch`` sequences."""
    tokens = float(seq) * global_batch
    return {
        "model_flops": tokens * model_flops_per_token(model, seq),
        "hardware_flops": tokens * hardware_flops_per_token(model, seq, recompute, selective),
        "tokens": tokens,
    }
