"""Parallel training configurations as arrays (one entry per candidate) and run settings.

:class:`Candidates` holds numpy arrays so that the memory and time models evaluate thousands
of (DP, TP, PP, VPP, CP, EP, ZeRO, recompute, micro-batch, precision) tuples at once;
:func:`single` wraps one configuration; :class:`Setup` holds a run's fixed inputs, among
them the training engine (:mod:`gpuwise.planner.engines`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gpuwise.planner.engines import ENGINES, Engine

RECOMPUTE = ("none", "selective", "full")
PRECISIONS = ("bf16", "fp8")


@dataclass(frozen=True)
class Setup:
    """One training run: the fixed, non-searched inputs."""

    seq: int
    global_batch: int  # sequences per optimizer step
    gpus: int
    gpus_per_node: int = 8
    net_gbs_per_gpu: float = 25.0  # inter-node bandwidth per GPU, GB/s per direction
    # fraction of HBM kept free for what the memory model does not count (NCCL's buffers, the
    # caching allocator's fragmentation; planner.overhead): a user setting, not a measurement
    mem_margin: float = 0.05
    engine: Engine = field(default_factory=lambda: ENGINES["modern"])
    tokens: float | None = None  # tokens for the whole run (for days / GPU-hours)
    # pipeline schedule runs per optimizer step: gradient accumulation outside the schedule
    # (NeMo AutoModel's train loop calls ``schedule.step`` once per local batch, nemo_automodel/
    # recipes/llm/train_ft.py), each run filling and draining the pipeline
    pipeline_runs: int = 1


@dataclass
class Candidates:
    """Arrays of equal length, one entry per configuration."""

    dp: np.ndarray
    tp: np.ndarray
    pp: np.ndarray
    vpp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    zero: np.ndarray
    recompute: np.ndarray  # index into RECOMPUTE
    micro_batch: np.ndarray
    fp8: np.ndarray  # 0 = bf16, 1 = fp8

    def __len__(self) -> int:
        return int(self.dp.shape[0])

    def take(self, idx: np.ndarray) -> Candidates:
        """The candidates at ``idx`` (boolean mask or integer indices)."""
        return Candidates(**{k: v[idx] for k, v in self.__dict__.items()})

    def row(self, i: int) -> dict[str, int | str]:
        """One candidate as plain values (recompute and precision by name)."""
        return {
            "dp": int(self.dp[i]),
            "tp": int(self.tp[i]),
            "pp": int(self.pp[i]),
            "vpp": int(self.vpp[i]),
            "cp": int(self.cp[i]),
            "ep": int(self.ep[i]),
            "zero": int(self.zero[i]),
            "recompute": RECOMPUTE[int(self.recompute[i])],
            "micro_batch": int(self.micro_batch[i]),
            "precision": PRECISIONS[int(self.fp8[i])],
        }


def stage_layers(layers: int, pp: np.ndarray, vpp: np.ndarray) -> np.ndarray:
    """Layers on the heaviest pipeline rank, the ``p v`` model chunks split as evenly as their
    count allows with the first ``L mod (p v)`` chunks one layer longer (NeMo AutoModel's
    ``generate_hf_model_fqn_per_model_part``, nemo_automodel/components/distributed/
    pipelining/functional.py); rank 0 holds chunks 0, p, 2p, ...: ``v floor(L / (p v)) +
    ceil((L mod p v) / p)``.  Equal to ``L / (p v) * v`` when the chunks divide the layers."""
    chunks = pp * vpp
    return vpp * (layers // chunks) + np.ceil((layers % chunks) / pp)


def single(
    dp: int = 1,
    tp: int = 1,
    pp: int = 1,
    vpp: int = 1,
    cp: int = 1,
    ep: int = 1,
    zero: int = 0,
    recompute: str = "none",
    micro_batch: int = 1,
    precision: str = "bf16",
) -> Candidates:
    """A one-entry :class:`Candidates` for a single configuration."""

    def a(x: int) -> np.ndarray:
        return np.array([x], dtype=np.int64)

    return Candidates(
        a(dp),
        a(tp),
        a(pp),
        a(vpp),
        a(cp),
        a(ep),
        a(zero),
        a(RECOMPUTE.index(recompute)),
        a(micro_batch),
        a(PRECISIONS.index(precision)),
    )
