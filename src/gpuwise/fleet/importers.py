"""Fleet importers for what a cluster already has: Alibaba openb node lists, captured
``nvidia-smi`` output (one CSV per host) and ``kubectl get nodes -o json``."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpuwise.catalog import resolve_name
from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.fleet.model import Fleet, Node
from gpuwise.fleet.units import parse_cpu_milli, parse_memory_mib

OPENB_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
SMI_COLUMNS = ("index", "uuid", "name", "memory.total")
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"


def _gpu_type(raw: str, opaque: set[str]) -> str:
    """Catalog name when known; otherwise keep the name as an opaque type."""
    canonical = resolve_name(raw)
    if canonical is None:
        opaque.add(raw)
        return raw
    return canonical


def _int_field(path: Path, line: int, row: dict[str, str], field: str) -> int:
    text = (row.get(field) or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise GpuwiseError(
            f"{path}:{line}: {field}: expected a whole number, got {text!r}"
        ) from None
    if value < 0:
        raise GpuwiseError(f"{path}:{line}: {field}: must not be negative, got {value}")
    return value


def _check_header(path: Path, header: Sequence[str] | None, wanted: tuple[str, ...]) -> None:
    missing = [c for c in wanted if c not in (header or [])]
    if missing:
        got = ",".join(header or []) or "nothing"
        hint = did_you_mean(missing[0], list(header or []))
        raise GpuwiseError(
            f"{path}:1: missing column {missing[0]!r}{hint}: expected header "
            f"{','.join(wanted)}, got {got}"
        )


def load_openb_nodes(path: Path) -> Fleet:
    """Alibaba openb node list: ``sn,cpu_milli,memory_mib,gpu,model``.

    Undisclosed models (G1/G2/G3) become opaque GPU types; rows with 0 GPUs are CPU nodes.
    """
    nodes: list[Node] = []
    opaque: set[str] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        _check_header(path, reader.fieldnames, OPENB_COLUMNS)
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise GpuwiseError(f"{path}:{line}: too many fields (expected 5)")
            gpus = _int_field(path, line, row, "gpu")
            model = (row["model"] or "").strip()
            if gpus > 0 and not model:
                raise GpuwiseError(f"{path}:{line}: model: a node with {gpus} GPUs needs a model")
            gpu_type = _gpu_type(model, opaque) if gpus else None
            nodes.append(
                Node(
                    name=(row["sn"] or "").strip() or f"node-{line}",
                    gpu_type=gpu_type,
                    labels={"model": model} if model and model != gpu_type else {},
                    gpus=gpus,
                    cpu_milli=_int_field(path, line, row, "cpu_milli"),
                    memory_mib=_int_field(path, line, row, "memory_mib"),
                )
            )
    if not nodes:
        raise GpuwiseError(f"{path}: no nodes (the file has a header but no rows)")
    return Fleet(name=path.stem, nodes=tuple(nodes), opaque_types=tuple(sorted(opaque)))


def load_nvidia_smi(paths: list[Path], name: str) -> Fleet:
    """One ``nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv`` capture per
    host; the host name is the file name without its extension."""
    nodes: list[Node] = []
    opaque: set[str] = set()
    for path in sorted(paths):
        by_type: dict[str, list[int]] = {}
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, skipinitialspace=True))
        if not rows:
            raise GpuwiseError(f"{path}:1: empty file (expected nvidia-smi CSV output)")
        header = [h.strip().split(" [")[0] for h in rows[0]]
        _check_header(path, header, SMI_COLUMNS)
        col = {h: i for i, h in enumerate(header)}
        for line, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise GpuwiseError(
                    f"{path}:{line}: expected {len(header)} fields, got {len(row)}"
                )
            gpu_type = _gpu_type(row[col["name"]].strip(), opaque)
            mem_text = row[col["memory.total"]].strip().replace(" ", "")
            try:
                mem = parse_memory_mib(mem_text if mem_text[-1:].isalpha() else mem_text + "MiB")
            except ValueError:
                raise GpuwiseError(
                    f"{path}:{line}: memory.total: expected e.g. '81920 MiB', got {mem_text!r}"
                ) from None
            by_type.setdefault(gpu_type, []).append(mem)
        if not by_type:
            raise GpuwiseError(f"{path}: no GPUs listed")
        for gpu_type, mems in by_type.items():
            host = path.stem if len(by_type) == 1 else f"{path.stem}/{gpu_type}"
            nodes.append(
                Node(name=host, gpu_type=gpu_type, gpus=len(mems), gpu_memory_mib=min(mems))
            )
    return Fleet(name=name, nodes=tuple(nodes), opaque_types=tuple(sorted(opaque)))


def load_kubectl_nodes(path: Path) -> Fleet:
    """``kubectl get nodes -o json``: GPUs from ``status.capacity["nvidia.com/gpu"]``, the
    model from the GPU feature discovery label ``nvidia.com/gpu.product``."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise GpuwiseError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise GpuwiseError(f"{path}: expected a NodeList with an 'items' list")
    nodes: list[Node] = []
    opaque: set[str] = set()
    for i, item in enumerate(items):
        nodes.append(_kube_node(path, i, item, opaque))
    return Fleet(name=path.stem, nodes=tuple(nodes), opaque_types=tuple(sorted(opaque)))


def _kube_node(path: Path, i: int, item: Any, opaque: set[str]) -> Node:
    where = f"{path}: items[{i}]"
    meta = item.get("metadata", {}) if isinstance(item, dict) else {}
    name = meta.get("name")
    if not name:
        raise GpuwiseError(f"{where}.metadata.name: missing")
    labels: dict[str, str] = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    status = item.get("status", {})
    capacity = status.get("capacity", {})
    try:
        gpus = int(capacity.get(GPU_RESOURCE, 0))
        cpu = parse_cpu_milli(str(capacity["cpu"])) if "cpu" in capacity else None
        mem = parse_memory_mib(str(capacity["memory"])) if "memory" in capacity else None
    except (ValueError, TypeError) as exc:
        raise GpuwiseError(f"{where}.status.capacity: {exc}") from None
    product = labels.get(GPU_PRODUCT_LABEL)
    if gpus and not product:
        raise GpuwiseError(
            f"{where}.metadata.labels: a node with {GPU_RESOURCE}={gpus} needs the "
            f"{GPU_PRODUCT_LABEL!r} label (set by NVIDIA GPU feature discovery)"
        )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions", [])
    )
    state = "drained" if item.get("spec", {}).get("unschedulable") else "up"
    if status.get("conditions") and not ready:
        state = "down"
    return Node(
        name=name, gpu_type=_gpu_type(product, opaque) if gpus and product else None, gpus=gpus,
        cpu_milli=cpu, memory_mib=mem, labels=labels, state=state,
        nvlink_domain=labels.get("nvidia.com/gpu.clique"),
    )
