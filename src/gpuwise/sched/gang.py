"""Whole-GPU gangs on a :class:`~gpuwise.sched.index.WholeGpuIndex`: one node, or the fewest.

A gang is ``g`` whole GPUs of one model, all or nothing.  :func:`place_whole_gang` puts it
on one node when some node has ``g`` free (the policy picks which); otherwise, if the gang
may be split (``spread``), it splits it over the *fewest* nodes -- the smallest ``m`` whose
``m`` largest free counts add up to ``g`` (fewer servers, less cross-node traffic) -- and
lets the policy place each member as a request of its own, all or none, as
:func:`gpuwise.sched.policy.place_gang` does.  The first ``m - 1`` members take whole free
counts (the largest left, so any policy can only put each on a node with exactly that
many free); the last, the remainder, goes wherever the policy puts it.

Every node choice is ``Policy.decide``'s: on the index's tracked snapshot, or, for policies
that declare their top nodes (:mod:`gpuwise.sched.shortcut`), read off the index.  Ties go
to the lowest node index.  Nothing here changes the index: the caller reserves the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from gpuwise.sched.filters import gpu_reason
from gpuwise.sched.index import WholeGpuIndex, whole_request
from gpuwise.sched.mix import WorkloadMix
from gpuwise.sched.policy import Policy
from gpuwise.sched.shortcut import TopNodes, top_nodes
from gpuwise.sched.types import Decision, Placement, Rejection


def split_sizes(levels: Iterable[tuple[int, int]], g: int) -> list[int] | None:
    """Member sizes that spread ``g`` GPUs over the fewest nodes, or None if too few are free.

    ``levels``: ``(free count, nodes with that count)`` from the largest count down.  The
    fewest nodes are the ``m`` largest counts with a sum of at least ``g``; the first
    ``m - 1`` members take their whole count and the last takes the rest.
    """
    sizes: list[int] = []
    need = g
    for k, n in levels:
        for _ in range(n):
            if need <= k:
                sizes.append(need)
                return sizes
            sizes.append(k)
            need -= k
    return None


def levels_desc(index: WholeGpuIndex, model: str) -> list[tuple[int, int]]:
    """``(free count, nodes)`` of ``model`` nodes with free GPUs, largest count first."""
    b = index.buckets.get(model, [])
    return [(k, len(b[k])) for k in range(len(b) - 1, 0, -1) if b[k]]


def why_not(index: WholeGpuIndex, g: int, model: str, spread: bool) -> Rejection:
    """Why a gang of ``g`` ``model`` GPUs cannot be placed now, with
    :func:`gpuwise.sched.filters.explain`'s codes and sentences."""
    req = whole_request(g, model)
    if not index.capacity.get(model, 0):
        return Rejection(req, gpu_reason("no-model", g, model), "no-model")
    biggest = index.max_node[model]
    if biggest < g and not spread:
        return Rejection(req, gpu_reason("too-big", g, model, biggest=biggest), "too-big")
    total = index.free_by_model[model]
    holders = sum(n for _, n in levels_desc(index, model))
    code = "fragmented" if total >= g else "no-gpus"
    return Rejection(req, gpu_reason(code, g, model, total, holders), code)


def fits(index: WholeGpuIndex, g: int, model: str, spread: bool) -> bool:
    """Whether :func:`place_whole_gang` would place the gang now (no policy consulted:
    a gang fits exactly when a node holds it, or, spread, when enough GPUs are free)."""
    if index.free_by_model.get(model, 0) < g:
        return False
    return spread or index.holds(model, g)


@dataclass(frozen=True, slots=True)
class Chooser:
    """A policy bound to its random generator and workload mix, with its top-nodes function
    (:mod:`gpuwise.sched.shortcut`) looked up once: what :func:`gang_nodes` decides with."""

    policy: Policy
    rng: np.random.Generator
    mix: WorkloadMix | None = None
    top: TopNodes | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.policy.needs_mix and self.mix is None:
            raise ValueError(f"policy {self.policy.name} needs the workload mix")
        object.__setattr__(self, "top", top_nodes(self.policy))


def decide_whole(policy: Policy, index: WholeGpuIndex, g: int, model: str,
                 rng: np.random.Generator, mix: WorkloadMix | None = None) -> Decision:
    """``policy``'s placement of ``g`` whole ``model`` GPUs on one node, or why not."""
    node = _one_node(Chooser(policy, rng, mix), index, g, model)
    return index.placement(node, g) if node >= 0 else why_not(index, g, model, False)


def _one_node(ch: Chooser, index: WholeGpuIndex, g: int, model: str) -> int:
    """The node the policy puts ``g`` whole ``model`` GPUs on, -1 when none holds them."""
    top = ch.top
    if top is not None:
        winners = top(index, model, g)
        if winners is not None:
            return min(winners) if winners else -1  # tie rank: lowest node index
    if index.free_by_model.get(model, 0) < g or not index.holds(model, g):
        return -1
    snap = index.snapshot
    if snap is None:
        raise ValueError(f"policy {ch.policy.name} scores nodes on a snapshot: build the "
                         "index with track_snapshot=True")
    d = ch.policy.decide(snap, whole_request(g, model), ch.rng, ch.mix, tie_rank=index.rank)
    if isinstance(d, Rejection):  # the index said a node holds it: they disagree
        raise RuntimeError(f"index and snapshot disagree: {d.reason}")
    return d.node


def gang_nodes(ch: Chooser, index: WholeGpuIndex, g: int, model: str, spread: bool
               ) -> list[tuple[int, int]] | None:
    """Where a gang of ``g`` whole ``model`` GPUs goes now, as ``(node, GPUs)`` pairs: one
    node when one holds it, else (if ``spread``) the fewest nodes; ``None`` when it does not
    fit now (:func:`why_not` says why).  The index is left as it was."""
    node = _one_node(ch, index, g, model)
    if node >= 0:
        return [(node, g)]
    if not spread or index.free_by_model.get(model, 0) < g:
        return None
    sizes = split_sizes(levels_desc(index, model), g)
    if sizes is None:
        return None
    mark = index.mark()
    placed: list[tuple[int, int]] = []
    try:
        for k in sizes:
            node = _one_node(ch, index, k, model)
            if node < 0:  # cannot happen: each member fits by construction
                return None
            index.take(node, k)
            placed.append((node, k))
    finally:
        index.rollback(mark)  # the caller reserves; nothing here changes the index
    return placed


def place_whole_gang(policy: Policy, index: WholeGpuIndex, g: int, model: str, spread: bool,
                     rng: np.random.Generator, mix: WorkloadMix | None = None
                     ) -> list[Placement] | Rejection:
    """:func:`gang_nodes` as the core's :class:`Placement` per member (GPU indices as the
    index would take them), or a :class:`Rejection` with the core's code and sentence."""
    got = gang_nodes(Chooser(policy, rng, mix), index, g, model, spread)
    if got is None:
        return why_not(index, g, model, spread)
    mark = index.mark()
    out: list[Placement] = []
    try:
        for node, k in got:
            out.append(index.placement(node, k))
            index.take(node, k)
    finally:
        index.rollback(mark)
    return out
