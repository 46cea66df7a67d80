"""The chosen training plan, checked once before any engine config is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.planner.models import ModelConfig

INT_KEYS = ("dp", "tp", "pp", "vpp", "cp", "ep", "zero", "micro_batch", "global_batch", "seq",
            "gpus")
REQUIRED = (*INT_KEYS, "recompute", "precision", "gpu_type")
RECOMPUTE = ("none", "selective", "full")
PRECISION = ("bf16", "fp8")
#: What the planner's engine meant by ``selective`` (``Engine.selective``): the attention core
#: (Korthikanti) or torchtitan's op-level policy; optional ``selective`` key of a plan.
SELECTIVE = ("attention", "op")


@dataclass(frozen=True)
class LaunchPlan:
    """A validated plan: parallel degrees, ZeRO stage, batch sizes, recompute, precision."""

    dp: int
    tp: int
    pp: int
    vpp: int
    cp: int
    ep: int
    zero: int
    recompute: str
    micro_batch: int
    precision: str
    global_batch: int
    seq: int
    gpus: int
    gpu_type: str
    selective: str = "attention"
    #: whether the plan budgeted fused elementwise kernels (``Engine.fused_kernels``): eager
    #: PyTorch engines (torchtitan, FSDP) only get them from torch.compile; optional key
    fused_kernels: bool = False

    @property
    def grad_accum(self) -> int:
        """Micro-batches per data-parallel rank per optimizer step: ``B / (dp * b)``."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def local_batch(self) -> int:
        """Sequences per data-parallel rank per optimizer step: ``B / dp``."""
        return self.global_batch // self.dp


def pipeline_split(layers: int, pp: int) -> tuple[int, int, int]:
    """(first, middle, last) stage layer counts; middle stages are equal (Megatron's
    ``--decoder-first/last-pipeline-num-layers``), first and last absorb the remainder."""
    if pp == 1:
        return layers, layers, layers
    if layers % pp == 0:
        return layers // pp, layers // pp, layers // pp
    middle = -(-layers // pp) if pp > 2 else 0
    ends = layers - (pp - 2) * middle
    if ends < 2:
        middle = layers // pp
        ends = layers - (pp - 2) * middle
    first = -(-ends // 2)
    return first, middle, ends - first


def check_plan(model: ModelConfig, plan: Mapping[str, Any]) -> LaunchPlan:
    """Validate ``plan`` against ``model``; every problem is a one-line :class:`GpuwiseError`."""
    missing = [k for k in REQUIRED if k not in plan]
    if missing:
        raise GpuwiseError(f"plan: missing key(s) {', '.join(missing)}")
    vals: dict[str, Any] = {}
    for k in INT_KEYS:
        v = plan[k]
        if isinstance(v, bool) or not isinstance(v, Integral) or v < (0 if k == "zero" else 1):
            raise GpuwiseError(f"plan: {k}: expected a positive integer, got {v!r}")
        vals[k] = int(v)  # numpy integers from the search arrays included
    for k, choices in (("recompute", RECOMPUTE), ("precision", PRECISION)):
        v = str(plan[k])
        if v not in choices:
            raise GpuwiseError(f"plan: {k}: expected one of {', '.join(choices)}, got {v!r}"
                               f"{did_you_mean(v, choices)}")
        vals[k] = v
    vals["gpu_type"] = str(plan["gpu_type"])
    sel = str(plan.get("selective", "attention"))
    if sel not in SELECTIVE:
        raise GpuwiseError(f"plan: selective: expected one of {', '.join(SELECTIVE)}, got "
                           f"{sel!r}{did_you_mean(sel, SELECTIVE)}")
    vals["selective"] = sel
    fused = plan.get("fused_kernels", False)
    if not isinstance(fused, bool):
        raise GpuwiseError(f"plan: fused_kernels: expected true or false, got {fused!r}")
    vals["fused_kernels"] = fused
    p = LaunchPlan(**vals)
    if p.zero > 3:
        raise GpuwiseError(f"plan: zero: ZeRO stages are 0-3, got {p.zero}")
    if p.dp * p.tp * p.pp * p.cp != p.gpus:
        raise GpuwiseError(f"plan: dp*tp*pp*cp = {p.dp * p.tp * p.pp * p.cp} "
                           f"but gpus = {p.gpus}")
    if p.global_batch % (p.dp * p.micro_batch):
        raise GpuwiseError(f"plan: global_batch {p.global_batch} is not a multiple of "
                           f"dp*micro_batch = {p.dp * p.micro_batch}")
    if model.heads % p.tp or model.kv % p.tp and p.tp % model.kv:
        raise GpuwiseError(f"plan: tp {p.tp} does not divide {model.heads} attention heads "
                           f"({model.kv} KV heads)")
    if p.vpp > 1 and model.layers % (p.pp * p.vpp):
        raise GpuwiseError(f"plan: {model.layers} layers do not split into pp*vpp = "
                           f"{p.pp * p.vpp} equal interleaved stages")
    if p.pp > model.layers:
        raise GpuwiseError(f"plan: pp {p.pp} exceeds the model's {model.layers} layers")
    if p.ep > 1 and (not model.is_moe or model.experts % p.ep):
        raise GpuwiseError(f"plan: ep {p.ep} needs a mixture-of-experts model whose expert count "
                           f"it divides (model has {model.experts} experts)")
    if p.seq % p.cp:
        raise GpuwiseError(f"plan: seq {p.seq} is not divisible by cp {p.cp}")
    return p
