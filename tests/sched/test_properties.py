"""Property tests: no policy ever over-commits a GPU, a node's CPU/memory or breaks a model
constraint, and the same seed gives the same decisions."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuwise.sched import (
    ClusterSnapshot,
    NodeSpec,
    Placement,
    Request,
    WorkloadMix,
    get_policy,
    policy_names,
)

MODELS = ("T4", "V100M32", "G2")

nodes_st = st.lists(
    st.builds(lambda g, m, c, mem: (g, m, c, mem), st.sampled_from([1, 2, 4, 8]),
              st.sampled_from(MODELS), st.integers(4_000, 96_000), st.integers(8_192, 262_144)),
    min_size=1, max_size=6)


@st.composite
def request_st(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(["cpu", "share", "whole"]))
    models = frozenset(draw(st.sets(st.sampled_from(MODELS), max_size=2)))
    cpu = draw(st.integers(0, 40_000))
    mem = draw(st.integers(0, 100_000))
    if kind == "cpu":
        return Request(cpu, mem)
    if kind == "share":
        return Request(cpu, mem, 1, draw(st.integers(50, 999)), models)
    return Request(cpu, mem, draw(st.sampled_from([1, 2, 4, 8])), 1000, models)


def _run(policy: str, specs: list[tuple[int, str, int, int]], reqs: list[Request],
         seed: int) -> tuple[ClusterSnapshot, list[tuple[int, tuple[int, ...]] | None]]:
    snap = ClusterSnapshot.from_nodes(
        [NodeSpec(f"n{i}", c, m, g, mod) for i, (g, mod, c, m) in enumerate(specs)])
    mix = WorkloadMix.from_requests(reqs)
    rng = np.random.default_rng(seed)
    pol = get_policy(policy)
    log: list[tuple[int, tuple[int, ...]] | None] = []
    for r in reqs:
        d = pol.decide(snap, r, rng, mix)
        if isinstance(d, Placement):
            if r.gpu_models:
                assert snap.models[d.node] in r.gpu_models
            snap = snap.place(d)  # raises if anything is over-committed
            log.append((d.node, d.gpus))
        else:
            log.append(None)
    return snap, log


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes_st, st.lists(request_st(), min_size=1, max_size=25),
       st.sampled_from(policy_names()), st.integers(0, 2**16))
def test_no_overcommit_and_deterministic(specs: list[tuple[int, str, int, int]],
                                         reqs: list[Request], policy: str, seed: int) -> None:
    snap, log = _run(policy, specs, reqs, seed)
    assert (snap.gpu_free >= 0).all() and (snap.gpu_free <= 1000).all()
    assert (snap.cpu_free >= 0).all() and (snap.mem_free >= 0).all()
    placed = [r for r, entry in zip(reqs, log, strict=True) if entry is not None]
    assert snap.used_gpu_milli == sum(r.total_gpu_milli for r in placed)
    assert _run(policy, specs, reqs, seed)[1] == log


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes_st, st.lists(request_st(), min_size=1, max_size=20), st.integers(0, 2**16))
def test_incremental_fragmentation_equals_recomputed(specs: list[tuple[int, str, int, int]],
                                                     reqs: list[Request], seed: int) -> None:
    from gpuwise.sched.frag import _stats_rows, node_frag, node_stats

    snap, _ = _run("fgd", specs, reqs, seed)  # every step reuses the parent's memoized rows
    mix = WorkloadMix.from_requests(reqs)
    assert np.array_equal(node_stats(snap, mix), _stats_rows(mix)(snap, None))
    # the same state in a snapshot with no memo at all: everything computed from scratch
    fresh = ClusterSnapshot.from_nodes(
        [NodeSpec(f"n{i}", c, m, g, mod) for i, (g, mod, c, m) in enumerate(specs)])
    fresh = fresh._child(snap.cpu_free.copy(), snap.mem_free.copy(), snap.gpu_free.copy(),
                         snap.pod_classes.copy(), ())
    assert np.allclose(node_frag(snap, mix), node_frag(fresh, mix))
