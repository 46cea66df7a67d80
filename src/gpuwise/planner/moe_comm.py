"""Expert-parallel token dispatch and combine (MoE all-to-all), seconds per micro-batch.

Two implementations (``Engine.ep_dispatch``):

* ``nccl``: an all-to-all over the EP group, every routed copy of a token (``top_k`` per token,
  ``(ep-1)/ep`` of them remote).  NCCL runs an all-to-all as one grouped send/receive per peer,
  each on the transport that reaches that peer: NVLink within a node, the GPU's NIC across
  nodes.  NCCL's maintainers explain (NVIDIA/nccl-tests issue #267) that an all-to-all runs at
  one NIC's rate, since it cannot spread a GPU's traffic over several NICs, and that its
  reported bandwidth averages over all the p2p transfers, some of which cross NVLink.  So the
  copies for peers on other nodes go through the GPU's own NIC while the on-node peers' copies
  cross NVLink at the same time, and the slower of the two sets the time
  (:func:`nccl_alltoall_time`).
* ``deepep``: DeepEP's normal (high-throughput) kernels when the EP group spans nodes
  (deepseek-ai/DeepEP V1, docs/legacy.md "Normal kernels with NVLink and RDMA forwarding"):
  a token crosses the network once per destination *node* and is forwarded from there to that
  node's GPUs over NVLink, so the RDMA bytes per token are
  ``nodes_per_token * hidden * 2`` rather than ``top_k`` copies.  The rate is DeepEP's published
  "bottleneck bandwidth", which its test divides into exactly these bytes: ``tests/
  test_internode.py`` counts ``num_rdma_token_sent`` as the distinct destination nodes of each
  token (its own node included) times ``hidden * 2`` and reports ``bytes / t``.  Within one node
  (EP group <= a node) DeepEP's NVLink kernels were measured on H800 only; the planner keeps the
  NCCL charge there.
"""

from __future__ import annotations

import math

import numpy as np

from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Candidates, Setup

#: DeepEP V1 normal kernels, internode, H800 with one CX7 400 Gb/s InfiniBand NIC per GPU
#: ("~50 GB/s maximum bandwidth"), DeepSeek-V3 pretraining shapes (4096 tokens, hidden 7168,
#: top-8 of 256 experts, top-4 node groups): (dispatch, combine) RDMA "bottleneck bandwidth" in
#: GB/s by EP size, 8 GPUs per node (deepseek-ai/DeepEP docs/legacy.md @0297fc80, the V1 README
#: table: EP 16: 43/43, EP 32: 58/57, EP 64: 51/50).  Keyed by nodes in the EP group; the NIC
#: rate they were measured on is :data:`DEEPEP_NIC_GBS`.
DEEPEP_RDMA_GBS: dict[int, tuple[float, float]] = {
    2: (43.0, 43.0),
    4: (58.0, 57.0),
    8: (51.0, 50.0),
}
DEEPEP_NIC_GBS = 50.0
#: SMs DeepEP's normal kernels run on: ``deep_ep.Buffer.num_sms = 20`` (deepseek-ai/DeepEP
#: ``deep_ep/buffer.py``), Megatron-Core's ``moe_deepep_num_sms`` default 20; the Megatron-Core
#: MoE report (arXiv 2603.07685 sec. 4.2.3) names the same 20 on H100.
DEEPEP_SMS = 20.0
ROUTINGS = ("uniform", "blocks")


