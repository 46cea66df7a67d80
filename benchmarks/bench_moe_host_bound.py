"""How much of an MoE row's gap can the CPU's dispatch explain?  A report, not a model change.

For every evaluated MoE row of ``tests/data/planner/unseen_runs.csv`` this prints one MoE layer's
modelled GPU time (forward, backward), its kernel count (``planner.launch.layer_kernels``, the
routed experts one GEMM launch each), the CPU dispatch those kernels cost at the planner's
per-op cost (``launch.DISPATCH_US``), and two bounds:

- ``sync``: the layer time if its forward were fully serialised, GPU time + CPU dispatch instead
  of their maximum.  Megatron-Core's dropless all-to-all dispatcher blocks the CPU once per MoE
  layer forward on the device-to-host copy of the token counts that size the all-to-all
  (NVIDIA/Megatron-LM ``megatron/core/transformer/moe/token_dispatcher.py``
  ``MoEAlltoAllTokenDispatcher``: ``preprocess`` sets ``cuda_sync_point = "before_ep_alltoall"``
  when EP or TP > 1, and ``_maybe_dtoh_and_synchronize`` calls ``d2h_event.synchronize()``
  there; drop-and-pad runs skip both), so the CPU cannot run ahead across layers.  The true
  cost of the sync lies between none and this bound; the planner charges neither.  Shown for
  the NCCL all-to-all rows only (``Engine.ep_dispatch == "nccl"``), not DeepEP's.
- ``us/op``: the per-op CPU cost at which the layer's ops alone would take the whole published
  time, if the whole gap between prediction and publication sat in the MoE layers.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_moe_host_bound.py [--dispatch-us US]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

try:
    from benchmarks.bench_planner_unseen import (
        CSV,
        accelerator_for,
        engine_for,
        evaluate_row,
        load_rows,
    )
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_planner_unseen import CSV, accelerator_for, engine_for, evaluate_row, load_rows
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.launch import DISPATCH_US, layer_kernels
from gpuwise.planner.layer_time import layer_gemms, layer_times
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single


@dataclass(frozen=True)
class HostBound:
    """One MoE row: modelled per-layer seconds and kernels, and the dispatch bounds."""

    id: str
    ratio: float  # predicted / published tokens per second
    gpu_f: float
    gpu_b: float
    kernels_f: float
    kernels_b: float
    dispatch_us: float
    nccl_alltoall: bool = True  # Megatron-Core's all-to-all dispatcher (the sync applies)

    @property
    def layer(self) -> float:
        """Seconds per MoE layer as the planner charges it: each pass the slower of the GPU and
        the CPU's dispatch (``launch.paced``)."""
        us = self.dispatch_us * 1e-6
        return max(self.gpu_f, self.kernels_f * us) + max(self.gpu_b, self.kernels_b * us)

    @property
    def layer_sync(self) -> float:
        """Upper bound with the forward serialised by a host sync: GPU + CPU for the forward."""
        us = self.dispatch_us * 1e-6
        return self.gpu_f + self.kernels_f * us + max(self.gpu_b, self.kernels_b * us)

    @property
    def ratio_sync(self) -> float:
        """The row's ratio if the MoE layers took :attr:`layer_sync` (every layer MoE)."""
        return self.ratio * self.layer / self.layer_sync

    @property
    def needed_us_per_op(self) -> float:
        """Per-op CPU cost at which the layer's ops alone fill the published layer time."""
        return self.layer * self.ratio / (self.kernels_f + self.kernels_b) * 1e6


def host_bound(row: dict[str, str], dispatch_us: float = DISPATCH_US) -> HostBound:
    """The :class:`HostBound` of one unseen row (an MoE model)."""
    model = get_model(row["model"])
    gpus, tp, pp, cp = (int(row[k]) for k in ("gpus", "tp", "pp", "cp"))
    c = single(
        gpus // (tp * pp * cp), tp, pp, int(row["vp"]), cp, int(row["ep"]), int(row["zero"]),
        row["recompute"], int(row["micro_batch"]), row["precision"],
    )
    setup = Setup(
        int(row["seq"]), int(row["global_batch"]), gpus, 8, float(row["net_gbs_per_gpu"]), 0.05,
        engine_for(row["engine"]), None, int(row.get("pipeline_runs") or 1),
    )
    hw = Hardware.from_catalog(accelerator_for(row["gpu"]))
    lt = layer_times(model, True, c, setup, hw)
    tok = setup.seq * c.micro_batch / c.cp
    n_gemm = np.sum([g[3] for g in layer_gemms(model, True, c, tok)], axis=0)
    k_f, k_b = layer_kernels(model, setup.engine, True, c.tp, n_gemm)
    parts = ("gemm", "attn", "elem", "comm")
    pred = float(evaluate_row(row)["tokens_per_s_per_gpu"])
    return HostBound(
        id=row["id"],
        ratio=pred / float(row["published_tokens_per_s_per_gpu"]),
        gpu_f=float(sum(lt[f"{p}_f"][0] for p in parts)),
        gpu_b=float(sum(lt[f"{p}_b"][0] for p in parts)),
        kernels_f=float(k_f[0]),
        kernels_b=float(k_b[0]),
        dispatch_us=dispatch_us,
        nccl_alltoall=setup.engine.ep_dispatch == "nccl",
    )


def moe_rows() -> list[dict[str, str]]:
    """The evaluated unseen rows whose model has routed experts."""
    return [r for r in load_rows(CSV) if r["use"] == "yes" and get_model(r["model"]).is_moe]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dispatch-us", type=float, default=DISPATCH_US, help="CPU us per op")
    args = ap.parse_args()
    print(
        f"{'row':28} {'ratio':>5} {'GPU f/b ms':>12} {'kernels f/b':>11} {'CPU f/b ms':>11} "
        f"{'layer ms':>8} {'sync ms':>8} {'ratio':>5} {'us/op':>6}"
    )
    for row in moe_rows():
        b = host_bound(row, args.dispatch_us)
        cpu_f, cpu_b = (k * b.dispatch_us * 1e-3 for k in (b.kernels_f, b.kernels_b))
        sync, ratio = (
            (f"{b.layer_sync * 1e3:.2f}", f"{b.ratio_sync:.2f}") if b.nccl_alltoall else ("-", "-")
        )
        print(
            f"{b.id:28} {b.ratio:5.2f} {b.gpu_f * 1e3:5.2f}/{b.gpu_b * 1e3:6.2f} "
            f"{b.kernels_f:5.0f}/{b.kernels_b:5.0f} {cpu_f:5.2f}/{cpu_b:5.2f} "
            f"{b.layer * 1e3:8.2f} {sync:>8} {ratio:>5} "
            f"{b.needed_us_per_op:6.0f}"
        )


if __name__ == "__main__":
    main()
