"""The policy registry.  Adding a policy = adding one entry to ``_FACTORIES`` below.

Reference policies follow the FGD artifact's run scripts (``generate_run_scripts.py``): one
score plugin each (weight 1000 there; the weight does not change the argmax), GPU selection
``random`` for Random, ``best`` (best fit) for DotProd/GpuClustering/GpuPacking/BestFit, and the
plugin's own choice for FGD.  ``fgd-cpu`` is gpuwise's own (see :mod:`gpuwise.sched.fgd_cpu`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.sched import gpusel
from gpuwise.sched.fgd import FgdScore
from gpuwise.sched.fgd_cpu import FgdCpuScore
from gpuwise.sched.policy import Policy
from gpuwise.sched.scores import (
    BestFitScore,
    DotProductScore,
    GpuClusteringScore,
    GpuPackingScore,
    RandomScore,
)


def _random() -> Policy:
    return Policy("random", "uniformly random feasible node", ((RandomScore(), 1.0),),
                  gpusel.random_fit)


def _dotprod() -> Policy:
    return Policy("dotprod", "Tetris dot product of free and requested CPU/GPU",
                  ((DotProductScore(), 1.0),))


def _clustering() -> Policy:
    return Policy("gpu-clustering", "pack pods of the same GPU class together",
                  ((GpuClusteringScore(), 1.0),))


def _packing() -> Policy:
    return Policy("gpu-packing", "shared GPUs, then used nodes, then idle nodes",
                  ((GpuPackingScore(),  1.0),))


def _best_fit() -> Policy:
    return Policy("best-fit", "least leftover CPU and GPU", ((BestFitScore(), 1.0),))


def _fgd() -> Policy:
    return Policy("fgd", "fragmentation gradient descent (Weng et al., ATC'23)",
                  ((FgdScore(), 1.0),), gpusel.from_hint, needs_mix=True)


def _fgd_cpu() -> Policy:
    return Policy("fgd-cpu", "gpuwise: FGD + expected GPU stranded by CPU exhaustion",
                  ((FgdCpuScore(), 1.0),), gpusel.from_hint, needs_mix=True)


_FACTORIES: MappingProxyType[str, Callable[[], Policy]] = MappingProxyType({
    "random": _random,
    "dotprod": _dotprod,
    "gpu-clustering": _clustering,
    "gpu-packing": _packing,
    "best-fit": _best_fit,
    "fgd": _fgd,
    "fgd-cpu": _fgd_cpu,
})

REFERENCE_POLICIES = ("random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd")


def policy_names() -> list[str]:
    """Every registered policy, reference ones first."""
    return list(_FACTORIES)


def get_policy(name: str) -> Policy:
    """The policy called ``name``; GpuwiseError with suggestions when unknown."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise GpuwiseError(f"unknown policy {name!r}{did_you_mean(name, _FACTORIES)}; "
                           f"choose from {', '.join(_FACTORIES)}") from None
