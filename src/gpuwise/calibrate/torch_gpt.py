"""A small GPT in PyTorch, built from a planner :class:`ModelConfig`, for validating the
planner's memory and time models against real tensors.

The layers keep exactly what the kernels of production engines keep for backward, so the
saved activations can be compared with Korthikanti et al. (2022) term by term:

* Megatron-style attention without flash attention (``flash=False``, multi-head only):
  sequence-first ``[s, b, h]`` layout so that ``Q K^T`` and ``softmax . V`` are batched
  GEMMs on *views* of the projections (as Megatron's ``baddbmm``), an additive causal mask,
  softmax (its output is saved) and attention dropout (mask + output saved).
* Flash attention (``flash=True``): ``scaled_dot_product_attention``, which on the CPU saves
  Q, K, V, the output and an fp32 log-sum-exp per head -- as FlashAttention-2 does; GQA native.
* SwiGLU as one fused function that saves only its two inputs (Megatron's
  ``bias_swiglu``); RMSNorm as a fused function that saves only its input (Apex/TE);
  rotary embedding as a function that saves nothing (cos/sin are constants).
* Dropout through ``torch.native_dropout`` (the GPU kernel of ``F.dropout``: 1-byte mask).
* GeLU MLP, LayerNorm and linear layers are PyTorch's own.

The parameter count equals ``ModelConfig.num_params()`` exactly (dense models only).
"""

from __future__ import annotations

import math
from typing import Any

from gpuwise.calibrate.torch_env import INSTALL_HINT
from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn
except ImportError:  # pragma: no cover - exercised only without the extra
    raise GpuwiseError(f"the PyTorch GPT needs PyTorch; {INSTALL_HINT}") from None

DROPOUT_P = 0.1


