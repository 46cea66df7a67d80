"""Collective communication time: NCCL ring collectives on the link a group spans.

All-reduce costs ``2 (n-1)/n * S / B`` and all-gather / reduce-scatter ``(n-1)/n * S / B``
(Thakur et al. 2005, ring algorithms), plus NCCL's own latency model.  ``B`` is the chip's
intra-node interconnect when the group fits in a node, else the inter-node network as NCCL's
ring channels reach it (one rail NIC per group member on each node).  Vectorized over planner
candidates.
"""

from __future__ import annotations

import numpy as np

from gpuwise.planner.efficiency import NET_FRACTION
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.parallel import Setup

#: NCCL's own cost model for ring collectives with the Simple protocol (the one it picks for
#: large messages; NVIDIA/nccl ``src/graph/tuning.cc``): a fixed launch latency plus a
#: per-step hop latency, ``2 (n-1)`` steps for all-reduce and ``n-1`` for all-gather /
#: reduce-scatter.  Hop latency 3.4 us over NVLink, 9.6 us over the network.
LAT_BASE_S = 8.4e-6
LAT_INTRA_S = 3.4e-6
LAT_INTER_S = 9.6e-6


def link(
    hw: Hardware,
    setup: Setup,
    span: np.ndarray,
    stride: np.ndarray | None = None,
    gather: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(bandwidth GB/s, per-step hop latency s) for a group spanning ``span`` consecutive GPUs.

    ``gather``: the rate of an all-gather or reduce-scatter (``Hardware.gather_gbs``, measured
    apart from the all-reduce on some NVLink generations), else of an all-reduce.

    Across nodes a ring runs one NCCL channel per NIC it can reach: ``NET n -> GPU a -> .. ->
    GPU x -> NET m``, each channel taking its bandwidth from one NIC (NVIDIA/nccl
    src/graph/search.cc @01afd20a, ``ncclTopoSearchRecNet`` and its "Search Patterns"), so a
    group with ``g`` members on each node -- ranks ``stride`` apart, the node's other
    ``stride`` groups running on the other NICs at the same time -- moves its inter-node bytes
    over ``g`` rail NICs, up to the NVLink rate (8 x 200 Gb/s DGX A100 nodes: 192 GB/s bus
    bandwidth, NVIDIA/nccl issue #812).  ``stride=None``: one member per node.
    """
    intra = span <= setup.gpus_per_node
    members = 1 if stride is None else np.maximum(1, setup.gpus_per_node // stride)
    nvlink = hw.gather_gbs if gather else hw.link_gbs
    net = np.minimum(setup.net_gbs_per_gpu * NET_FRACTION * members, nvlink)
    bw = np.where(intra, nvlink, net)
    lat = np.where(intra, LAT_INTRA_S, LAT_INTER_S)
    return bw, lat


def node_links(
    hw: Hardware, setup: Setup, n: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(GB/s, hop latency) of the intra-node link and of one GPU's own NIC, for ``n``
    candidates: :func:`link` for a group inside a node and for one spanning two."""
    ones = np.ones(n)
    return link(hw, setup, ones), link(hw, setup, ones + setup.gpus_per_node)


def ring_allreduce(
    nbytes: np.ndarray, n: np.ndarray, bw: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Ring all-reduce: ``2 (n-1)/n * S / B`` plus ``2 (n-1)`` hop latencies."""
    steps = 2.0 * (n - 1)
    return np.where(n > 1, steps / n * nbytes / (bw * 1e9) + LAT_BASE_S + steps * lat, 0.0)


def ring_gather(nbytes: np.ndarray, n: np.ndarray, bw: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """All-gather or reduce-scatter of ``nbytes`` (the full, unsharded size)."""
    steps = n - 1.0
    return np.where(n > 1, steps / n * nbytes / (bw * 1e9) + LAT_BASE_S + steps * lat, 0.0)


def gather_bytes(nbytes: np.ndarray, n: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """The bandwidth term alone of :func:`ring_gather` (its latency does not depend on the size)."""
    return np.where(n > 1, (n - 1.0) / n * nbytes / (bw * 1e9), 0.0)
