"""The workload's statistical mix of pod shapes ("typical pods" in the FGD paper, §4.1).

FGD measures fragmentation *against the tasks that are likely to arrive*.  The artifact
(hkust-adsl/kubernetes-scheduler-simulator, ``utils.GetTypicalPods``) counts every pod of the
original workload by its shape (CPU, milli-GPU per GPU, GPU count, GPU-model constraint),
CPU-only pods included, sorts shapes by decreasing count and keeps the most popular ones until
they cover 95 % of the pods, then renormalizes their frequencies to sum to 1.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gpuwise.sched.types import Request

DEFAULT_POPULARITY = 0.95
"""Share of pods covered by the kept shapes (artifact: ``podPopularityThreshold: 95``)."""

K8S_DEFAULT_MILLI_CPU = 100
"""Kubernetes counts a container without a CPU request as 100 milli-cores (non-zero request)."""

Shape = tuple[int, int, int, frozenset[str]]


def nonzero_cpu(cpu_milli: int) -> int:
    """Kubernetes' non-zero CPU request, as the artifact's ``GetPodResource`` uses it."""
    return cpu_milli if cpu_milli > 0 else K8S_DEFAULT_MILLI_CPU


def _sort_key(item: tuple[Shape, int]) -> tuple[int, int, int, int, str]:
    (cpu, milli, num, models), count = item
    # decreasing count, then decreasing (cpu, milli, num, models) as the artifact's sort does
    return (-count, -cpu, -milli, -num, "|".join(sorted(models)))


@dataclass(frozen=True, eq=False)
class WorkloadMix:
    """Pod shapes with their arrival probabilities, as parallel read-only arrays."""

    cpu: npt.NDArray[np.int64]
    milli: npt.NDArray[np.int64]
    num: npt.NDArray[np.int64]
    models: tuple[frozenset[str], ...]
    prob: npt.NDArray[np.float64]
    key: str

    @classmethod
    def from_shapes(cls, shapes: Iterable[tuple[Shape, float]]) -> WorkloadMix:
        """A mix from ``((cpu, gpu_milli, num_gpu, models), weight)`` pairs (normalized here)."""
        items = list(shapes)
        if not items:
            raise ValueError("a workload mix needs at least one pod shape")
        w = np.array([x[1] for x in items], dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("workload mix weights must be non-negative and not all zero")
        arrays = [np.array([s[0][i] for s in items], dtype=np.int64) for i in range(3)]
        for a in [*arrays, w]:
            a.setflags(write=False)
        prob = w / w.sum()
        prob.setflags(write=False)
        digest = hashlib.sha1(repr([(s[0][:3], sorted(s[0][3]), s[1]) for s in items])
                              .encode()).hexdigest()[:16]
        return cls(arrays[0], arrays[1], arrays[2], tuple(s[0][3] for s in items), prob, digest)

    @classmethod
    def from_requests(cls, requests: Iterable[Request],
                      popularity: float = DEFAULT_POPULARITY) -> WorkloadMix:
        """The typical-pod mix of a workload (see the module docstring)."""
        counts = Counter((nonzero_cpu(r.cpu_milli), r.gpu_milli, r.num_gpu, r.gpu_models)
                         for r in requests)
        if not counts:
            raise ValueError("a workload mix needs at least one request")
        ranked = sorted(counts.items(), key=_sort_key)
        total = sum(counts.values())
        kept: list[tuple[Shape, float]] = []
        covered = 0
        for shape, count in ranked:
            if covered >= popularity * total:
                break
            kept.append((shape, float(count)))
            covered += count
        return cls.from_shapes(kept)

    def __len__(self) -> int:
        return len(self.prob)

    def access(self, vocab: tuple[str, ...]) -> npt.NDArray[np.bool_]:
        """``(len(vocab) + 1) x K``: may shape k run on GPU model v?  The last row is a CPU-only
        node, where only shapes without a model constraint count as accessible (and find no GPU)."""
        out = np.ones((len(vocab) + 1, len(self)), dtype=bool)
        for k, models in enumerate(self.models):
            if models:
                out[:-1, k] = [v in models for v in vocab]
                out[-1, k] = False
        return out
