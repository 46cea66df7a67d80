"""Value types of the scheduling core: node specs, requests, placements and rejections.

Units follow the FGD artifact (Weng et al., USENIX ATC'23): CPU in milli-cores, memory in MiB,
GPU in *milli-GPU* (1000 = one whole GPU).  A request with ``num_gpu == 1`` and
``gpu_milli < 1000`` is a GPU-sharing request (it takes part of one GPU); any other GPU request
takes ``num_gpu`` whole GPUs on one node.
"""

from __future__ import annotations

from dataclasses import dataclass

MILLI = 1000
"""Milli-GPU in one whole GPU."""


@dataclass(frozen=True)
class NodeSpec:
    """One machine as the inventory describes it (capacities, not current usage)."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpu_count: int
    gpu_model: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` pairs, e.g. ``(("zone", "a"),)``; ``dict(spec.labels)`` to look up."""


@dataclass(frozen=True)
class Request:
    """What one pod (task, replica) asks for.

    ``gpu_milli`` is the share *per GPU*: 1000 for whole GPUs, 1..999 for a fractional share
    (then ``num_gpu`` must be 1).  ``gpu_models`` lists the GPU models the pod may run on;
    empty means any model.
    """

    cpu_milli: int
    memory_mib: int = 0
    num_gpu: int = 0
    gpu_milli: int = 0
    gpu_models: frozenset[str] = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.num_gpu < 0:
            raise ValueError(f"request {self.name!r}: negative resource")
        if self.num_gpu == 0 and self.gpu_milli != 0:
            raise ValueError(f"request {self.name!r}: gpu_milli without num_gpu")
        if self.num_gpu > 0 and not 0 < self.gpu_milli <= MILLI:
            raise ValueError(f"request {self.name!r}: gpu_milli must be in 1..1000")
        if self.num_gpu > 1 and self.gpu_milli != MILLI:
            raise ValueError(f"request {self.name!r}: a multi-GPU request takes whole GPUs")

    @property
    def is_share(self) -> bool:
        """True for a fractional request that shares one GPU with others."""
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def total_gpu_milli(self) -> int:
        """Milli-GPU asked in total (``num_gpu * gpu_milli``)."""
        return self.num_gpu * self.gpu_milli

    @property
    def shape(self) -> tuple[int, int, int, frozenset[str]]:
        """The fields that scheduling decisions depend on (name and memory aside)."""
        return (self.cpu_milli, self.gpu_milli, self.num_gpu, self.gpu_models)

    def affinity_tag(self) -> int:
        """GpuClustering's pod class: -1 no GPU, 0 GPU-sharing, k for k whole GPUs."""
        if self.num_gpu == 0:
            return -1
        return 0 if self.is_share else self.num_gpu


@dataclass(frozen=True)
class Placement:
    """A decision that places ``request`` on node index ``node`` using GPU indices ``gpus``."""

    request: Request
    node: int
    node_name: str
    gpus: tuple[int, ...] = ()


@dataclass(frozen=True)
class Rejection:
    """A decision not to place ``request``; ``reason`` is one sentence a user can read."""

    request: Request
    reason: str
    code: str = "unschedulable"


Decision = Placement | Rejection
