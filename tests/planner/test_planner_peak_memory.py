"""Peak-time memory terms of FSDP2 engines (torchtitan)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.memory import memory_breakdown
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single


def _titan(engine: str, zero: int = 3, tp: int = 1, root: bool | None = None) -> dict[str, Any]:
    eng = ENGINES[engine]
    if root is not None:
        eng = replace(eng, fsdp2_root_unsharded=root)
    setup = Setup(seq=8192, global_batch=16, gpus=8 * tp, engine=eng)
    c = single(8, tp, 1, 1, 1, 1, zero, "selective", 2, "bf16")
    return memory_breakdown(get_model("llama-3-8b"), c, setup, 96.0)


def test_fsdp2_root_unit_stays_unsharded() -> None:
    """ZeRO-3: the root unit's embedding, final norm and output layer (untied in Llama 3)
    sit unsharded in bf16 at the loss's peak, 2 bytes per parameter, divided by TP."""
    m = get_model("llama-3-8b")
    root = 2.0 * (2 * m.vocab * m.hidden + m.norm_params())
    on, off = _titan("torchtitan"), _titan("torchtitan", root=False)
    assert float(on["total"][0] - off["total"][0]) == pytest.approx(root)
    assert float(on["overhead"][0] - off["overhead"][0]) == pytest.approx(root)
    tp2 = _titan("torchtitan", tp=2)
    tp2_off = _titan("torchtitan", tp=2, root=False)
    tp2_root = 2.0 * (m.vocab * m.hidden + m.norm_params())  # the norm is not TP-sharded
    assert float(tp2["total"][0] - tp2_off["total"][0]) == pytest.approx(tp2_root)


def test_root_term_needs_zero3_and_an_fsdp2_engine() -> None:
    assert ENGINES["torchtitan"].fsdp2_root_unsharded
    assert ENGINES["torchtitan-compile"].fsdp2_root_unsharded
    assert not ENGINES["modern"].fsdp2_root_unsharded
    z2, z2_off = _titan("torchtitan", zero=2), _titan("torchtitan", zero=2, root=False)
    assert float(z2["total"][0]) == float(z2_off["total"][0])
