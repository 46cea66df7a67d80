"""Random node failures for a replay: exponential up and down times per node (seeded)."""

from __future__ import annotations

import random


def failure_schedule(
    n_nodes: int, horizon_s: float, mtbf_h: float, mttr_h: float, seed: int
) -> list[tuple[float, int, float]]:
    """``(time, node, seconds down)`` events up to ``horizon_s``.

    Each node alternates up times drawn from an exponential with mean ``mtbf_h`` hours and
    down times with mean ``mttr_h`` hours (a two-state Markov model of node availability).
    """
    if mtbf_h <= 0 or n_nodes == 0:
        return []
    rng = random.Random(seed)
    out = []
    for node in range(n_nodes):
        t = 0.0
        while True:
            t += rng.expovariate(1.0 / (mtbf_h * 3600.0))
            if t >= horizon_s:
                break
            down = rng.expovariate(1.0 / (mttr_h * 3600.0)) if mttr_h > 0 else 0.0
            out.append((t, node, down))
            t += down
    return sorted(out)
