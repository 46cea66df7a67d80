"""Scaling-law loss of a published model, for "quality cost" columns.

Loss from a parametric fit at (parameters, training tokens). Indicative only: the fits were
made on Chinchilla's MassiveText, and other models' data differ; differences between two
models under one fit are what we show.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from gpuwise.sizing.laws import load_laws


@cache
def known_training_tokens() -> dict[str, float]:
    """Preset name → training tokens (``known_training.yaml``)."""
    text = resources.files("gpuwise.sizing").joinpath("known_training.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {name: float(v["tokens"]) for name, v in raw["models"].items()}


def predicted_loss(
    params: float, tokens: float | None, fit: str | None = None
) -> float | None:
    """Loss under ``fit`` (default fit when None); None when the tokens are unknown."""
    if tokens is None:
        return None
    laws = load_laws()
    return laws.loss_law(fit or laws.default_fit).loss(params, tokens)


def preset_loss(name: str, params: float, fit: str | None = None) -> float | None:
    """Loss of a known preset (None for presets whose training tokens we do not know)."""
    return predicted_loss(params, known_training_tokens().get(name), fit)
