"""PyTorch's experimental context parallelism (``Engine.torch_cp``), as torchtitan runs it.

torchtitan's ``context_parallel`` (torch/distributed/tensor/experimental/_attention.py, read at
pytorch/pytorch@f2127dbd; the same loop structure at the earlier stored version without load
balancing) replaces each SDPA call by ``_templated_ring_attention``: ``cp`` steps per layer, each
one flash call on a chunk pair of the load-balanced split (step 0 causal on the two local
chunks, every later step non-causal on ``2c x c`` or ``c x 2c``, ``c = s / (2 cp)``; the same
``s^2 / (2 cp)`` pairs as :func:`gpuwise.planner.cp_comm.balanced_causal_pairs`), and what the
planner's ring does not charge:

* K and V travel at the *query* head count: torchtitan's Llama ``Attention.forward`` expands
  them with ``repeat_kv`` before ``F.scaled_dot_product_attention`` (pytorch/torchtitan
  torchtitan/models/llama/model.py, 2024), so the exchanged buffer is ``torch.cat`` of
  ``key.flatten()`` and ``value.flatten()`` of every query head (:func:`torch_cp_kv_bytes`).
* Forward (``rotate_method`` ``ALL_GATHER``, the default in every stored version): one
  all-gather of that buffer, issued before step 0 and waited for at step 1, so only step 0's
  flash call (``1 / cp`` of the core) hides it.
* Backward (``_templated_ring_attention_backward``): K/V re-gathered the same way; the running
  dK/dV, accumulated in fp32 (``accum_dtype``), go to the next rank after every step
  (``dkv_rotater``, ``ALL_TO_ALL``: one peer) and are waited for after the next step's flash
  backward; the last exchange is waited for after the loop, with nothing left to hide it.
* Compiled, nothing hides: torchtitan compiles each block with ``torch.compile(block,
  fullgraph=True)`` (pytorch/torchtitan@582fe7d1 torchtitan/parallelisms/
  parallelize_llama.py ``apply_compile``), so the ring is traced, and a functional collective
  traced returns ``wait_tensor`` of its result at once (pytorch/pytorch@fff02e67
  torch/distributed/_functional_collectives.py ``_maybe_wrap_tensor``; hence ``_maybe_wait``'s
  note that a traced result is no ``AsyncCollectiveTensor``); Inductor moves waits only under
  ``reorder_for_compute_comm_overlap``, off by default (pytorch/pytorch@a112bb81
  torch/_inductor/config.py).  Every all-gather and dK/dV exchange is then exposed.
* Passes over the rank's attention output that no single SDPA call makes (:func:`pass_bytes`):
  ``key.contiguous()``/``value.contiguous()`` of the transposed inputs; each step but the last
  concatenates K and V into the send buffer; forward, ``_SDPAMerger`` upcasts each step's
  output to fp32 and merges it into the running fp32 output with the log-sum-exp weights
  (``out - sigmoid(lse_blk - lse) * (out - out_blk)``), then casts the result back; backward,
  fp32 zeros for dQ, dK and dV, per step ``+=`` of the call's 16-bit gradients into them and a
  ``torch.cat`` of dK and dV into the send buffer, and the final casts to 16 bits.  Eager, each
  op streams its operands; compiled (``torch.compile(fullgraph=True)`` blocks trace the ring,
  ``_maybe_wait`` being written for tracing), each merge or accumulation is one pointwise pass.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.collectives import link, ring_gather
from gpuwise.planner.flops import attn_dims
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates, Setup

#: Bytes per element of the rank's attention output, per step after the first, forward:
#: eager ``out_blk.to(float32)`` (2 + 4), ``out - out_blk`` (4 + 4 + 4), the product with the
#: broadcast weight (4 + 4), ``out - ...`` (4 + 4 + 4); compiled one pass reading the running
#: fp32 output and the step's 16-bit output and writing the fp32 output (4 + 2 + 4).
MERGE_STEP_BYTES = {"eager": 38.0, "compiled": 10.0}
#: Once per forward: the first step's upcast (2 + 4) and ``results()``' downcast (4 + 2), eager;
#: compiled both fold into the neighbouring merge passes.
MERGE_EDGE_BYTES = {"eager": 12.0, "compiled": 0.0}
#: Per step, backward, per element of Q (= of K, = of V at the query head count): dK and dV
#: ``+=`` of 16-bit into fp32 (2 x (4 + 2 + 4)), dQ likewise (4 + 2 + 4), the ``torch.cat`` of
#: dK and dV into the send buffer (2 x (4 + 4)) eager, written by the accumulation when compiled.
ACCUM_STEP_BYTES = {"eager": 46.0, "compiled": 30.0}
#: Once per backward: fp32 zeros of dQ, dK, dV (3 x 4) eager, and the final dQ, dK, dV casts
#: to 16 bits (3 x (4 + 2)).
ACCUM_EDGE_BYTES = {"eager": 30.0, "compiled": 18.0}
#: Per step but the last, forward and backward: ``torch.cat`` of K and V into the send buffer
#: (2 x (2 + 2)); once per pass: ``key.contiguous()``/``value.contiguous()`` (2 x (2 + 2)).
KV_COPY_BYTES = 8.0


def torch_cp_kv_bytes(model: ModelConfig, c: Candidates, setup: Setup) -> np.ndarray:
    """16-bit K and V of one rank's ``s b / cp`` tokens at the query heads ``a / tp``
    (``repeat_kv`` runs before the attention call)."""
    d_qk, d_v = attn_dims(model)
    tok = float(setup.seq) * c.micro_batch / c.cp
    return 2.0 * tok * model.heads * (d_qk + d_v) / c.tp.astype(float)


def pass_bytes(elems: np.ndarray, cp: np.ndarray, compiled: bool) -> tuple[np.ndarray, np.ndarray]:
    """HBM bytes of the forward and backward passes listed in the module docstring over a
    rank's ``elems`` attention-output elements; zero where ``cp`` is 1."""
    mode = "compiled" if compiled else "eager"
    steps = cp.astype(float)
    kv = KV_COPY_BYTES * steps  # the contiguous copies plus a K/V concatenation per step but last
    fwd = (steps - 1.0) * MERGE_STEP_BYTES[mode] + MERGE_EDGE_BYTES[mode] + kv
    bwd = steps * ACCUM_STEP_BYTES[mode] + ACCUM_EDGE_BYTES[mode] + kv
    return np.where(cp > 1, fwd * elems, 0.0), np.where(cp > 1, bwd * elems, 0.0)


