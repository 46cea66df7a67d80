"""Golden test: FGD on the default openb trace, 10 seeds, against the artifact's curves
(mean allocation at 130 % within 0.5 points, every step within 1 point)."""

from __future__ import annotations

from tests.packsim.golden import check_policy


def test_fgd_matches_published_curves() -> None:
    check_policy("fgd")
