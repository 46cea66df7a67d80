"""Each score plugin on small clusters where the right node is obvious."""

from __future__ import annotations

import numpy as np
import pytest

from gpuwise.errors import GpuwiseError
from gpuwise.sched import ClusterSnapshot, Placement, Rejection, WorkloadMix, get_policy
from gpuwise.sched.frag import node_frag
from gpuwise.sched.policy import place_gang
from tests.sched.helpers import node, occupy, rng, share, whole


def _decide(policy: str, snap: ClusterSnapshot, req: object, mix: WorkloadMix | None = None,
            seed: int = 0) -> Placement:
    d = get_policy(policy).decide(snap, req, rng(seed), mix)  # type: ignore[arg-type]
    assert isinstance(d, Placement), d
    return d


def test_random_only_picks_feasible_nodes() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 2), node("b", 2), node("c", 2)])
    s = occupy(occupy(s, 1, 0, 1000), 1, 1, 1000)  # b full
    picks = {_decide("random", s, whole(1), seed=k).node for k in range(40)}
    assert picks == {0, 2}


def test_best_fit_prefers_the_fullest_node() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 8), node("b", 8), node("c", 8)])
    for g in range(6):
        s = occupy(s, 1, g, 1000)
    assert _decide("best-fit", s, whole(1)).node_name == "b"


def test_dotprod_prefers_node_with_least_alignment() -> None:
    # the pod is GPU-heavy: DotProd puts it where free GPU (the aligned dimension) is smallest
    s = ClusterSnapshot.from_nodes([node("a", 8), node("b", 2)])
    assert _decide("dotprod", s, whole(1, cpu=100)).node_name == "b"


def test_gpu_packing_prefers_shared_gpu_then_used_node() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 4), node("b", 4), node("c", 4)])
    s = occupy(s, 1, 0, 600)  # b has a partly used GPU with 400 free
    s = occupy(s, 2, 0, 1000)  # c is used but has free whole GPUs
    d = _decide("gpu-packing", s, share(300))
    assert (d.node_name, d.gpus) == ("b", (0,))
    assert _decide("gpu-packing", s, whole(2)).node_name == "c"


def test_gpu_clustering_prefers_same_class() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 4), node("b", 4), node("c", 4)])
    s = s.place(Placement(whole(2), 1, "b", (0, 1)))  # b runs a 2-GPU pod
    s = s.place(Placement(share(200), 2, "c", (0,)))  # c runs a sharing pod
    assert _decide("gpu-clustering", s, whole(2)).node_name == "b"
    assert _decide("gpu-clustering", s, share(500)).node_name == "c"


def test_fgd_keeps_whole_gpus_for_whole_gpu_pods() -> None:
    # Typical pods: 1-GPU whole pods.  A 500m share should go on the GPU that is already
    # half used (leaving every other GPU whole), not split a fresh GPU.
    mix = WorkloadMix.from_requests([whole(1)] * 9 + [share(500)], popularity=1.0)
    s = ClusterSnapshot.from_nodes([node("a", 2), node("b", 2)])
    s = occupy(s, 1, 1, 500)  # b: [1000, 500]
    d = _decide("fgd", s, share(500), mix)
    assert (d.node_name, d.gpus) == ("b", (1,))
    assert node_frag(s.place(d), mix).sum() == 0.0


def test_fgd_needs_the_mix() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 2)])
    with pytest.raises(ValueError):
        get_policy("fgd").decide(s, whole(1), rng())


def test_node_frag_hand_computed() -> None:
    # mix: 50 % 1-GPU whole pods, 50 % CPU-only pods.  Node with GPUs [500, 1000]:
    # the GPU pod fits and sees the 500m GPU as fragment; the CPU pod sees all 1500m.
    mix = WorkloadMix.from_requests([whole(1), whole(0)], popularity=1.0)
    s = occupy(ClusterSnapshot.from_nodes([node("a", 2)]), 0, 0, 500)
    assert node_frag(s, mix)[0] == pytest.approx(0.5 * 500 + 0.5 * 1500)


def test_registry_and_unknown_policy() -> None:
    from gpuwise.sched import policy_names

    assert policy_names()[:6] == ["random", "dotprod", "gpu-clustering", "gpu-packing",
                                  "best-fit", "fgd"]
    with pytest.raises(GpuwiseError, match="did you mean best-fit"):
        get_policy("bestfit")


def test_rejection_and_gang_rollback() -> None:
    s = ClusterSnapshot.from_nodes([node("a", 4), node("b", 4)])
    pol = get_policy("best-fit")
    assert isinstance(pol.decide(s, whole(8), rng()), Rejection)
    out = place_gang(pol, s, [whole(4), whole(4), whole(1)], rng())
    assert isinstance(out, Rejection) and out.reason.startswith("gang member 3 of 3")
    ok = place_gang(pol, s, [whole(4), whole(4)], rng())
    assert not isinstance(ok, Rejection)
    snap, placed = ok
    assert snap.used_gpu_milli == 8000 and {p.node for p in placed} == {0, 1}
    assert s.used_gpu_milli == 0
    assert np.array_equal(s.gpu_free[:, :4], np.full((2, 4), 1000))


def test_fgd_cpu_avoids_stranding_gpus_behind_cpu() -> None:
    # Typical pods ask 2 cores per GPU.  A 1-GPU pod with 5 cores fits both nodes and FGD
    # sees no fragment either way (a tie, broken here towards the CPU-poor node "poor"), but
    # on "poor" 3 GPUs would be left with 3 cores: fgd-cpu puts the pod on "rich".
    mix = WorkloadMix.from_requests([whole(1, cpu=2_000)], popularity=1.0)
    s = ClusterSnapshot.from_nodes([node("poor", 4, cpu=8_000), node("rich", 4, cpu=64_000)])
    tie = np.array([0, 1])
    pod = whole(1, cpu=5_000)
    fgd = get_policy("fgd").decide(s, pod, rng(), mix, tie)
    ours = get_policy("fgd-cpu").decide(s, pod, rng(), mix, tie)
    assert isinstance(fgd, Placement) and isinstance(ours, Placement)
    assert (fgd.node_name, ours.node_name) == ("poor", "rich")
