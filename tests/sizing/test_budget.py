"""Model shapes for a parameter count, and budgets through the training planner."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuwise.sizing.budget import shape_for_params, training_throughput


@settings(max_examples=30, deadline=None)
@given(log_n=st.floats(min_value=8.0, max_value=12.3))
def test_shape_has_about_the_requested_parameters(log_n: float) -> None:
    n = 10**log_n
    m = shape_for_params(n)
    assert m.num_params() == pytest.approx(n, rel=0.15)
    assert m.heads % m.kv == 0 and m.hidden == m.heads * 128


def test_achievable_throughput_is_below_peak_and_differs_by_chip() -> None:
    h800 = training_throughput(7e9, "H800", 64, 4096)
    a100 = training_throughput(7e9, "A100-80GB", 64, 4096)
    assert 0.2 < h800.mfu < 0.75 and 0.2 < a100.mfu < 0.75
    assert h800.tokens_per_s_per_gpu > 1.5 * a100.tokens_per_s_per_gpu
