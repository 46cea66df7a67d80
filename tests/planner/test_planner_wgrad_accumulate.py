"""Weight-gradient GEMMs that accumulate into the main-grad buffer read and write it
(``Engine.wgrad_out_bytes``, ``efficiency.gemm_time_s``'s ``out_bytes``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpuwise.catalog import get_accelerator
from gpuwise.planner.efficiency import gemm_time_s
from gpuwise.planner.engines import ENGINES

H100 = get_accelerator("H100-SXM")


def test_fused_accumulation_reads_and_writes_the_main_grad_buffer() -> None:
    modern = ENGINES["modern"]
    assert modern.grad_acc_fusion
    assert replace(modern, grad_bytes=4).wgrad_out_bytes == 8.0
    assert replace(modern, grad_bytes=2).wgrad_out_bytes == 4.0
    assert replace(modern, grad_acc_fusion=False, grad_bytes=4).wgrad_out_bytes == 2.0


def test_small_token_wgrad_turns_memory_bound_on_an_fp32_buffer() -> None:
    """An expert's weight gradient over 512 tokens (4096 x 1536 output): 2 x 512 FLOPs per
    output element against 8 bytes of fp32 read + write is below the H100's machine balance,
    so the accumulate traffic sets its time; over 8192 tokens it stays compute-bound."""
    small16 = gemm_time_s(H100, 4096.0, 1536.0, 512.0, "bf16", 1.0, 2.0)
    small32 = gemm_time_s(H100, 4096.0, 1536.0, 512.0, "bf16", 1.0, 8.0)
    assert small32 > 1.5 * small16
    big16 = gemm_time_s(H100, 4096.0, 1536.0, 8192.0, "bf16", 1.0, 2.0)
    big32 = gemm_time_s(H100, 4096.0, 1536.0, 8192.0, "bf16", 1.0, 8.0)
    assert big32 == pytest.approx(big16)
