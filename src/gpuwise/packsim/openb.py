"""Loaders for Alibaba's openb node and pod CSVs (the FGD trace, clusterdata gpu-v2023).

Nodes: ``sn,cpu_milli,memory_mib,gpu,model``.  Pods: ``name,cpu_milli,memory_mib,num_gpu,
gpu_milli`` plus optional ``gpu_spec`` (allowed models separated by ``|``) and other columns,
which are ignored.  Every malformed value ends with a :class:`GpuwiseError` naming the file,
line and field.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.sched.types import MILLI, NodeSpec, Request

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise GpuwiseError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in required:
            if col not in header:
                raise GpuwiseError(f"{path}:1: missing column {col!r}"
                                   f"{did_you_mean(col, header)}; expected {','.join(required)}")
        for row in reader:
            if None in row or any(row.get(c) is None for c in required):
                raise GpuwiseError(f"{path}:{reader.line_num}: expected {len(header)} fields")
            yield reader.line_num, row


def _int(path: Path, line: int, row: dict[str, str], col: str, lo: int = 0,
         hi: int | None = None) -> int:
    raw = row[col].strip()
    try:
        val = int(float(raw)) if raw and float(raw).is_integer() else int(raw)
    except ValueError:
        raise GpuwiseError(f"{path}:{line}: {col}: expected an integer, got {raw!r}") from None
    if val < lo or (hi is not None and val > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise GpuwiseError(f"{path}:{line}: {col}: expected {bound}, got {val}")
    return val


def load_nodes(path: str | Path) -> list[NodeSpec]:
    """Read an openb node list; CPU-only rows (``gpu == 0``) are kept with no model."""
    p = Path(path)
    nodes: list[NodeSpec] = []
    for line, row in _rows(p, NODE_COLUMNS):
        gpus = _int(p, line, row, "gpu")
        model = row["model"].strip()
        if gpus > 0 and not model:
            raise GpuwiseError(f"{p}:{line}: model: a node with {gpus} GPUs needs a GPU model")
        nodes.append(NodeSpec(row["sn"].strip() or f"node-{line}",
                              _int(p, line, row, "cpu_milli"),
                              _int(p, line, row, "memory_mib"), gpus, model if gpus else ""))
    if not nodes:
        raise GpuwiseError(f"{p}: no nodes")
    return nodes


def load_pods(path: str | Path) -> list[Request]:
    """Read an openb pod list as scheduling requests (in file order)."""
    p = Path(path)
    pods: list[Request] = []
    for line, row in _rows(p, POD_COLUMNS):
        num = _int(p, line, row, "num_gpu")
        milli = _int(p, line, row, "gpu_milli", 0, MILLI)
        if num == 0 and milli != 0:
            raise GpuwiseError(f"{p}:{line}: gpu_milli: must be 0 when num_gpu is 0, got {milli}")
        if num > 0 and milli == 0:
            raise GpuwiseError(f"{p}:{line}: gpu_milli: must be 1..1000 when num_gpu > 0")
        if num > 1 and milli != MILLI:
            raise GpuwiseError(f"{p}:{line}: gpu_milli: a pod with {num} GPUs takes whole GPUs "
                               f"(1000), got {milli}")
        spec = (row.get("gpu_spec") or "").strip()
        models = frozenset(m.strip() for m in spec.split("|") if m.strip())
        pods.append(Request(_int(p, line, row, "cpu_milli"), _int(p, line, row, "memory_mib"),
                            num, milli, models, row["name"].strip() or f"pod-{line}"))
    if not pods:
        raise GpuwiseError(f"{p}: no pods")
    return pods
