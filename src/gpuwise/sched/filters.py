"""Filter plugin: which nodes can take a request now, and why none can when none can.

Feasibility follows the FGD artifact's Open-Gpu-Share filter plus Kubernetes' resource fit:
free CPU and memory cover the request; a GPU request needs a node whose GPU model is allowed;
a GPU-sharing request needs one GPU with at least ``gpu_milli`` free; a whole-GPU request needs
``num_gpu`` fully free GPUs on the same node.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gpuwise.sched.snapshot import ClusterSnapshot
from gpuwise.sched.types import MILLI, Request

BoolArray = npt.NDArray[np.bool_]


def gpu_fit(snap: ClusterSnapshot, req: Request) -> BoolArray:
    """Nodes whose GPUs alone (model and free milli-GPU) can take ``req``."""
    if req.num_gpu == 0:
        return np.ones(snap.num_nodes, dtype=bool)
    ok = snap.model_mask(req)
    if req.is_share:
        return ok & (snap.gpu_free >= req.gpu_milli).any(axis=1)
    return ok & ((snap.gpu_free >= MILLI).sum(axis=1) >= req.num_gpu)


def host_fit(snap: ClusterSnapshot, req: Request) -> BoolArray:
    """Nodes with enough free CPU and memory for ``req``."""
    return (snap.cpu_free >= req.cpu_milli) & (snap.mem_free >= req.memory_mib)


def feasible(snap: ClusterSnapshot, req: Request) -> BoolArray:
    """Boolean mask of the nodes that can take ``req`` now."""
    return host_fit(snap, req) & gpu_fit(snap, req)


def describe_models(req: Request) -> str:
    """``"V100M16 or V100M32"`` for a constrained request, ``""`` otherwise."""
    return " or ".join(sorted(req.gpu_models))


def _gpus(n: int, models: str) -> str:
    kind = f"{models} " if models else ""
    return f"{n} {kind}GPU" + ("" if n == 1 else "s")


def _host(req: Request) -> str:
    cores = req.cpu_milli / 1000
    return f"{cores:g} CPU cores and {req.memory_mib / 1024:g} GiB memory"


def gpu_reason(code: str, num_gpu: int, models: str, total: int = 0, holders: int = 0,
               biggest: int = 0) -> str:
    """The sentence :func:`explain` gives for a whole-GPU ``code`` (``no-model``,
    ``too-big``, ``fragmented``, ``no-gpus``): ``models`` as from :func:`describe_models`,
    ``total`` free GPUs of those models on ``holders`` nodes, ``biggest`` the largest node."""
    if code == "no-model":
        return f"no node has {f'GPU model {models}' if models else 'GPUs'}"
    if code == "too-big":
        return f"no node has {_gpus(num_gpu, models)} (the largest has {biggest})"
    if code == "fragmented":
        return (f"fragmented: {holders} nodes have {_gpus(total, models)} "
                f"free in total but none has {num_gpu} on one node")
    return (f"no node with {num_gpu} free {models + ' ' if models else ''}"
            f"GPU{'s' if num_gpu > 1 else ''} ({total} free in the cluster)")


def explain(snap: ClusterSnapshot, req: Request) -> tuple[str, str]:
    """``(code, sentence)`` saying why no node can take ``req`` (call only when none can).

    Codes: ``no-model``, ``too-big``, ``no-share``, ``fragmented``, ``no-gpus``, ``host``.
    """
    models = describe_models(req)
    if req.num_gpu == 0:
        return "host", f"no node has {_host(req)} free"
    model_ok = snap.model_mask(req)
    if not model_ok.any():
        return "no-model", gpu_reason("no-model", req.num_gpu, models)
    biggest = int(snap.gpu_count[model_ok].max())
    if biggest < req.num_gpu:
        return "too-big", gpu_reason("too-big", req.num_gpu, models, biggest=biggest)
    gpu_ok = gpu_fit(snap, req)
    if not gpu_ok.any():
        if req.is_share:
            return "no-share", (f"no {models + ' ' if models else ''}GPU has "
                                f"{req.gpu_milli} milli-GPU free")
        free_whole = (snap.gpu_free >= MILLI).sum(axis=1) * model_ok
        total = int(free_whole.sum())
        holders = int((free_whole > 0).sum())
        code = "fragmented" if total >= req.num_gpu else "no-gpus"
        return code, gpu_reason(code, req.num_gpu, models, total, holders)
    return "host", (f"{int(gpu_ok.sum())} nodes have the GPUs "
                    f"but none also has {_host(req)} free")
