"""``load_fleet(source)``: one entry point for every fleet format and the NxTYPE shorthand."""

from __future__ import annotations

import re
from pathlib import Path

from gpuwise.catalog import get_accelerator, parse_gpu_spec
from gpuwise.errors import GpuwiseError
from gpuwise.fleet.importers import load_kubectl_nodes, load_nvidia_smi, load_openb_nodes
from gpuwise.fleet.model import Fleet, Node
from gpuwise.fleet.yamlfile import load_fleet_yaml

_SHORTHAND = re.compile(r"^\s*\d+\s*[x×*]\s*\S")
FORMATS = ("yaml", "openb", "nvidia-smi", "kubectl", "shorthand")


def _gpus_per_node(gpu_type: str) -> int:
    """Typical GPUs per server: 8 for SXM/HGX boards, 8 for PCIe servers too (4090/L20
    servers are commonly 8-way), so 8 throughout unless the caller says otherwise."""
    get_accelerator(gpu_type)
    return 8


def fleet_from_spec(spec: str, gpus_per_node: int | None = None) -> Fleet:
    """``"36xV100,36xP100"`` -> nodes of up to ``gpus_per_node`` (default 8) GPUs each."""
    nodes: list[Node] = []
    for count, gpu_type in parse_gpu_spec(spec):
        per = gpus_per_node or _gpus_per_node(gpu_type)
        k = 0
        left = count
        while left > 0:
            take = min(per, left)
            name = f"{gpu_type.lower()}-{k:03d}"
            nodes.append(Node(name=name, gpu_type=gpu_type, gpus=take, nvlink_domain=None))
            left -= take
            k += 1
    return Fleet(name=spec.replace(" ", ""), nodes=tuple(nodes))


def detect_format(path: Path) -> str:
    """Guess a fleet file's format from its name and first line."""
    if path.is_dir():
        return "nvidia-smi"
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "kubectl"
    with path.open(encoding="utf-8") as fh:
        first = fh.readline().strip().lower()
    if first.startswith("index"):
        return "nvidia-smi"
    if first.startswith("sn,") or suffix == ".csv":
        return "openb"
    raise GpuwiseError(
        f"{path}: cannot tell the fleet format from the name; use .yaml (gpuwise), .csv "
        "(openb node list or nvidia-smi capture), .json (kubectl get nodes -o json) or a folder "
        "of nvidia-smi captures"
    )


def load_fleet(source: str | Path, gpus_per_node: int | None = None) -> Fleet:
    """Load a fleet from a file, a folder of nvidia-smi captures, or an ``NxTYPE`` shorthand."""
    path = Path(source)
    if not path.exists():
        text = str(source)
        if _SHORTHAND.match(text):
            return fleet_from_spec(text, gpus_per_node)
        raise GpuwiseError(
            f"{text}: no such file or folder, and not an NxTYPE shorthand such as 64xA800"
        )
    fmt = detect_format(path)
    if fmt == "yaml":
        return load_fleet_yaml(path)
    if fmt == "kubectl":
        return load_kubectl_nodes(path)
    if fmt == "openb":
        return load_openb_nodes(path)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise GpuwiseError(f"{path}: empty folder (expected one nvidia-smi CSV per host)")
    return load_nvidia_smi(files, name=path.name)
