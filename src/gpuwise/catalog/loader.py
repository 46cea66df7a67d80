"""Load the catalog YAML and resolve accelerator names and ``NxTYPE`` shorthands."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from gpuwise.catalog.model import Accelerator, Catalog
from gpuwise.errors import GpuwiseError, did_you_mean

_CATALOG_FILE = "accelerators.yaml"
# Vendor words that people and tools put in front of a model name.
_NOISE = re.compile(r"\b(nvidia|tesla|geforce|huawei)\b")
_SPEC_ITEM = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\S.*?)\s*$", re.IGNORECASE)


def normalize(name: str) -> str:
    """Canonical lookup key: lower case, vendor words dropped, separators unified.

    ``"NVIDIA H100 80GB HBM3"`` and ``"NVIDIA-H100-80GB-HBM3"`` (the Kubernetes label form)
    both become ``"h10080gbhbm3"``.
    """
    key = _NOISE.sub(" ", name.lower())
    return re.sub(r"[\s_\-./]+", "", key)


@cache
def load_catalog() -> Catalog:
    """Read and validate the packaged catalog (once per process)."""
    text = resources.files("gpuwise.catalog").joinpath(_CATALOG_FILE).read_text("utf-8")
    raw = yaml.safe_load(text)
    sources: dict[str, str] = raw["sources"]
    entries: list[Accelerator] = []
    for i, item in enumerate(raw["accelerators"]):
        item = dict(item)
        item["sources"] = _resolve_sources(item.get("sources", {}), sources, item.get("name", i))
        try:
            entries.append(Accelerator.model_validate(item))
        except ValidationError as exc:  # a packaging bug, but say where
            raise GpuwiseError(f"{_CATALOG_FILE}: accelerators[{i}]: {exc}") from exc
    catalog = Catalog(accelerators=tuple(entries))
    _check_unique(catalog)
    return catalog


def _resolve_sources(refs: dict[str, str], table: dict[str, str], who: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, ref in refs.items():
        if ref not in table:
            raise GpuwiseError(f"{_CATALOG_FILE}: {who}: unknown source key {ref!r}")
        out[field] = table[ref]
    return out


@cache
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for acc in load_catalog().accelerators:
        for spelling in (acc.name, *acc.aliases):
            index.setdefault(normalize(spelling), acc.name)
    return index


def _check_unique(catalog: Catalog) -> None:
    seen: dict[str, str] = {}
    for acc in catalog.accelerators:
        for spelling in (acc.name, *acc.aliases):
            key = normalize(spelling)
            if key in seen and seen[key] != acc.name:
                raise GpuwiseError(
                    f"{_CATALOG_FILE}: alias {spelling!r} names both {seen[key]} and {acc.name}"
                )
            seen[key] = acc.name


def resolve_name(name: str) -> str | None:
    """The canonical catalog name for ``name``, or ``None`` when it is not a known spelling."""
    index = _alias_index()
    key = normalize(name)
    if key in index:
        return index[key]
    # A known name followed by a form-factor word ("...-MIG", "... HBM3e"): take the longest
    # known prefix, but only when what follows starts with a letter, so that "A8000" is not
    # taken for "A800".
    best = ""
    for k in index:
        if key.startswith(k) and len(k) > len(best) and len(k) >= 3:
            best = k
    rest = key[len(best):]
    if best and rest[:1].isalpha() and len(rest) <= 6:
        return index[best]
    return None


def get_accelerator(name: str) -> Accelerator:
    """The catalog entry for ``name`` (any common spelling)."""
    canonical = resolve_name(name)
    if canonical is None:
        choices = load_catalog().names()
        raise GpuwiseError(f"unknown accelerator {name!r}{did_you_mean(name, choices)}")
    for acc in load_catalog().accelerators:
        if acc.name == canonical:
            return acc
    raise AssertionError(canonical)  # pragma: no cover - index and catalog agree by build


def parse_gpu_spec(spec: str) -> list[tuple[int, str]]:
    """Parse ``"64xA800"`` or ``"36xV100,36xP100,36xK80"`` into ``[(count, canonical)]``.

    A bare type (``"H20"``) means one GPU. Counts must be positive integers.
    """
    if not spec or not spec.strip():
        raise GpuwiseError("empty GPU spec (expected NxTYPE, e.g. 64xA800 or 8xH800,16xH20)")
    out: list[tuple[int, str]] = []
    for part in spec.split(","):
        part = part.strip()
        m = _SPEC_ITEM.match(part)
        count, type_name = (int(m.group(1)), m.group(2)) if m else (1, part)
        if count <= 0:
            raise GpuwiseError(f"GPU spec {spec!r}: count in {part!r} must be at least 1")
        out.append((count, get_accelerator(type_name).name))
    return out
