"""Inference-aware sizing (Sardana et al. 2023) — properties of the iso-loss minimum."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuwise.errors import GpuwiseError
from gpuwise.sizing.inference_aware import inference_optimal, iso_loss_point
from gpuwise.sizing.laws import load_laws


def _target(c: float) -> tuple[float, float, float]:
    law = load_laws().law("besiroglu")
    n, d = law.optimum(c)
    return n, d, law.loss(n, d)


def test_no_inference_recovers_chinchilla_optimum() -> None:
    n, d, loss = _target(5.76e23)
    p = inference_optimal(load_laws().law("besiroglu"), loss, 0.0)
    assert p.params == pytest.approx(n, rel=1e-3)
    assert p.tokens == pytest.approx(d, rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    log_c=st.floats(min_value=20, max_value=25),
    log_inf=st.floats(min_value=10, max_value=15),
)
def test_more_inference_means_smaller_model_trained_longer(log_c: float, log_inf: float) -> None:
    law = load_laws().law("besiroglu")
    n, d, loss = _target(10**log_c)
    p = inference_optimal(law, loss, 10**log_inf)
    assert p.params <= n * 1.001
    assert p.tokens >= d * 0.999
    assert law.loss(p.params, p.tokens) == pytest.approx(loss, abs=1e-9)
    chinchilla_total = 6 * n * d + 2 * n * 10**log_inf
    assert p.total_flops <= chinchilla_total * (1 + 1e-6)
    more = inference_optimal(law, loss, 10 ** (log_inf + 1))
    assert more.params <= p.params * 1.001


def test_unreachable_sizes_need_infinite_tokens() -> None:
    law = load_laws().law("besiroglu")
    _, _, loss = _target(1e22)
    n_min = law.min_params_for_loss(loss)
    assert math.isinf(iso_loss_point(law, n_min * 0.99, loss, 0.0).tokens)
    assert math.isfinite(iso_loss_point(law, n_min * 1.5, loss, 0.0).tokens)


def test_loss_below_irreducible_is_refused() -> None:
    law = load_laws().law("besiroglu")
    with pytest.raises(GpuwiseError, match="irreducible"):
        inference_optimal(law, law.E - 0.01, 1e12)
