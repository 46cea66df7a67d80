"""Turn user inputs (model flags, GPU pools, token counts, deadlines) into planner objects.

Kept apart from the CLI so that other front ends (``plan size``, tests) reuse the parsing and
its one-sentence error messages.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from gpuwise.errors import GpuwiseError
from gpuwise.planner.models import ModelConfig, get_model

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_DURATION = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_count(text: str, what: str = "--tokens") -> float:
    """``"2T"``, ``"300B"``, ``"1.5e12"`` -> a float."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", text.lower())
    if not m:
        raise GpuwiseError(f"{what}: expected a number such as 2T, 300B or 1.5e12, got {text!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def parse_duration_days(text: str) -> float:
    """``"14d"``, ``"36h"``, ``"2w"`` -> days."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhdw]?)\s*", text.lower())
    if not m:
        raise GpuwiseError(f"--deadline: expected a duration such as 14d, 36h or 2w, got {text!r}")
    return float(m.group(1)) * _DURATION[m.group(2) or "d"] / 86400.0


def build_model(
    preset: str | None,
    *,
    layers: int | None = None,
    hidden: int | None = None,
    heads: int | None = None,
    kv_heads: int | None = None,
    ffn: int | None = None,
    ffn_type: str | None = None,
    vocab: int | None = None,
    experts: int | None = None,
    top_k: int | None = None,
    seq: int | None = None,
) -> ModelConfig:
    """A preset (optionally overridden) or a model from explicit dimensions."""
    overrides: dict[str, object] = {
        k: v
        for k, v in {
            "layers": layers,
            "hidden": hidden,
            "heads": heads,
            "kv_heads": kv_heads,
            "ffn": ffn,
            "ffn_type": ffn_type,
            "vocab": vocab,
            "experts": experts,
            "top_k": top_k,
            "seq_len": seq,
        }.items()
        if v is not None
    }
    if preset:
        base = get_model(preset)
        if not overrides:
            return base
    else:
        base = None
        missing = [f"--{k}" for k in ("layers", "hidden", "heads") if k not in overrides]
        if missing:
            raise GpuwiseError(
                f"give --model PRESET or explicit dimensions (missing {', '.join(missing)}); "
                "see `gpuwise plan models`"
            )
        if overrides.get("ffn_type") == "swiglu" and "ffn" not in overrides:
            raise GpuwiseError("--ffn-type swiglu needs --ffn (the MLP inner size)")
    try:
        if base is not None:
            return base.with_updates(**overrides)
        return ModelConfig.model_validate({"name": "custom", **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise GpuwiseError(f"model dimensions: {where + ': ' if where else ''}{msg}") from None
