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
"""

from __future__ import annotations

import numpy as np


def pipeline_time(
    m: np.ndarray, pp: np.ndarray, vpp: np.ndarray, slot: np.ndarray, last_extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(seconds of one schedule run, of which bubble) for ``m`` micro-batches on ``pp``
    stages of ``vpp`` model chunks each: ``m`` slots of ``slot`` seconds (the last stage's
    micro-batch, ``last_extra`` of it its output layer and loss) plus the bubble."""
    bubble = (pp - 1) / vpp * (slot - np.where(pp > 1, last_extra, 0.0))
    return m * slot + bubble, bubble
