"""gpuwise's own fleet YAML format (see ``examples/fleet-demo.yaml``).

::

    name: demo
    opaque_types: [G1]            # optional: GPU types the catalog does not know
    nodes:
      - name: h800                # a group: `count` nodes named h800-00, h800-01, ...
        count: 4
        gpus: 8 x H800            # per node; or `total: 32 x H800` with `gpus_per_node: 8`
        cpu: 192                  # cores (or "192000m")
        memory: 2048GiB
        labels: {zone: bj-a, pool: train}
        nvlink: nvswitch          # NVLink/NVSwitch domain: "nvswitch" = one domain per node,
                                  # any other string = a domain shared by the group
        network_gbps: 400         # scale-out NIC rate per GPU, Gbit/s per direction
        state: up                 # up | drained | down

Errors name the file, the line and the field path (``fleet.yaml:12: nodes[3].gpus: ...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpuwise.catalog import load_catalog, resolve_name
from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.fleet.model import Fleet, Node
from gpuwise.fleet.units import parse_cpu_milli, parse_memory_mib

_GPUS = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\S.*?)\s*$", re.IGNORECASE)


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    count: int | None = Field(default=None, ge=1)
    gpus: str | None = None
    total: str | None = None
    gpus_per_node: int | None = Field(default=None, ge=1)
    cpu: str | int | float | None = None
    memory: str | int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    nvlink: str | None = None
    network_gbps: float | None = Field(default=None, gt=0)
    state: Literal["up", "drained", "down"] = "up"

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): str(x) for k, x in v.items()}
        return v


class _FleetFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "fleet"
    opaque_types: list[str] = Field(default_factory=list)
    nodes: list[_Group] = Field(min_length=1)


def load_fleet_yaml(path: Path) -> Fleet:
    """Parse, validate and expand a fleet YAML file."""
    text = path.read_text("utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{path}:{line + 1}" if line is not None else str(path)
        raise GpuwiseError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise GpuwiseError(f"{path}:1: expected a mapping with a 'nodes' list")
    try:
        spec = _FleetFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            fields = _Group.model_fields if "nodes" in loc[:1] and len(loc) > 2 else None
            choices = list(fields or _FleetFile.model_fields)
            msg = f"unknown field{did_you_mean(str(loc[-1]), choices)}"
        raise GpuwiseError(f"{path}:{_line_of(root, loc)}: {_dotted(loc)}: {msg}") from None
    return _expand(spec, path, root)


def _expand(spec: _FleetFile, path: Path, root: yaml.Node | None) -> Fleet:
    opaque = set(spec.opaque_types)
    nodes: list[Node] = []
    for i, g in enumerate(spec.nodes):
        def fail(field: str, msg: str, i: int = i) -> GpuwiseError:
            loc = ("nodes", i, field)
            return GpuwiseError(f"{path}:{_line_of(root, loc)}: {_dotted(loc)}: {msg}")

        per_node, gpu_type, count = _group_shape(g, opaque, fail)
        try:
            cpu = parse_cpu_milli(g.cpu) if g.cpu is not None else None
        except ValueError as exc:
            raise fail("cpu", str(exc)) from None
        try:
            mem = parse_memory_mib(g.memory) if g.memory is not None else None
        except ValueError as exc:
            raise fail("memory", str(exc)) from None
        width = max(2, len(str(count - 1)))
        for k in range(count):
            name = g.name if count == 1 and g.count is None else f"{g.name}-{k:0{width}d}"
            domain = None
            if g.nvlink == "nvswitch":
                domain = name
            elif g.nvlink:
                domain = g.nvlink
            nodes.append(
                Node(
                    name=name, gpu_type=gpu_type, gpus=per_node, cpu_milli=cpu, memory_mib=mem,
                    labels=g.labels, nvlink_domain=domain, state=g.state,
                    network_gbps=g.network_gbps,
                )
            )
    _check_unique_names(nodes, path)
    return Fleet(name=spec.name, nodes=tuple(nodes), opaque_types=tuple(sorted(opaque)))


def _group_shape(g: _Group, opaque: set[str], fail: Any) -> tuple[int, str | None, int]:
    """(GPUs per node, GPU type, node count) of one group."""
    if g.gpus and g.total:
        raise fail("total", "give either 'gpus' (per node) or 'total', not both")
    if g.total:
        count_total, gpu_type = _parse_gpus(g.total, opaque, lambda m: fail("total", m))
        per_node = g.gpus_per_node or 8
        if count_total % per_node and g.count is None:
            nodes = count_total // per_node + 1
        else:
            nodes = g.count or count_total // per_node
        if nodes * per_node != count_total:
            raise fail(
                "total",
                f"{count_total} GPUs do not split into nodes of {per_node} "
                f"(try gpus_per_node: {_divisor_hint(count_total, per_node)})",
            )
        return per_node, gpu_type, nodes
    if g.gpus:
        per_node, gpu_type = _parse_gpus(g.gpus, opaque, lambda m: fail("gpus", m))
        return per_node, gpu_type, g.count or 1
    return 0, None, g.count or 1


def _divisor_hint(total: int, wanted: int) -> int:
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    return min(divisors, key=lambda d: (abs(d - wanted), -d))


def _parse_gpus(text: str, opaque: set[str], fail: Any) -> tuple[int, str]:
    m = _GPUS.match(text)
    if not m:
        raise fail(f"expected 'N x TYPE' such as '8 x H800', got {text!r}")
    n, type_name = int(m.group(1)), m.group(2)
    if type_name in opaque:
        return n, type_name
    canonical = resolve_name(type_name)
    if canonical is None:
        choices = load_catalog().names() + sorted(opaque)
        raise fail(
            f"unknown accelerator {type_name!r}{did_you_mean(type_name, choices)}; "
            "list it under opaque_types to use a type the catalog does not know"
        )
    return n, canonical


def _check_unique_names(nodes: list[Node], path: Path) -> None:
    seen: set[str] = set()
    for n in nodes:
        if n.name in seen:
            raise GpuwiseError(f"{path}: node name {n.name!r} appears twice")
        seen.add(n.name)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest YAML node on ``loc`` (best effort)."""
    node = root
    line = 1 if root is None else root.start_mark.line + 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
                line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line
