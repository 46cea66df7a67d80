"""FSDP2's collectives at the edges of a step, which no compute can hide (``Engine.
fsdp2_exposed_edges``).

Under ZeRO-3 every other all-gather and reduce-scatter of FSDP2 (``fully_shard``) runs on its
own stream beside a transformer block's compute (``time.step_time`` hides them under the layers
when they fit), but two sets have nothing to run beside (pytorch/pytorch@005da465
``torch/distributed/_composable/fsdp/_fsdp_state.py``):

* **start of each forward**: the root's pre-forward makes the all-gather streams wait for the
  current stream (``_root_pre_forward``: ``all_gather_stream.wait_stream(current_stream)``, or
  the optimizer's event), so the root unit's gather (embedding, final norm, output layer in
  torchtitan's ``apply_fsdp``) starts only when the previous work is done, and the embedding
  lookup waits for it; the first block's gather is issued next, behind it on the same stream,
  with only the lookup to overlap.  Charged per micro-batch.
* **end of the backward**: the root's inputs are token ids, which do not require gradients, so
  no post-backward hook fires for it; its reduce-scatter runs from the final autograd callback
  (``_root_post_backward_final_callback``: "Run post-backward in case forward inputs did not
  require gradient"), after the first block's, which follows that block's backward with only
  the embedding's backward to overlap; the callback then makes the current stream wait for the
  last reduce-scatter (``reduce_scatter_state.event``) before the optimizer.  Charged once per
  step (each earlier micro-batch's run overlaps the next forward).

So the root and the first block are gathered and reduced on the critical path; the small
embedding lookup and its backward are not subtracted.
"""

from __future__ import annotations

import numpy as np


def edge_params(
    stage: dict[str, np.ndarray], layers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(dense, expert) parameters per GPU of the units gathered and reduced at a step's edges:
    the root (embedding, final norm, output layer: ``memory.stage_params``' ``emb_first`` /
    ``emb_last``) and the first of the stage's ``layers`` transformer blocks."""
    root = np.maximum(stage["emb_first"], stage["emb_last"])
    return root + stage["dense"] / layers, stage["expert"] / layers
