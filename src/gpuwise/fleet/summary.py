"""Fleet totals: per GPU type and overall (nodes, GPUs, memory, dense BF16 compute, power)."""

from __future__ import annotations

from dataclasses import dataclass

from gpuwise.catalog import get_accelerator, resolve_name
from gpuwise.fleet.model import Fleet


@dataclass(frozen=True)
class TypeTotals:
    gpu_type: str
    nodes: int
    gpus: int
    memory_gib: float | None  # None for opaque types with no observed memory
    bf16_pflops: float | None  # dense BF16 (FP16 on chips without BF16); None if opaque
    kw: float | None  # board power (TDP)
    known: bool
    source_names: tuple[str, ...] = ()  # how the input spelled it, when not the catalog name


@dataclass(frozen=True)
class FleetTotals:
    name: str
    nodes: int
    gpu_nodes: int
    gpus: int
    by_type: tuple[TypeTotals, ...]
    memory_gib: float
    bf16_pflops: float
    kw: float
    states: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "nodes": self.nodes,
            "gpus": self.gpus,
            "by_type": {
                t.gpu_type: {
                    "nodes": t.nodes,
                    "gpus": t.gpus,
                    "memory_gib": t.memory_gib,
                    "bf16_pflops": t.bf16_pflops,
                    "kw": t.kw,
                    "known": t.known,
                    "source_names": list(t.source_names),
                }
                for t in self.by_type
            },
            "memory_gib": self.memory_gib,
            "bf16_pflops": self.bf16_pflops,
            "kw": self.kw,
            "states": self.states,
        }


def summarize(fleet: Fleet) -> FleetTotals:
    """Totals per GPU type (most GPUs first) and for the whole fleet.

    Whole-fleet memory/compute/power add up the types the catalog knows; opaque types count
    in ``gpus`` but contribute no PFLOP/s (unknown), and memory only where it was observed.
    """
    by_type: list[TypeTotals] = []
    for gpu_type in fleet.gpu_types():
        nodes = [n for n in fleet.nodes if n.gpu_type == gpu_type and n.gpus > 0]
        gpus = sum(n.gpus for n in nodes)
        raw = tuple(sorted({n.labels["model"] for n in nodes if "model" in n.labels}))
        if resolve_name(gpu_type) is not None and gpu_type not in fleet.opaque_types:
            acc = get_accelerator(gpu_type)
            by_type.append(TypeTotals(
                gpu_type, len(nodes), gpus, round(gpus * acc.memory_gib, 1),
                round(gpus * acc.dense_bf16_tflops / 1000, 3), round(gpus * acc.tdp_w / 1000, 2),
                True, raw,
            ))
        else:
            observed = [n for n in nodes if n.gpu_memory_mib is not None]
            mem = (
                round(sum(n.gpus * (n.gpu_memory_mib or 0) for n in observed) / 1024, 1)
                if observed else None
            )
            by_type.append(TypeTotals(gpu_type, len(nodes), gpus, mem, None, None, False, raw))
    states: dict[str, int] = {}
    for n in fleet.nodes:
        states[n.state] = states.get(n.state, 0) + 1
    return FleetTotals(
        name=fleet.name,
        nodes=len(fleet.nodes),
        gpu_nodes=sum(1 for n in fleet.nodes if n.gpus > 0),
        gpus=fleet.total_gpus,
        by_type=tuple(by_type),
        memory_gib=round(sum(t.memory_gib or 0.0 for t in by_type), 1),
        bf16_pflops=round(sum(t.bf16_pflops or 0.0 for t in by_type), 3),
        kw=round(sum(t.kw or 0.0 for t in by_type), 2),
        states=states,
    )
