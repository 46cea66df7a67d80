"""Training steps of the PyTorch GPT with their memory counted from the real tensors.

Two optimizer set-ups:

* ``precision="bf16"`` -- mixed precision as Megatron-LM runs it: bf16 weights (2 B/param),
  gradients in bf16 (2 B) or in persistent fp32 "main grads" (4 B, Megatron's default), and
  an fp32 master copy plus AdamW's two fp32 moments (12 B): 16 or 18 bytes per parameter.
* ``precision="fp32"`` -- plain fp32 AdamW: 4 B weights, 4 B gradients, 8 B moments.

Saved activations are counted with :func:`torch.autograd.graph.saved_tensors_hooks`: every
tensor autograd saves is mapped to its storage, storages are counted once (views such as
``Q``, ``K``, ``V`` of one projection share one), and parameters (saved by every linear
layer) are excluded -- they are counted as weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from gpuwise.calibrate.torch_gpt import GPT
from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig


@dataclass(frozen=True)
class MemoryCount:
    """Bytes counted from the tensors of one training step (one micro-batch)."""

    params: int  # parameter count (tied weights once)
    weights: int
    gradients: int
    optimizer: int
    activations: int  # storages autograd saved for backward, parameters excluded
    loss: float


class MixedPrecisionAdam:
    """AdamW over fp32 master weights for a bf16 model (or plain AdamW for fp32)."""

    def __init__(self, module: torch.nn.Module, precision: str, grad_bytes: int,
                 lr: float = 1e-4) -> None:
        if precision not in ("bf16", "fp32"):
            raise GpuwiseError(f"precision: expected bf16 or fp32, got {precision!r}")
        if grad_bytes not in (2, 4) or (precision == "fp32" and grad_bytes != 4):
            raise GpuwiseError(f"grad_bytes {grad_bytes} does not fit precision {precision}")
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.mixed = precision == "bf16"
        self.master: list[torch.Tensor] = []
        self.main_grads: list[torch.Tensor] = []
        if self.mixed:
            self.master = [p.detach().float().clone() for p in self.params]
            self.opt = torch.optim.AdamW(self.master, lr=lr, foreach=False)
            if grad_bytes == 4:  # persistent fp32 gradient buffers, as Megatron's main_grad
                self.main_grads = [torch.zeros_like(m) for m in self.master]
                for p, g in zip(self.params, self.main_grads, strict=True):
                    p.register_post_accumulate_grad_hook(_accumulate_into(g))
        else:
            self.opt = torch.optim.AdamW(self.params, lr=lr, foreach=False)

    def gradient_bytes(self) -> int:
        if self.main_grads:
            return sum(g.nbytes for g in self.main_grads)
        return sum(p.grad.nbytes for p in self.params if p.grad is not None)

    def optimizer_bytes(self) -> int:
        state = sum(t.nbytes for st in self.opt.state.values() for t in st.values()
                    if isinstance(t, torch.Tensor))
        return state + sum(m.nbytes for m in self.master)

    def step(self) -> None:
        if self.mixed:
            for p, m, i in zip(self.params, self.master, range(len(self.params)), strict=True):
                if self.main_grads:
                    m.grad = self.main_grads[i]
                elif p.grad is not None:
                    m.grad = p.grad.float()
            self.opt.step()
            with torch.no_grad():
                for p, m in zip(self.params, self.master, strict=True):
                    p.copy_(m)
                    p.grad = None
            for g in self.main_grads:
                g.zero_()
            for m in self.master:
                m.grad = None
        else:
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)


def _accumulate_into(buf: torch.Tensor) -> Any:
    def hook(p: torch.Tensor) -> None:
        assert p.grad is not None
        buf.add_(p.grad)
        p.grad = None

    return hook


def build(cfg: ModelConfig, precision: str = "bf16", flash: bool = True,
          seed: int = 0) -> GPT:
    """The GPT for ``cfg`` in training mode, weights in ``precision``."""
    torch.manual_seed(seed)
    model = GPT(cfg, flash=flash)
    if precision == "bf16":
        model = model.to(torch.bfloat16)
    return model.train()


def batch(cfg: ModelConfig, micro_batch: int, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids and next-token targets of shape ``[micro_batch, seq]``."""
    if seq > cfg.seq_len and cfg.learned_pos_emb:
        raise GpuwiseError(f"seq {seq} exceeds the learned positions ({cfg.seq_len})")
    ids = torch.randint(0, cfg.vocab, (micro_batch, seq + 1))
    return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()


def saved_activation_bytes(model: torch.nn.Module, ids: torch.Tensor,
                           targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Forward pass under a saved-tensor hook: (loss, bytes of distinct saved storages)."""
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    sizes: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr and ptr not in param_ptrs:  # saved tensors stay alive: no address reuse
            sizes[ptr] = max(sizes.get(ptr, 0), st.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(ids, targets)
    return loss, sum(sizes.values())


def count_memory(cfg: ModelConfig, micro_batch: int, seq: int, precision: str = "bf16",
                 grad_bytes: int = 2, flash: bool = True, seed: int = 0) -> MemoryCount:
    """Run one training step and count weights, gradients, optimizer states, activations."""
    model = build(cfg, precision, flash, seed)
    opt = MixedPrecisionAdam(model, precision, grad_bytes)
    ids, targets = batch(cfg, micro_batch, seq)
    loss, act = saved_activation_bytes(model, ids, targets)
    loss.backward()
    grads = opt.gradient_bytes()
    opt.step()
    params = list(model.parameters())
    return MemoryCount(
        params=sum(p.numel() for p in params),
        weights=sum(p.nbytes for p in params),
        gradients=grads,
        optimizer=opt.optimizer_bytes(),
        activations=act,
        loss=float(loss.detach()),
    )


def time_steps(cfg: ModelConfig, micro_batch: int, seq: int, steps: int,
               grad_accum: int = 1, precision: str = "bf16", grad_bytes: int = 2,
               flash: bool = True, warmup: int = 1, seed: int = 0,
               clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds (by ``clock``) of ``steps`` optimizer steps, each ``grad_accum`` micro-batches."""
    model = build(cfg, precision, flash, seed)
    opt = MixedPrecisionAdam(model, precision, grad_bytes)
    data = [batch(cfg, micro_batch, seq) for _ in range(grad_accum)]
    times = []
    for i in range(warmup + steps):
        t0 = clock()
        for ids, targets in data:
            (model(ids, targets) / grad_accum).backward()
        opt.step()
        if i >= warmup:
            times.append(clock() - t0)
    return times
