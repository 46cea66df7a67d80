"""gpuwise scheduling core: one piece of decision code for simulators and the control plane.

No I/O, no clock, no global state: an immutable snapshot and a request go in, a decision comes
out.  Randomness comes only from the ``numpy.random.Generator`` you pass.

Quick start::

    import numpy as np
    from gpuwise.sched import (ClusterSnapshot, NodeSpec, Request, Placement, Rejection,
                               WorkloadMix, get_policy)

    snap = ClusterSnapshot.from_nodes([
        NodeSpec("n0", cpu_milli=96_000, memory_mib=786_432, gpu_count=8, gpu_model="V100M32"),
        NodeSpec("n1", cpu_milli=64_000, memory_mib=262_144, gpu_count=2, gpu_model="T4"),
    ])
    req = Request(cpu_milli=8_000, memory_mib=16_384, num_gpu=1, gpu_milli=500,
                  gpu_models=frozenset({"T4"}), name="pod-1")
    mix = WorkloadMix.from_requests(all_requests_of_the_workload)   # needed by "fgd"
    policy = get_policy("fgd")
    rng = np.random.default_rng(42)
    d = policy.decide(snap, req, rng, mix)
    if isinstance(d, Placement):
        snap = snap.place(d)          # reserve; snap.release(d) undoes it (unreserve)
    else:
        print(d.code, d.reason)       # e.g. "fragmented: 12 nodes have 8 GPUs free in total..."

Units: CPU milli-cores, memory MiB, GPU milli-GPU (1000 = one GPU).  A request with
``num_gpu == 1 and gpu_milli < 1000`` shares one GPU; any other GPU request takes ``num_gpu``
whole GPUs on one node.  ``gpu_models`` (frozenset, empty = any) restricts the GPU model.

Types (``gpuwise.sched.types``)
    ``NodeSpec(name, cpu_milli, memory_mib, gpu_count, gpu_model="", labels=())`` (labels:
    ``(key, value)`` pairs);
    ``Request(cpu_milli, memory_mib=0, num_gpu=0, gpu_milli=0, gpu_models=frozenset(),
    name="")`` (``.is_share``, ``.total_gpu_milli``, ``.shape``);
    ``Placement(request, node, node_name, gpus)`` -- ``node`` is the row in the snapshot,
    ``gpus`` the GPU indices on it; ``Rejection(request, reason, code)`` -- ``reason`` is one
    sentence for a user, ``code`` one of ``no-model, too-big, no-share, fragmented, no-gpus,
    host``; ``Decision = Placement | Rejection``.

Snapshot (``gpuwise.sched.snapshot.ClusterSnapshot``)
    ``ClusterSnapshot.from_nodes(specs)``; read-only numpy arrays, one row per node:
    ``cpu_free, mem_free, cpu_capacity, mem_capacity, gpu_count, gpu_free`` (N x G milli-GPU
    free per GPU, 0 beyond ``gpu_count``), ``model_index`` (into ``model_vocab``), ``models``,
    ``names``, ``labels``, ``pod_classes``.  ``place(p)`` / ``release(p)`` return a new
    snapshot (ValueError if ``p`` does not fit / was not placed) -- O(N) copy, cheap;
    ``used_gpu_milli``, ``total_gpu_milli``, ``total_gpus``, ``node_index(name)``.
    ``derived(key, fn)`` memoizes per-node values and recomputes only changed rows.

Pipeline
    filter: ``filters.feasible(snap, req) -> bool mask``; ``filters.explain(snap, req) ->
    (code, reason)``.  score: plugins with ``score(ctx, nodes) -> ScoreOutput(scores,
    gpu_choice)`` (``plugin.ScorePlugin``); select: ``gpusel.best_fit / random_fit /
    from_hint``; reserve/unreserve: ``snap.place`` / ``snap.release``; gangs:
    ``policy.place_gang(policy, snap, requests, rng, mix)`` places all or none.

Policies (``gpuwise.sched.policies``)
    ``get_policy(name) -> Policy``, ``policy_names()``; reference policies ``random, dotprod,
    gpu-clustering, gpu-packing, best-fit, fgd`` (FGD artifact definitions), plus gpuwise's own
    ``fgd-cpu`` (FGD + expected GPU stranded by CPU exhaustion; 11 % fewer idle GPUs than FGD
    on the openb default trace at 130 % load).
    ``Policy.decide(snap, req, rng, mix=None, tie_rank=None) -> Decision``; ``needs_mix`` says
    whether it needs the ``WorkloadMix`` (typical pods) -- pass the same mix for a whole run.
    Equal top scores go to the node with the lowest ``tie_rank`` when given (the FGD artifact
    uses a fixed random node order per run; its published numbers depend on it), else to a
    uniformly random one.

Whole-GPU gangs (``gpuwise.sched.index``, ``gang``, ``shortcut``) -- for simulators and
control planes whose jobs take whole GPUs and whose CPU/memory are not modelled
    ``WholeGpuIndex([(name, model, gpus, up), ...], track_snapshot=False)``: free GPUs per
    node bucketed per model by free count; ``take/give`` (journalled), ``mark/commit/
    rollback``, ``copy``, ``set_up``; ``holds(model, g)``; ``.snapshot`` a
    ``ClusterSnapshot`` kept in step when tracked (policies that score arrays need it).
    ``place_whole_gang(policy, index, g, model, spread, rng, mix=None) -> list[Placement] |
    Rejection``: one node when one holds the gang, else (``spread``) the fewest nodes, each
    member placed by ``policy``; ``gang_nodes(Chooser(policy, rng, mix), index, g, model,
    spread)`` the same as ``(node, GPUs)`` pairs or None (the fast path simulators use);
    ``why_not`` the ``explain`` code and sentence; ``split_sizes`` the fewest-nodes split.
    ``shortcut.top_nodes(policy)``: policies whose winners can be read off the index
    (best-fit) skip scoring; checked against ``decide`` in ``tests/sched/test_gang.py``.

Fragmentation (``gpuwise.sched.frag``)
    ``node_frag(snap, mix)`` per-node expected fragment (milli-GPU);
    ``cluster_frag_milli(snap, mix)``.
"""

from __future__ import annotations

from gpuwise.sched.filters import explain, feasible
from gpuwise.sched.frag import cluster_frag_milli, node_frag
from gpuwise.sched.gang import Chooser, gang_nodes, place_whole_gang, split_sizes, why_not
from gpuwise.sched.index import WholeGpuIndex
from gpuwise.sched.mix import WorkloadMix
from gpuwise.sched.policies import REFERENCE_POLICIES, get_policy, policy_names
from gpuwise.sched.policy import Policy, place_gang
from gpuwise.sched.snapshot import ClusterSnapshot
from gpuwise.sched.types import MILLI, Decision, NodeSpec, Placement, Rejection, Request

__all__ = [
    "MILLI", "REFERENCE_POLICIES", "Chooser", "ClusterSnapshot", "Decision", "NodeSpec",
    "Placement", "Policy", "Rejection", "Request", "WholeGpuIndex", "WorkloadMix",
    "cluster_frag_milli", "explain", "feasible", "gang_nodes", "get_policy", "node_frag",
    "place_gang", "place_whole_gang", "policy_names", "split_sizes", "why_not",
]
