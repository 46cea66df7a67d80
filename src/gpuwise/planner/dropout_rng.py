"""Forward dropout paced by its random numbers where a chip's measured rate says so.

A dropout kernel's forward draws one random number per element.  On the A100 that is slower
than streaming the kernel's bytes: Dao et al. 2022's A100 timings of the attention call with
and without dropout isolate the dropout kernel, whose forward runs at ~240 G elements/s (77 %
of the 40 GB part's HBM rate) while its backward, with no random numbers, streams at the usual
rate (``efficiency.yaml`` ``dropout_rng_gelems``).  A forward dropout kernel therefore takes
``max(bytes / stream rate, elements / RNG rate)``; :func:`rng_excess` is what that adds to the
streamed time.  Chips without a measurement, and device profiles (which time ``native_dropout``
themselves, ``Hardware.kernel_time``), add nothing.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from gpuwise.planner.efficiency import _raw
from gpuwise.planner.hardware import Hardware

#: HBM bytes per element of Megatron-LM's fused bias-dropout-add forward on 16-bit data:
#: read the input and the residual, write the output and a 1-byte mask
#: (``megatron/model/transformer.py`` ``bias_dropout_add``, TorchScript-fused; the bias is a
#: vector).
BIAS_DROPOUT_ADD_BYTES = 7.0


@cache
def _rates() -> dict[str, float]:
    return {str(k): float(v) * 1e9 for k, v in _raw().get("dropout_rng_gelems", {}).items()}


def rng_rate(hw: Hardware) -> float | None:
    """Random elements per second a forward dropout kernel draws on ``hw`` (None: not measured
    for this chip, or a device profile, whose own dropout measurement applies)."""
    if hw.measured or hw.kernel_gbs:
        return None
    return _rates().get(hw.acc.name)


def rng_excess(hw: Hardware, elements: np.ndarray, bytes_per_element: float) -> np.ndarray:
    """Seconds a forward dropout kernel over ``elements`` (moving ``bytes_per_element`` each)
    takes beyond streaming its bytes: ``max(0, elements / rate - bytes / stream rate)``."""
    rate = rng_rate(hw)
    if rate is None:
        return np.zeros_like(np.asarray(elements, dtype=float))
    streamed = hw.stream_time(bytes_per_element * np.asarray(elements, dtype=float))
    return np.maximum(0.0, elements / rate - streamed)
