"""Time of one 1F1B pipeline schedule run from its per-micro-batch slot (vectorized).

Megatron-LM's schedules (``megatron/schedules.py``, 2021-2022 and Megatron-Core since) run
each micro-batch's forward and backward once on every stage; the ``m`` steady-state slots are
paced by the slowest stage, the last one, which also runs the output layer and the loss.
Filling and draining the pipeline costs ``(p - 1) / v`` slots of the *other* stages (Narayanan
et al. 2021 sec. 2.2: 1F1B bubble ``(p-1)``, interleaved ``(p-1)/v``), which do not run the
output layer.  An op-by-op replay of both schedules with their blocking p2p exchanges
(``tests/planner/megatron_schedule.py``) gives exactly this sum for stages of equal compute
plus a heavier last stage; it also shows that extra work on the first stage alone (the
embedding) is hidden behind a heavier last stage: it sets the pace only when the first
stage is also the last.

DeepSpeed's pipeline engine (``deepspeed/runtime/pipe``: ``TrainSchedule``, a forward or a
backward per step by the parity of step and stage) takes the same slots
(``tests/planner/deepspeed_schedule.py``), but issues each send and receive as a blocking call
of its own (:func:`uncombined_p2p`) and ships a tensor-parallel output as a
``PartitionedTensor`` (:func:`partitioned_p2p`).
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.hardware import Hardware


def pipeline_time(
    m: np.ndarray, pp: np.ndarray, vpp: np.ndarray, slot: np.ndarray, last_extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(seconds of one schedule run, of which bubble) for ``m`` micro-batches on ``pp``
    stages of ``vpp`` model chunks each: ``m`` slots of ``slot`` seconds (the last stage's
    micro-batch, ``last_extra`` of it its output layer and loss) plus the bubble."""
    bubble = (pp - 1) / vpp * (slot - np.where(pp > 1, last_extra, 0.0))
    return m * slot + bubble, bubble


def uncombined_p2p(hop: np.ndarray, last_extra: np.ndarray, uncombined: bool) -> np.ndarray:
    """Seconds per micro-batch that separately issued blocking exchanges add to the slot.

    Megatron-LM pairs a stage's send with its receive in one exchange
    (``send_forward_recv_backward``); DeepSpeed's ``TrainSchedule`` issues ``SendActivation``
    and ``RecvGrad`` (and ``RecvActivation``, ``SendGrad``) as blocking calls of their own in
    each step (microsoft/DeepSpeed@195563a2 ``deepspeed/runtime/pipe/schedule.py``).  Replayed
    op by op (``tests/planner/deepspeed_schedule.py``) the schedule then exposes two more
    exchanges per micro-batch than the ``2 hop`` of the slot, less the last stage's extra work
    (output layer and loss), which stalls its neighbours anyway: ``max(0, 2 hop - last)``."""
    if not uncombined:
        return np.zeros_like(hop)
    return np.maximum(0.0, 2.0 * hop - last_extra)


def partitioned_p2p(
    hw: Hardware,
    act: np.ndarray,
    tp: np.ndarray,
    gather: np.ndarray,
    msg_lat: np.ndarray,
    gather_copy: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(seconds per message, seconds per micro-batch) that DeepSpeed's partitioned pipeline
    p2p adds to Megatron-LM 2021's scatter/gather exchange of an ``act``-byte activation.

    With tensor parallelism the engine sends outputs and input gradients as a
    ``PartitionedTensor`` (``is_pipe_partitioned`` and ``is_grad_partitioned`` =
    ``is_model_parallel``; microsoft/DeepSpeed@195563a2 ``deepspeed/runtime/pipe/engine.py``):
    a message is two blocking sends, the partition's metadata and its 1/t slice (one more
    latency, ``msg_lat``), and the receiver rebuilds the tensor with ``PartitionedTensor.full``
    (``deepspeed/runtime/utils.py``): ``torch.zeros`` of the full tensor (a write), a list
    all-gather over the tensor-parallel group, then ``.clone()`` of the result (read + write).
    Per micro-batch, the sending stage also rebuilds its own partitioned output before its
    backward (``_exec_backward_pass``: ``part_output.full()``), a third gather with the same
    passes; slicing clones the 1/t part (``_partition_tensor``: read + write) of both messages,
    and the receiver clones the received activation slice twice (``_exec_recv_activations``,
    ``_exec_forward_pass``).  ``gather`` is the tensor-parallel all-gather of ``act``,
    ``gather_copy`` whether its list output costs a copy-out (``Engine.p2p_gather_copy``)."""
    full = hw.stream_time(3.0 * act)  # zeros + clone
    copy_out = hw.stream_time(2.0 * act) if gather_copy else np.zeros_like(act)
    slices = hw.stream_time(8.0 * act / tp)  # 2 sender slices + 2 receiver clones, r + w
    sharded = tp > 1
    per_msg = np.where(sharded, msg_lat + full, 0.0)
    per_mb = np.where(sharded, gather + copy_out + full + slices, 0.0)
    return per_msg, per_mb
