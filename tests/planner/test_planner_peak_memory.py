"""Peak-time memory terms of FSDP2 engines (torchtitan)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpuwise.planner.engines import ENGINES
from gpuwise.planner.memory import memory_breakdown
from gpuwise.planner.models import get_model
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.recompute import backward_read_linears, saved_bytes_per_token


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


def test_compiled_op_sac_drops_the_outputs_no_backward_reads() -> None:
    """torch.compile'd blocks (min-cut partitioner) do not keep w2's output, which only feeds
    the residual add: 2h bytes per token and layer fewer than eager SAC; with TP also the
    reduce-scatter after w2 (h/t)."""
    m = get_model("llama-3-8b")
    assert [lin.name for lin in backward_read_linears(m)] == ["wq", "wv", "w1"]
    t1, sp1 = np.array([1.0]), np.array([1.0])
    eager = saved_bytes_per_token(m, t1, sp1)
    compiled = saved_bytes_per_token(m, t1, sp1, backward_only=True)
    assert float(eager[0] - compiled[0]) == pytest.approx(2.0 * m.hidden)
    t4 = np.array([4.0])
    eager4 = saved_bytes_per_token(m, t4, 1.0 / t4)
    compiled4 = saved_bytes_per_token(m, t4, 1.0 / t4, backward_only=True)
    assert float(eager4[0] - compiled4[0]) == pytest.approx(2.0 * (m.hidden + m.hidden / 4))


def test_compiled_engine_predicts_a_lower_peak_than_eager() -> None:
    """Same run, eager vs compiled torchtitan preset: 32 layers x 2h bytes x 16384 tokens
    fewer saved bytes, less the one layer's larger recompute working set."""
    m = get_model("llama-3-8b")
    eager, compiled = _titan("torchtitan"), _titan("torchtitan-compile")
    tok = 8192 * 2
    per_layer = 2.0 * m.hidden * tok
    diff = float(eager["activations"][0] - compiled["activations"][0])
    assert diff == pytest.approx(per_layer * (m.layers - 1))
    assert ENGINES["torchtitan-compile"].sac_min_cut
    assert not ENGINES["torchtitan"].sac_min_cut


def test_eager_final_norm_keeps_an_fp32_copy() -> None:
    """torchtitan's final RMSNorm (eager also when the blocks are compiled) saves the fp32 copy
    of its input and its 16-bit output: 4 bytes per element more than a 16-bit input."""
    m = get_model("llama-3-8b")
    assert ENGINES["torchtitan"].eager_final_norm
    assert ENGINES["torchtitan-compile"].eager_final_norm
    on = _titan("torchtitan")
    eng = replace(ENGINES["torchtitan"], eager_final_norm=False)
    setup = Setup(seq=8192, global_batch=16, gpus=8, engine=eng)
    off = memory_breakdown(m, single(8, 1, 1, 1, 1, 1, 3, "selective", 2, "bf16"), setup, 96.0)
    assert float(on["logits"][0] - off["logits"][0]) == pytest.approx(4.0 * m.hidden * 8192 * 2)
