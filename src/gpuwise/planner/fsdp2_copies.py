"""FSDP2's (``fully_shard``) memory-bound copies around its all-gathers and reduce-scatters.

``Engine.fsdp2_copies``: PyTorch's per-parameter FSDP (``torch/distributed/_composable/fsdp/``,
later ``torch/distributed/fsdp/_fully_shard/``) packs and unpacks every collective's flat buffer
with copy kernels, each micro-batch (read in ``_fsdp_collectives.py`` and ``_fsdp_param.py`` at
pytorch/pytorch@415cc262, a 2024 version under ``_composable/fsdp``, and @010ae4a8 under
``fsdp/_fully_shard``: the same passes; the exact torch of each benchmark is not stored).

All-gather, once per gather of an FSDP unit:

1. copy-in (``foreach_all_gather``): each rank casts its shard to the compute dtype when it is
   stored wider (``FSDPParam.all_gather_inputs``: ``sharded_param_data.to(self.param_dtype)``
   only if the dtypes differ: read 4 + write 2 for fp32 shards) and ``torch._foreach_copy_``
   packs the shards into the all-gather input (2 + 2): bytes per *sharded* parameter;
2. copy-out (``foreach_all_gather_copy_out``): ``torch.split_with_sizes_copy`` scatters the
   flat all-gather output into the unsharded parameters, on the compute stream (2 + 2 per
   *unsharded* parameter).

Reduce-scatter, once per micro-batch (gradients are reduced every backward unless the train
loop calls ``set_requires_gradient_sync(False)``): ``foreach_reduce_scatter_copy_in`` runs
``torch._chunk_cat`` of the unsharded gradients into the reduce-scatter input, casting to
``reduce_dtype`` in the same kernel (read 2, write the reduce dtype).  For fp32 and bf16
reductions there is no pre- or post-division kernel: the collective runs with
``ReduceOp.AVG`` ("saves extra memory read/write from a separate division kernel",
``_reduce_scatter``; ``_get_gradient_divide_factors`` returns ``None`` factors for those
dtypes), so only fp16 reductions would add passes (not modelled).  The reduced shard's
accumulation is sharded work, charged with the other sharded gradient work by
``time.step_time``.

Gathers per micro-batch: torchtitan reshards every transformer block but the last after
forward (``apply_fsdp``: ``reshard_after_forward = int(layer_id) < len(model.layers) - 1``,
pytorch/torchtitan@004b3148 ``torchtitan/parallelisms/parallelize_llama.py``), so those blocks
are gathered for the forward and again for the backward; FSDP2 never reshards the root module
(embeddings, final norm, output layer) after forward, whatever it was given ("for the root, do
not reshard after forward since for training, the parameters would be freed and all-gathered
immediately", ``FSDPState._lazy_init``, pytorch/pytorch@325b98f2
``torch/distributed/_composable/fsdp/_fsdp_state.py``; later torch keeps this only for
``reshard_after_forward=None``), so the root and the last block are gathered once.
Activation checkpointing's recompute reuses the backward gather (``_pre_forward`` returns
early in the ``PRE_BACKWARD`` state, the same file).  NeMo AutoModel's FSDP2 reshards its
blocks the same way without a pipeline (``FSDP2Config`` ``reshard_after_forward=None``:
"non-pipeline layers reshard all but the last layer", NVIDIA-NeMo/Automodel@013d1137
``nemo_automodel/components/distributed/config.py``).

Streams: the copy-out runs on the compute stream in every version read; the all-gather
copy-in runs on FSDP2's copy-in stream, and the reduce-scatter copy-in on the reduce-scatter
stream at 415cc262 but on the compute stream at 010ae4a8.  Like every other memory-bound pass
in the time model, all of them are charged on the critical path (side-stream kernels share
HBM with the compute they run next to).
"""

from __future__ import annotations

import numpy as np

#: bytes per element of the gathered compute parameters and their gradients (bf16)
PARAM_BYTES = 2


def mean_gathers(layer_params: np.ndarray, layers: np.ndarray, params: np.ndarray) -> np.ndarray:
    """All-gathers per micro-batch averaged over the ``params`` a GPU gathers, ``layer_params``
    of them in ``layers`` transformer blocks: two for every block but the last, one for the
    last block and the root module's own parameters."""
    return (params + layer_params * (layers - 1.0) / layers) / params


def unsharded_copy_bytes(reduce_bytes: int, gathers: np.ndarray) -> np.ndarray:
    """HBM bytes per unsharded parameter per micro-batch: ``gathers`` all-gather copy-outs (per
    parameter, :func:`mean_gathers`)
    plus the reduce-scatter copy-in that casts to ``reduce_bytes`` per element."""
    copy_out = 2.0 * PARAM_BYTES * gathers
    return copy_out + float(PARAM_BYTES + reduce_bytes)


def sharded_copy_bytes(gathers: np.ndarray, shard_bytes: int) -> np.ndarray:
    """HBM bytes per sharded parameter per micro-batch: each gather's cast of a shard stored in
    ``shard_bytes`` per element to the compute dtype (none when it is stored in it) and its
    copy into the all-gather input."""
    cast = float(shard_bytes + PARAM_BYTES) if shard_bytes != PARAM_BYTES else 0.0
    return gathers * (cast + 2.0 * PARAM_BYTES)
