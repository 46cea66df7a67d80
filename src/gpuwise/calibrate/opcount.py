"""Count the eager PyTorch ops an implementation runs (the ``ops`` of the per-op overhead).

The serving time model charges every op of a decode step the profile's measured dispatch
cost (``DeviceProfile.dispatch_us``), so it needs how many ops the implementation runs per
decoder layer.  :func:`count_torch_ops` counts them without timing anything: every call that
goes through PyTorch's ``__torch_function__`` protocol (``torch.*``, ``F.*`` and tensor
methods, as the Python code calls them), minus attribute reads such as ``x.shape``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from gpuwise.calibrate.torch_env import require_torch

#: Calls that dispatch no op (descriptor reads: ``.shape``, ``.dtype``, ...).
NOT_OPS = frozenset({"__get__"})


def count_torch_ops(fn: Callable[[], Any]) -> Counter[str]:
    """Run ``fn()`` once and return how many times it called each PyTorch op, by name."""
    require_torch()
    from torch.overrides import TorchFunctionMode

    counts: Counter[str] = Counter()

    class _Count(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            name = str(getattr(func, "__name__", func))
            if name not in NOT_OPS:
                counts[name] += 1
            return func(*args, **(kwargs or {}))

    with _Count():
        fn()
    return counts
