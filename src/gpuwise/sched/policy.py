"""A policy = filter + weighted score plugins + GPU selector + tie-break; and gang placement.

``Policy.decide(snapshot, request, rng, mix)`` is the whole scheduling cycle for one pod:
filter the nodes (with a readable reason when none fits), sum the weighted plugin scores,
take the best node (ties broken uniformly at random, as Kubernetes' ``selectHost`` does), pick
the GPUs, and return a :class:`Placement` -- it never changes the snapshot.  Reserving is
``snapshot.place(placement)``; unreserving is ``snapshot.release(placement)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gpuwise.sched import gpusel
from gpuwise.sched.filters import explain, feasible
from gpuwise.sched.mix import WorkloadMix
from gpuwise.sched.plugin import Context, GpuSelector, ScorePlugin
from gpuwise.sched.snapshot import ClusterSnapshot, IntArray
from gpuwise.sched.types import Decision, Placement, Rejection, Request


@dataclass(frozen=True)
class Policy:
    """A named configuration of plugins.  ``needs_mix``: scorers read the workload mix."""

    name: str
    description: str
    scorers: tuple[tuple[ScorePlugin, float], ...]
    select_gpus: GpuSelector = gpusel.best_fit
    needs_mix: bool = False

    def decide(self, snapshot: ClusterSnapshot, request: Request, rng: np.random.Generator,
               mix: WorkloadMix | None = None, tie_rank: IntArray | None = None) -> Decision:
        """Place ``request`` on ``snapshot`` or say why not.  Pure apart from ``rng`` draws.

        Ties between equally scored nodes go to the lowest ``tie_rank`` (one integer per node)
        when given, else to a uniformly random one.
        """
        if self.needs_mix and mix is None:
            raise ValueError(f"policy {self.name} needs the workload mix")
        mask = feasible(snapshot, request)
        if not mask.any():
            code, reason = explain(snapshot, request)
            return Rejection(request, reason, code)
        nodes = np.flatnonzero(mask)
        ctx = Context(snapshot, request, mix, rng)
        total = np.zeros(len(nodes))
        hint = None
        for plugin, weight in self.scorers:
            out = plugin.score(ctx, nodes)
            total += weight * out.scores
            if hint is None and out.gpu_choice is not None:
                hint = out.gpu_choice
        best = np.flatnonzero(total == total.max())
        if len(best) == 1:
            pick = int(best[0])
        elif tie_rank is not None:
            pick = int(best[int(np.argmin(tie_rank[nodes[best]]))])
        else:
            pick = int(best[int(rng.integers(len(best)))])
        node = int(nodes[pick])
        gpus = self.select_gpus(ctx, node, int(hint[pick]) if hint is not None else -1)
        return Placement(request, node, snapshot.names[node], gpus)


def place_gang(policy: Policy, snapshot: ClusterSnapshot, requests: Sequence[Request],
               rng: np.random.Generator, mix: WorkloadMix | None = None
               ) -> tuple[ClusterSnapshot, list[Placement]] | Rejection:
    """Place all ``requests`` or none: each is reserved on the snapshot the previous ones
    produced; on the first rejection everything is rolled back (the input snapshot is
    untouched) and that rejection is returned, naming the member that did not fit."""
    state = snapshot
    placed: list[Placement] = []
    for i, req in enumerate(requests):
        d = policy.decide(state, req, rng, mix)
        if isinstance(d, Rejection):
            for p in reversed(placed):  # unreserve, newest first
                state = state.release(p)
            return Rejection(req, f"gang member {i + 1} of {len(requests)}: {d.reason}", d.code)
        state = state.place(d)
        placed.append(d)
    return state, placed
