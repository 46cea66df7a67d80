"""The fleet inventory: what an organization owns, node by node."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NodeState = Literal["up", "drained", "down"]


class Node(BaseModel):
    """One machine. ``gpu_type`` is a catalog name, an opaque name the catalog does not know
    (e.g. Alibaba's undisclosed ``G2``), or ``None`` for a CPU-only node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    gpu_type: str | None
    gpus: int = Field(ge=0)
    cpu_milli: int | None = Field(default=None, ge=0)
    memory_mib: int | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    nvlink_domain: str | None = None
    state: NodeState = "up"
    gpu_memory_mib: int | None = Field(default=None, ge=0)  # per GPU, when observed
    # Scale-out network (RDMA NIC) rate per GPU, Gbit/s per direction (e.g. 400 for one
    # 400G NIC per GPU on HGX nodes); None when unknown.
    network_gbps: float | None = Field(default=None, gt=0)

    @property
    def schedulable(self) -> bool:
        return self.state == "up"


class Fleet(BaseModel):
    """All nodes of an organization (or of one cluster)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "fleet"
    nodes: tuple[Node, ...]
    opaque_types: tuple[str, ...] = ()  # GPU types the catalog does not describe

    @property
    def total_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    def gpu_types(self) -> list[str]:
        """GPU types present, most GPUs first."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            if n.gpu_type is not None and n.gpus > 0:
                counts[n.gpu_type] = counts.get(n.gpu_type, 0) + n.gpus
        return sorted(counts, key=lambda t: (-counts[t], t))