class _SwiGLU(torch.autograd.Function):
    """``silu(g) * u`` saving only ``g`` and ``u`` (fused SwiGLU; recomputes silu)."""

    @staticmethod
    def forward(ctx: Any, g: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(g, u)
        return F.silu(g) * u

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g, u = ctx.saved_tensors
        sg = torch.sigmoid(g)
        du = dy * g * sg
        dg = dy * u * sg * (1 + g * (1 - sg))
        return dg, du


class _RMSNorm(torch.autograd.Function):
    """RMSNorm saving only its input (the weight is a parameter); recomputes 1/rms."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.eps = eps
        xf = x.float()
        r = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        return (xf * r).to(x.dtype) * w

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        x, w = ctx.saved_tensors
        xf = x.float()
        r = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + ctx.eps)
        xhat = xf * r
        dyf = dy.float()
        dw = (dyf * xhat).reshape(-1, x.shape[-1]).sum(0).to(w.dtype)
        gx = dyf * w.float()
        dx = r * (gx - xhat * (gx * xhat).mean(-1, keepdim=True))
        return dx.to(x.dtype), dw, None


class _Rotary(torch.autograd.Function):
    """Rotary position embedding ``x cos + rot(x) sin``; saves nothing but constants."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        ctx.cos, ctx.sin = cos, sin
        return x * cos + _rotate_half(x) * sin

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        # the adjoint of rotate_half is -rotate_half
        return dy * ctx.cos - _rotate_half(dy * ctx.sin), None, None


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout through ``native_dropout`` -- what ``F.dropout`` runs on GPUs -- which saves a
    1-byte bool mask; ``F.dropout`` on the CPU would save a full-precision noise tensor."""
    if not training or p == 0.0:
        return x
    return torch.native_dropout(x, p, True)[0]


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _RMSNorm.apply(x, self.weight, self.eps)


def _norm(cfg: ModelConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return RMSNorm(cfg.hidden)
    return nn.LayerNorm(cfg.hidden, bias=cfg.bias)


class Attention(nn.Module):
    """Causal self-attention; ``[b, s, h]`` input with flash, ``[s, b, h]`` without."""

    def __init__(self, cfg: ModelConfig, flash: bool) -> None:
        super().__init__()
        h, a, kv, d = cfg.hidden, cfg.heads, cfg.kv, cfg.hd
        qkv_bias = cfg.bias or cfg.qkv_bias
        self.q = nn.Linear(h, a * d, bias=qkv_bias)
        self.k = nn.Linear(h, kv * d, bias=qkv_bias)
        self.v = nn.Linear(h, kv * d, bias=qkv_bias)
        self.o = nn.Linear(a * d, h, bias=cfg.bias)
        self.a, self.kv, self.d = a, kv, d
        self.flash = flash
        self.rotary = not cfg.learned_pos_emb
        self.p_drop = DROPOUT_P if cfg.dropout else 0.0
        if not flash and kv != a:
            raise GpuwiseError("the non-flash attention path is multi-head only (kv_heads = heads)")

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        a, kv, d = self.a, self.kv, self.d
        if self.flash:
            b, s, _ = x.shape
            q = self.q(x).view(b, s, a, d).transpose(1, 2)
            k = self.k(x).view(b, s, kv, d).transpose(1, 2)
            v = self.v(x).view(b, s, kv, d).transpose(1, 2)
            if rope is not None:
                q, k = _Rotary.apply(q, *rope), _Rotary.apply(k, *rope)
            # no attention-probability dropout here: FlashAttention regenerates its mask from
            # the RNG state and saves nothing for it (PyTorch's CPU flash kernel has none)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=kv != a)
            return self.o(y.transpose(1, 2).reshape(b, s, a * d))
        s, b, _ = x.shape
        q = self.q(x).view(s, b * a, d).transpose(0, 1)  # [b*a, s, d] views, as Megatron
        k = self.k(x).view(s, b * a, d).transpose(0, 1)
        v = self.v(x).view(s, b * a, d).transpose(0, 1)
        if rope is not None:
            q, k = _Rotary.apply(q, *rope), _Rotary.apply(k, *rope)
        assert mask is not None
        scores = torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(d)) + mask
        probs = torch.softmax(scores, dim=-1)
        if self.p_drop:
            probs = _dropout(probs, self.p_drop, self.training)
        y = torch.bmm(probs, v)  # [b*a, s, d]
        return self.o(y.transpose(0, 1).reshape(s, b, a * d))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h, f = cfg.hidden, cfg.ffn_size
        self.swiglu = cfg.ffn_type == "swiglu"
        self.up = nn.Linear(h, f, bias=cfg.bias)
        self.gate = nn.Linear(h, f, bias=cfg.bias) if self.swiglu else None
        self.down = nn.Linear(f, h, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            return self.down(_SwiGLU.apply(self.gate(x), self.up(x)))
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, flash: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(cfg), _norm(cfg)
        self.attn = Attention(cfg, flash)
        self.mlp = MLP(cfg)
        self.p_drop = DROPOUT_P if cfg.dropout else 0.0

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return _dropout(x, self.p_drop, self.training) if self.p_drop else x

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self._drop(self.attn(self.norm1(x), rope, mask))
        return x + self._drop(self.mlp(self.norm2(x)))


class GPT(nn.Module):
    """Decoder-only transformer; ``forward(ids, targets)`` returns the mean cross-entropy."""

    def __init__(self, cfg: ModelConfig, flash: bool = True) -> None:
        super().__init__()
        if cfg.is_moe or cfg.mla is not None:
            raise GpuwiseError(f"{cfg.name}: the PyTorch GPT builds dense MHA/GQA models only")
        self.cfg, self.flash = cfg, flash
        self.tok = nn.Embedding(cfg.vocab, cfg.hidden)
        self.pos = nn.Embedding(cfg.seq_len, cfg.hidden) if cfg.learned_pos_emb else None
        self.blocks = nn.ModuleList(Block(cfg, flash) for _ in range(cfg.layers))
        self.norm_f = _norm(cfg)
        self.head = None if cfg.tied_embeddings else nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    def _rope(self, s: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.cfg.hd
        inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        ang = torch.outer(torch.arange(s, dtype=torch.float32), inv)
        ang = torch.cat((ang, ang), dim=-1)  # [s, d]
        if not self.flash:  # q, k are [b*a, s, d]
            return ang.cos().to(dtype), ang.sin().to(dtype)
        return ang.cos().to(dtype)[None, None], ang.sin().to(dtype)[None, None]

    def forward(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        b, s = ids.shape
        x = self.tok(ids)
        if self.pos is not None:
            x = x + self.pos(torch.arange(s))
        dtype = x.dtype
        rope = self._rope(s, dtype) if self.pos is None else None
        mask = None
        if not self.flash:  # Megatron layout [s, b, h]; additive causal mask
            x, targets = x.transpose(0, 1).contiguous(), targets.t()
            mask = torch.full((s, s), float("-inf"), dtype=dtype).triu(1)
        for blk in self.blocks:
            x = blk(x, rope, mask)
        x = self.norm_f(x)
        w = self.tok.weight if self.head is None else self.head.weight
        logits = F.linear(x, w).float()  # fp32 cross-entropy, as Megatron
        return F.cross_entropy(logits.reshape(-1, self.cfg.vocab), targets.reshape(-1))
