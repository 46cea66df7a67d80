"""PyTorch FSDP's (FlatParameter) memory-bound passes over each unit's unsharded gradient.

``Engine.fsdp_grad_passes``: every micro-batch, before the gradient reduce-scatter, PyTorch's
FSDP of 2022-2023 (torch 1.13-2.0, the ``FullyShardedDataParallel`` that Composer / llm-foundry
wrap) streams the *whole unsharded* gradient of every FSDP unit through HBM several times.  The
bytes scale with the parameters each GPU gathers (the full model under ZeRO-3), not with its
tokens, so they matter at small micro-batches (llm-foundry's MPT-13B without activation
checkpointing runs 2 x 2048 tokens per micro-batch).  Per unsharded parameter:

1. the flat gradient is assembled from the views' gradients: ``FlatParamHandle._get_unflat_views``
   makes the module parameters views of the flat parameter with ``torch.split(tensor,
   flat_param._numels)`` (``torch/distributed/fsdp/flat_param.py``), and autograd's
   ``split_with_sizes_backward`` (``torch/csrc/autograd/FunctionsManual.cpp``) concatenates the
   views' gradients into a new flat tensor: read + write in the 16-bit parameter dtype;
2. ``_post_backward_hook`` (``torch/distributed/fsdp/_runtime_utils.py``, torch 2.0) casts it
   to the mixed-precision ``reduce_dtype`` when that differs from the parameter dtype
   (``param.grad.to(state.mixed_precision.reduce_dtype)``): read 16-bit, write the reduce dtype;
3. pads it to a multiple of the world size with ``F.pad(unsharded_grad, [0, numel_to_pad])``,
   which copies even when nothing is padded (ATen ``constant_pad_nd`` returns
   ``c_input.clone()`` when no pad is positive, ``aten/src/ATen/native/PadNd.cpp``): read +
   write in the reduce dtype (PyTorch 2.1 skips the call when ``numel_to_pad`` is 0; the
   llm-foundry H100 tables ran on ``mosaicml/pytorch:2.0.1_cu118``, ``scripts/train/
   benchmarking/sweep.sh``);
4. the default ``reduce_scatter_hook`` (``torch/distributed/algorithms/_comm_hooks/
   default_hooks.py``) divides it in place by ``gradient_predivide_factor`` before the
   collective, a factor above 1 for every world size of 2 or more
   (``DefaultState._get_gradient_predivide_factor``): read + write in the reduce dtype.

The sharded output (its post-division, the cast back and the accumulation into
``_saved_grad_shard``) is 1/N of this and is charged by ``time.step_time`` with the other
sharded gradient work.  These kernels run on FSDP's post-backward stream next to the following
unit's backward GEMMs; like every other memory-bound pass in the time model they are charged
on the critical path.
"""

from __future__ import annotations

import numpy as np

#: bytes per element of the parameters FSDP gathers and computes with (bf16 / fp16)
PARAM_BYTES = 2


def flat_grad_pass_bytes(reduce_bytes: int, n_dp: np.ndarray) -> np.ndarray:
    """HBM bytes per unsharded parameter streamed each micro-batch by passes 1-4 above, for a
    gradient reduced in ``reduce_bytes`` per element over ``n_dp`` ranks."""
    concat = 2.0 * PARAM_BYTES
    cast = float(PARAM_BYTES + reduce_bytes) if reduce_bytes != PARAM_BYTES else 0.0
    pad_copy = 2.0 * reduce_bytes
    predivide = np.where(n_dp > 1, 2.0 * reduce_bytes, 0.0)
    return concat + cast + pad_copy + predivide
