"""Engine presets for Megatron-DeepSpeed on DeepSpeed's pipeline engine (2021-2022: MT-NLG 530B,
BLOOM-176B), derived from :mod:`gpuwise.planner.parallel`'s ``megatron-2021``.

Megatron-LM's layers, fused kernels and vocab-parallel collectives stay (no flash attention, no
sequence parallelism), but DeepSpeed runs the step: with ``--deepspeed``, ``get_model`` returns
the bare model (no Megatron ``LocalDDP``: no per-parameter gradient hook, no buffer division)
and ``train_step`` is ``model[0].train_batch`` (bigscience-workshop/Megatron-DeepSpeed@0035f06a
megatron/training.py).  The pipeline engine runs ``TrainSchedule`` with one blocking call per
send or receive and ships stage outputs and input gradients as ``PartitionedTensor``s
(``p2p_uncombined``, ``p2p_partitioned``: :mod:`gpuwise.planner.pipeline`), lets autograd
accumulate ``.grad``, and reduces the gradients over DP after the whole schedule
(``ReduceGrads``: no overlap).  Its fp16 ZeRO optimizer casts the 16-bit gradient partition to
fp32 before Adam (``main_grad_copy``, charged on the DP shard) and unscales it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpuwise.planner.engines import Engine


def deepspeed_presets(megatron_2021: Engine) -> dict[str, Engine]:
    """The ``deepspeed-pipe-*`` presets, from the ``megatron-2021`` preset."""
    fp16 = replace(
        megatron_2021,
        name="deepspeed-pipe-2021",
        grad_buffer_scale=False,
        grad_hook_add=False,
        p2p_partitioned=True,
        p2p_uncombined=True,
    )
    # in bf16 with DeepSpeed's BF16_Optimizer (2022, BLOOM-176B): no loss scaler; fp32 gradient
    # copies accumulated every micro-batch and all-reduced in fp32 after the schedule; Adam on
    # the fp32 partition without another copy (``bf16_optimizer.py``: the partition's ``.grad``
    # is a view of the flat fp32 gradients)
    bf16 = replace(
        fp16,
        name="deepspeed-pipe-bf16-2022",
        grad_bytes=4,
        fp16_loss_scaling=False,
        main_grad_copy=False,
        hp_grad_cast_add=True,
        zero1_grad_allreduce=True,
    )
    return {fp16.name: fp16, bf16.name: bf16}
