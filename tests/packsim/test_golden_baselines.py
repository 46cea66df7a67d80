"""Golden tests: the five baseline policies on the default openb trace, 10 seeds each,
against the FGD artifact's curves (130 % within 0.5 points, every step within 1 point)."""

from __future__ import annotations

import pytest

from tests.packsim.golden import check_policy


@pytest.mark.parametrize("policy", ["random", "dotprod", "gpu-clustering", "gpu-packing",
                                    "best-fit"])
def test_baseline_matches_published_curves(policy: str) -> None:
    check_policy(policy)