def nodes_per_token(experts: int, top_k: int, nodes: int, routing: str) -> float:
    """Mean number of distinct nodes (own node included) a token's ``top_k`` experts live on,
    the ``experts`` split evenly over ``nodes`` nodes (expert ``e`` on node ``e * nodes //
    experts``).

    ``uniform``: ``top_k`` distinct experts drawn uniformly (a router with balanced load and no
    node limit): ``nodes * (1 - P(no expert on a given node))``.  DeepSeek-V3's node-limited
    routing (at most 4 nodes per token, arXiv 2412.19437 sec. 3.2) is not modelled: this is its
    upper bound.
    ``blocks``: NeMo AutoModel's ``FakeBalancedGate`` (nemo_automodel/components/moe/layers.py),
    which gives token ``i`` the consecutive experts ``(i * top_k + j) % experts``, j < top_k.
    """
    if nodes <= 1:
        return 1.0
    if routing == "blocks":
        starts = range(0, experts * top_k, top_k)  # one full period of (i * top_k) % experts
        spans = [
            len({((s + j) % experts) * nodes // experts for j in range(top_k)}) for s in starts
        ]
        return sum(spans) / len(spans)
    per_node = experts // nodes
    miss = math.comb(experts - per_node, top_k) / math.comb(experts, top_k)
    return nodes * (1.0 - miss)


def deepep_rates(nodes: int, net_gbs_per_gpu: float) -> tuple[float, float]:
    """(dispatch, combine) GB/s of DeepEP's internode kernels over ``nodes`` nodes: the published
    rate of the largest measured EP size not above the group's (EP 64 beyond 8 nodes), scaled
    by the run's per-GPU NIC rate over the 50 GB/s NIC it was measured on."""
    key = max((k for k in DEEPEP_RDMA_GBS if k <= nodes), default=min(DEEPEP_RDMA_GBS))
    d, c = DEEPEP_RDMA_GBS[key]
    scale = net_gbs_per_gpu / DEEPEP_NIC_GBS
    return d * scale, c * scale


def deepep_time(
    tok: np.ndarray,
    hidden: int,
    experts: int,
    top_k: int,
    span: np.ndarray,
    gpus_per_node: int,
    net_gbs_per_gpu: float,
    routing: str,
) -> np.ndarray:
    """Seconds of one DeepEP dispatch plus one combine of ``tok`` tokens (16-bit activations)
    for an EP group spanning ``span`` consecutive GPUs (inter-node only; see the module
    docstring)."""
    out = np.zeros(len(tok))
    for s in np.unique(span):
        nodes = int(math.ceil(s / gpus_per_node))
        d, c = deepep_rates(nodes, net_gbs_per_gpu)
        nbytes = tok * nodes_per_token(experts, top_k, nodes, routing) * 2.0 * hidden
        out = np.where(span == s, nbytes / (d * 1e9) + nbytes / (c * 1e9), out)
    return out


def nccl_alltoall_time(
    nbytes: np.ndarray,
    ep: np.ndarray,
    span: np.ndarray,
    gpus_per_node: int,
    nvlink: tuple[np.ndarray, np.ndarray],
    net: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Seconds of one NCCL all-to-all in which each of ``ep`` ranks (spread evenly over
    ``span`` consecutive GPUs) holds ``nbytes`` for all of them, an ``1/ep`` share each.

    ``nvlink`` and ``net`` are the (GB/s, hop latency) of the intra-node link and of one GPU's
    NIC.  The on-node peers' shares cross NVLink while the other nodes' shares leave through the
    GPU's own NIC (see the module docstring); the two run at once and the slower sets the time.
    ``ep / span`` of a node's GPUs belong to the group (all of it when it fits in a node)."""
    on_node = np.clip(gpus_per_node * ep / span, 1.0, ep)
    intra = (on_node - 1.0) / ep * nbytes / (nvlink[0] * 1e9) + nvlink[1]
    inter = (ep - on_node) / ep * nbytes / (net[0] * 1e9) + net[1]
    return np.where(on_node < ep, np.maximum(intra, inter), intra)


def a2a_sm_share(
    hw_sms: float | None, nccl_ctas: float | None, span: np.ndarray, gpus_per_node: int,
    dispatch: str,
) -> np.ndarray:
    """Share of a GPU's ``hw_sms`` SMs the EP all-to-all kernel holds while it runs: DeepEP's
    :data:`DEEPEP_SMS` where it carries the traffic (``dispatch == "deepep"`` and the group spans
    nodes), else NCCL's ``nccl_ctas`` thread blocks; 0 where either count is unknown."""
    nccl = 0.0 if hw_sms is None or nccl_ctas is None else nccl_ctas / hw_sms
    deep = 0.0 if hw_sms is None else DEEPEP_SMS / hw_sms
    inter = (span > gpus_per_node) & (dispatch == "deepep")
    return np.where(inter, deep, nccl)


def ep_alltoall_time(
    model: ModelConfig,
    c: Candidates,
    setup: Setup,
    nvlink: tuple[np.ndarray, np.ndarray],
    net: tuple[np.ndarray, np.ndarray],
    tok: np.ndarray,
    span: np.ndarray | None = None,
) -> np.ndarray:
    """Seconds of one MoE dispatch plus one combine per micro-batch (``Engine.ep_dispatch``) of
    ``tok`` tokens per GPU, given the (GB/s, hop latency) of the intra-node link and of one
    GPU's NIC, for an EP group spanning ``span`` consecutive ranks (by default
    ``tp * cp * ep``): an NCCL all-to-all of each token's ``top_k`` copies
    (:func:`nccl_alltoall_time`), or DeepEP's per-node RDMA copies where the group spans
    nodes."""
    if span is None:
        span = c.tp * c.cp * c.ep
    copies = 2.0 * model.hidden * tok * model.top_k
    a2a = 2.0 * nccl_alltoall_time(copies, c.ep, span, setup.gpus_per_node, nvlink, net)
    eng = setup.engine
    if eng.ep_dispatch == "deepep":
        deep = deepep_time(
            tok, model.hidden, model.experts, model.top_k, span, setup.gpus_per_node,
            setup.net_gbs_per_gpu, eng.moe_routing,
        )
        # the published rates are bytes / kernel time: latency included
        a2a = np.where(span > setup.gpus_per_node, deep, a2a)
    return np.where(c.ep > 1, a2a, 0.0)
