"""Candidate pre-filters: which nodes a policy's scorer can make win, read off the index.

``Policy.decide`` scores every feasible node with numpy, which costs tens of microseconds
per decision even when the answer is obvious.  For whole-GPU requests on a
:class:`~gpuwise.sched.index.WholeGpuIndex` (CPU and memory not modelled) some scorers'
winners can be read directly off the index's free-count buckets.  A *top-nodes* function
returns the set of nodes that all reach the top score (the core then breaks the tie by
node order, as ``decide`` does with ``tie_rank``), or ``None`` when it cannot say and
every feasible node must be scored.  ``tests/sched/test_gang.py`` checks each one against
``Policy.decide`` on the index's tracked snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from gpuwise.sched.index import WholeGpuIndex
from gpuwise.sched.policy import Policy
from gpuwise.sched.scores import BestFitScore

TopNodes = Callable[[WholeGpuIndex, str, int], Collection[int] | None]

MAX_EXACT_GPUS = 64
"""Widest node (GPUs) for which :func:`best_fit_top` is exact.  BestFit's score moves
6.25 points per free GPU before its integer min-max normalization
(``(s - lo) * 100 // (hi - lo)``), which keeps distinct free counts apart while
``hi - lo <= 600``, i.e. for nodes of up to 95 GPUs."""


def best_fit_top(index: WholeGpuIndex, model: str, g: int) -> Collection[int] | None:
    """BestFit's winners: the nodes with the smallest free count that still holds ``g``.

    With CPU identical on every node (not modelled), BestFit's leftover
    ``0.5 (cpu_free - cpu) / 128000 + 0.5 (gpu_free - gpu) / 8000`` differs between nodes
    only by their free GPUs, so the least free count that fits scores highest, and every
    node with that count scores the same.
    """
    b = index.buckets.get(model)
    if b is None or len(b) - 1 > MAX_EXACT_GPUS:
        return None
    for k in range(max(g, 1), len(b)):
        if b[k]:
            return b[k]
    return ()


_TOP: dict[type, TopNodes] = {BestFitScore: best_fit_top}


def top_nodes(policy: Policy) -> TopNodes | None:
    """The top-nodes function of ``policy`` (a single scorer that declares one), else None."""
    if len(policy.scorers) != 1 or policy.scorers[0][1] <= 0:
        return None
    return _TOP.get(type(policy.scorers[0][0]))