def torch_cp_comm_times(
    hw: Hardware,
    setup: Setup,
    c: Candidates,
    kv_bytes: np.ndarray,
    attn_f: np.ndarray,
    attn_b: np.ndarray,
    compiled: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Exposed seconds per layer and micro-batch, forward and backward: eager, the K/V
    all-gather beyond step 0's share of the core, each fp32 dK/dV exchange beyond the next
    step's share of the backward core, and the last exchange whole; ``compiled``, all of them
    whole.  Zero where ``cp`` is 1."""
    n = c.cp.astype(float)
    if compiled:  # traced collectives are waited for where they are issued
        attn_f, attn_b = 0.0 * attn_f, 0.0 * attn_b
    gbw, glat = link(hw, setup, c.tp * c.cp, c.tp, gather=True)
    gather = ring_gather(kv_bytes * n, c.cp, gbw, glat)
    bw, lat = link(hw, setup, c.tp * c.cp, c.tp)
    send = 2.0 * kv_bytes / (bw * 1e9) + lat  # fp32 dK and dV to the next rank
    fwd = np.maximum(0.0, gather - attn_f / n)
    bwd = np.maximum(0.0, gather - attn_b / n) + (n - 1.0) * np.maximum(0.0, send - attn_b / n)
    bwd = bwd + send
    return np.where(c.cp > 1, fwd, 0.0), np.where(c.cp > 1, bwd, 0.0)
