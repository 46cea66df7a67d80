"""Counting the PyTorch ops of an implementation."""

from __future__ import annotations

import pytest

from gpuwise.calibrate.opcount import count_torch_ops


def test_counts_each_op_and_skips_attribute_reads() -> None:
    torch = pytest.importorskip("torch")
    x, y = torch.ones(2, 3), torch.ones(2, 3)

    def fn() -> object:
        rows, cols = x.shape  # attribute read: no op
        z = torch.nn.functional.silu(x + y)
        return (z * y).view(rows * cols).transpose(0, 0)

    counts = count_torch_ops(fn)
    assert sum(counts.values()) == 5
    assert counts["silu"] == 1 and counts["view"] == 1 and counts["transpose"] == 1
