"""Fleet inventory: what the organization owns.

API
---
- ``load_fleet(source, gpus_per_node=None) -> Fleet``: a gpuwise YAML file, an Alibaba openb
  node CSV, a folder (or one file) of ``nvidia-smi --query-gpu=index,uuid,name,memory.total
  --format=csv`` captures, ``kubectl get nodes -o json`` output, or a shorthand like
  ``36xV100,36xP100,36xK80`` (nodes of up to 8 GPUs).
- ``Fleet.nodes: tuple[Node, ...]``; ``Node`` has ``name, gpu_type, gpus, cpu_milli,
  memory_mib, labels, nvlink_domain, state, gpu_memory_mib``. ``gpu_type`` is a canonical
  catalog name, an opaque name (``Fleet.opaque_types``) or ``None`` for CPU-only nodes.
- ``summarize(fleet) -> FleetTotals``: per-type and overall totals.
"""

from __future__ import annotations

from gpuwise.fleet.loader import FORMATS, detect_format, fleet_from_spec, load_fleet
from gpuwise.fleet.model import Fleet, Node, NodeState
from gpuwise.fleet.summary import FleetTotals, TypeTotals, summarize

__all__ = [
    "FORMATS",
    "Fleet",
    "FleetTotals",
    "Node",
    "NodeState",
    "TypeTotals",
    "detect_format",
    "fleet_from_spec",
    "load_fleet",
    "summarize",
]
