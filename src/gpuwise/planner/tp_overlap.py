"""Tensor-parallel collectives with sequence parallelism, overlapped as Transformer Engine runs
them (a helper of :mod:`gpuwise.planner.layer_time`).

Each transformer block (attention, MLP) runs per micro-batch, with ``n`` = TP ranks:

- forward: all-gather (AG) of the block input -> column-parallel GEMM (QKV / FC1) ...
  row-parallel GEMM (attention projection / FC2) -> reduce-scatter (RS) of its output;
- backward: AG of the output gradient -> row-parallel data-gradient (dgrad) GEMM ...
  column-parallel dgrad GEMM, column-parallel weight-gradient (wgrad) GEMM on the re-gathered
  input, RS of the input gradient.

Which collective hides behind which GEMM (NVIDIA/TransformerEngine@3ec87875
``transformer_engine/pytorch/module/layernorm_linear.py`` backward; userbuffers methods and their
defaults in TE@fecb10bd ``pytorch/module/base.py`` ``initialize_ub``; the methods a run picks per
GEMM are its ``TransformerLayerTPOverlapCfg``, NVIDIA-NeMo/Megatron-Bridge@0685ff5d
``src/megatron/bridge/training/comm_overlap.py``, or NVIDIA/NeMo-Framework-Launcher
``launcher_scripts/conf/training/tp_overlap/ub_cfg_h100_*.yaml``):

- without userbuffers, Transformer Engine still launches the column-parallel backward
  collectives asynchronously: the input re-gather runs under the dgrad GEMM ("Overlap input AG
  with dgrad") and the input-gradient RS under the wgrad GEMM ("Overlap dgrad-RS/AR with
  wgrad"); the forward AG/RS and the output-gradient AG stay on the critical path; these
  are NCCL kernels, whose thread blocks (one per channel) hold SMs the GEMM beside them cannot
  use, so a part of each hidden collective stays exposed (:func:`nccl_beside_gemm`);
- with userbuffers (``tp_comm_overlap``) those two become ``bulk`` overlaps (``qkv_dgrad``,
  ``fc1_dgrad``, ``qkv_wgrad``, ``fc1_wgrad``); the forward AG and the backward output-gradient
  AG are ``ring_exchange`` overlaps (``qkv_fprop``, ``fc1_fprop``, ``proj_dgrad``,
  ``fc2_dgrad``): the GEMM is split into ``n`` row chunks, the first runs on local data while
  the next chunk arrives point-to-point; the forward RS (``proj_fprop``, ``fc2_fprop``) is
  either a ``ring_exchange`` (``n`` chunks, partial sums passed along the ring) or ``pipeline``
  (``num_splits`` chunks, each chunk's RS runs under the next chunk's GEMM, the last one
  exposed), its GEMM launched with ``set_sm_margin`` on the SMs the RS kernels leave free.

Chunked GEMMs run at the rate of their chunk's shape (the efficiency model's tile and wave
losses for ``m / chunks`` rows), so splitting costs what the smaller GEMMs cost.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.efficiency import nccl_ctas, sm_count
from gpuwise.planner.engines import Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates

#: ``(block, side)`` of a layer GEMM: the block whose TP collectives it can hide, and whether it
#: is the block's column-parallel (input all-gathered) or row-parallel (output reduce-scattered)
#: GEMM; ``None`` for GEMMs no TP collective overlaps.
Role = tuple[str, str] | None


def gemm_roles(model: ModelConfig, moe: bool) -> list[Role]:
    """Roles of :func:`gpuwise.planner.layer_time.layer_gemms`'s GEMMs, in its order.  Only the
    dense attention (QKV, projection) and dense MLP (FC1, FC2) GEMMs take part: Transformer Engine's
    userbuffers overlap covers its ``LayerNormLinear`` / ``LayerNormMLP`` / ``Linear`` modules,
    not MLA's low-rank projections or the grouped expert GEMMs of MoE layers, whose block
    collectives are charged in full."""
    roles: list[Role]
    if model.mla is not None:
        roles = [None] * (5 if model.mla.q_lora_rank else 4)
    else:
        roles = [("attn", "col"), ("attn", "row")]
    if moe:
        roles += [None] * (5 if model.shared_experts else 3)
    else:
        roles += [("mlp", "col"), ("mlp", "row")]
    return roles


def ring_exchange(chunk: np.ndarray, comm: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Seconds of a GEMM split into ``n`` chunks of ``chunk`` s with ``n - 1`` point-to-point
    transfers (of a collective taking ``comm`` s in all) each under the previous chunk's GEMM."""
    steps = np.maximum(n - 1.0, 1.0)
    return np.where(n > 1, chunk + (n - 1.0) * np.maximum(chunk, comm / steps), chunk)


def pipelined(chunk: np.ndarray, comm: np.ndarray, splits: float) -> np.ndarray:
    """Seconds of a GEMM split into ``splits`` chunks whose outputs are reduce-scattered chunk
    by chunk under the next chunk's GEMM; the last chunk's RS is exposed."""
    k = float(splits)
    return chunk + (k - 1.0) * np.maximum(chunk, comm / k) + comm / k


def _sm_factor(hw: Hardware, reserved: int) -> float:
    """GEMM time factor when the GEMM leaves ``reserved`` SMs to communication kernels
    (``set_sm_margin``: cuBLAS is given ``sm_count - num_sm`` SMs)."""
    sms = sm_count(hw.acc)
    return 1.0 if sms is None or reserved <= 0 else sms / (sms - reserved)


