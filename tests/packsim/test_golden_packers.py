"""Golden tests, part 2 of 2: DotProd, GpuClustering, GpuPacking and BestFit on the default
openb trace, seeds 42-51, against the FGD artifact's published curves (mean allocation at
130 % within 0.5 points, every arrival step within 1 point)."""

from __future__ import annotations

import pytest

from tests.packsim.golden import check_policy


@pytest.mark.parametrize("policy", ["dotprod", "gpu-clustering", "gpu-packing", "best-fit"])
def test_matches_published_curves(policy: str) -> None:
    check_policy(policy)