def nccl_beside_gemm(hw: Hardware, comm: np.ndarray, gemm: np.ndarray) -> np.ndarray:
    """Exposed seconds of an NCCL collective (``comm`` s alone) launched beside a GEMM (``gemm``
    s alone) on another stream.  NCCL keeps one thread block per channel on an SM for the
    whole collective (``efficiency.nccl_ctas``), so while it runs the GEMM has ``k`` of its
    ``S`` SMs fewer: the pair ends at ``max(comm, gemm + comm * k / S)``, of which
    ``comm * k / S`` is exposed even when the GEMM is the longer (zero where ``k`` is not
    published)."""
    sms, ctas = sm_count(hw.acc), nccl_ctas(hw.acc)
    share = 0.0 if sms is None or ctas is None else ctas / sms
    return np.maximum(comm - gemm, comm * share)


def _block_gemms(
    hw: Hardware,
    eng: Engine,
    c: Candidates,
    gemms: list[tuple[np.ndarray, ...]],
    roles: list[Role],
) -> dict[str, np.ndarray]:
    """Per-block GEMM seconds keyed ``<block>_<side>_<pass>``: pass ``f`` forward, ``d`` dgrad,
    ``w`` wgrad, ``fc`` one forward chunk, ``dc`` one dgrad chunk (only what overlaps)."""
    t = c.tp.astype(float)
    splits = dict(zip(("attn", "mlp"), eng.ub_rs_splits, strict=True))
    out: dict[str, np.ndarray] = {}
    for prec_idx, prec in ((0, "bf16"), (1, "fp8")):
        sel = c.fp8 == prec_idx
        if not sel.any():
            continue
        for (m_, n_, k_, cnt), role in zip(gemms, roles, strict=True):
            if role is None:
                continue
            m, n, k, q = m_[sel], n_[sel], k_[sel], cnt[sel]
            key = f"{role[0]}_{role[1]}"
            parts = {
                "f": hw.gemm_time(m, n, k, prec, q),
                "d": hw.gemm_time(m, k, n, prec, q),
                "w": hw.gemm_time(n, k, m, prec, q, eng.wgrad_out_bytes),
            }
            if eng.overlap_tp:
                k_rs = splits[role[0]]
                chunks = (t if role[1] == "col" or k_rs == 0 else np.full(len(c), k_rs))[sel]
                parts["fc"] = hw.gemm_time(m / chunks, n, k, prec, q)
                if role[1] == "row":
                    parts["dc"] = hw.gemm_time(m / t[sel], k, n, prec, q)
            for p, v in parts.items():
                out.setdefault(f"{key}_{p}", np.zeros(len(c)))[sel] += v
    return out


def sp_block_comm(
    hw: Hardware,
    eng: Engine,
    c: Candidates,
    gemms: list[tuple[np.ndarray, ...]],
    roles: list[Role],
    coll: dict[str, np.ndarray],
    blocks: tuple[str, ...] = ("attn", "mlp"),
) -> tuple[np.ndarray, np.ndarray]:
    """Exposed forward and backward TP seconds of one layer (two blocks) with sequence
    parallelism.  ``coll`` holds one block's collective seconds: ``ag_in`` (forward input AG),
    ``rs_out`` (forward output RS), ``ag_grad`` (output-gradient AG), ``ag_re`` (backward input
    re-gather), ``rs_grad`` (input-gradient RS).  With userbuffers the returned seconds also
    carry what splitting and SM margins add to the overlapped GEMMs.  ``blocks``: the blocks
    that have TP collectives."""
    g = _block_gemms(hw, eng, c, gemms, roles)
    zero = np.zeros(len(c))
    n = c.tp.astype(float)
    fwd = np.zeros(len(c))
    bwd = np.zeros(len(c))
    for b, splits, reserved in zip(("attn", "mlp"), eng.ub_rs_splits, eng.ub_rs_sms, strict=True):
        if b not in blocks:  # a block without TP collectives (an expert-TP-1 MoE block)
            continue
        col_f, col_d, col_w = (g.get(f"{b}_col_{p}", zero) for p in "fdw")
        row_f, row_d = g.get(f"{b}_row_f", zero), g.get(f"{b}_row_d", zero)
        if eng.overlap_tp:
            ag = ring_exchange(g.get(f"{b}_col_fc", zero), coll["ag_in"], n) - col_f
            rs_chunk = g.get(f"{b}_row_fc", zero) * _sm_factor(hw, reserved)
            if splits == 0:
                rs = ring_exchange(rs_chunk, coll["rs_out"], n) - row_f
            else:
                rs = pipelined(rs_chunk, coll["rs_out"], splits) - row_f
            fwd = fwd + np.where(n > 1, ag + rs, 0.0)
            bwd = bwd + np.where(
                n > 1, ring_exchange(g.get(f"{b}_row_dc", zero), coll["ag_grad"], n) - row_d, 0.0
            )
        else:
            fwd = fwd + coll["ag_in"] + coll["rs_out"]
            bwd = bwd + coll["ag_grad"]
        if eng.overlap_tp:  # userbuffers bulk overlaps
            exposed_re = np.maximum(0.0, coll["ag_re"] - col_d)
            bwd = bwd + exposed_re + np.maximum(0.0, coll["rs_grad"] - col_w)
        elif eng.tp_async_bwd:  # asynchronous NCCL calls beside the dgrad / wgrad GEMMs
            bwd = bwd + nccl_beside_gemm(hw, coll["ag_re"], col_d)
            bwd = bwd + nccl_beside_gemm(hw, coll["rs_grad"], col_w)
        else:
            bwd = bwd + coll["ag_re"] + coll["rs_grad"]
    return fwd, bwd
