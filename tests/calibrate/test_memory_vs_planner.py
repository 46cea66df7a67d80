"""The planner's memory model against bytes counted from a real PyTorch training step.

The planner describes mixed-precision training on GPUs; the PyTorch GPT here runs the same
recipe on the CPU (bf16 weights, bf16 or fp32 gradients, fp32 master weights and Adam
moments) with the kernels GPUs use for what is saved for backward (fused SwiGLU/RMSNorm,
flash or Megatron-style attention, 1-byte dropout masks).  Every term must agree within 5 %.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from gpuwise.calibrate.torch_train import count_memory, saved_activation_bytes  # noqa: E402
from gpuwise.planner.engines import ENGINES  # noqa: E402
from gpuwise.planner.memory import memory_breakdown, zero_model_state_bytes  # noqa: E402
from gpuwise.planner.models import ModelConfig  # noqa: E402
from gpuwise.planner.parallel import Setup, single  # noqa: E402

MICRO_BATCH, SEQ = 2, 128

CASES = [
    # Megatron GPT shape (Narayanan/Korthikanti): GeLU, biases, LayerNorm, learned positions,
    # tied embeddings, dropout; no flash attention, fp16 model grads (16 B/param).
    ("megatron-gpt", ModelConfig(name="gpt-mini", layers=2, hidden=128, heads=4, vocab=512,
                                 ffn_type="gelu", tied_embeddings=True, learned_pos_emb=True,
                                 bias=True, norm="layernorm", dropout=True, seq_len=SEQ),
     "megatron-2021", False),
    # Llama shape: SwiGLU, RMSNorm, GQA, rotary, untied, no bias/dropout; flash attention.
    ("llama", ModelConfig(name="llama-mini", layers=2, hidden=128, heads=8, kv_heads=2, ffn=344,
                          ffn_type="swiglu", vocab=512, seq_len=SEQ),
     "modern", True),
    # MPT shape: GeLU, LayerNorm without bias, tied, no dropout; flash attention.
    ("mpt", ModelConfig(name="mpt-mini", layers=3, hidden=192, heads=6, vocab=640,
                        ffn_type="gelu", tied_embeddings=True, norm="layernorm", seq_len=SEQ),
     "modern", True),
]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(("label", "cfg", "engine", "flash"), CASES, ids=[c[0] for c in CASES])
def test_memory_model_matches_counted_bytes(label: str, cfg: ModelConfig, engine: str,
                                            flash: bool) -> None:
    # the count sees saved tensors only: of the loss, its one saved fp32 log-softmax -- not the
    # 16-bit logits that Megatron-Core keeps referenced beside it at the peak (``modern``'s
    # ``loss_bytes_per_logit`` 6, a transient no saved-tensor hook records)
    eng = replace(ENGINES[engine], loss_bytes_per_logit=4)
    assert eng.flash_attention == flash
    real = count_memory(cfg, MICRO_BATCH, SEQ, precision="bf16", grad_bytes=eng.grad_bytes,
                        flash=flash)
    assert real.params == cfg.num_params()
    setup = Setup(seq=SEQ, global_batch=MICRO_BATCH, gpus=1, engine=eng)
    pred = {k: float(v[0]) for k, v in
            memory_breakdown(cfg, single(micro_batch=MICRO_BATCH), setup, 80.0).items()
            if k in ("weights", "gradients", "optimizer", "activations", "logits")}
    counted = {"weights": real.weights, "gradients": real.gradients,
               "optimizer": real.optimizer, "activations": real.activations}
    # the planner reports the output layer's saved tensors (fp32 log-softmax, its input and
    # the final norm's input) as "logits", apart from the transformer layers' activations
    predicted = {"weights": pred["weights"], "gradients": pred["gradients"],
                 "optimizer": pred["optimizer"],
                 "activations": pred["activations"] + pred["logits"]}
    for term, value in counted.items():
        assert predicted[term] == pytest.approx(value, rel=0.05), (label, term)


def test_fp32_model_states_match_zero_formula() -> None:
    """fp32 AdamW (no master copy): 4 B weights + 4 B grads + 8 B moments per parameter."""
    cfg = CASES[1][1]
    real = count_memory(cfg, 1, 64, precision="fp32", grad_bytes=4, flash=True)
    psi = cfg.num_params()
    total = real.weights + real.gradients + real.optimizer
    assert zero_model_state_bytes(psi, 1, 0, weight_bytes=4, grad_bytes=4,
                                  opt_bytes=8) == pytest.approx(total, rel=0.05)
    assert real.weights == 4 * psi and real.gradients == 4 * psi


def test_saved_tensor_count_dedupes_views_and_skips_parameters() -> None:
    lin = torch.nn.Linear(8, 8, bias=False)
    module: Any = torch.nn.Module  # torch is imported at run time (importorskip): no types

    class Toy(module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = lin

        def forward(self, x: Any, _t: Any) -> Any:
            y = self.lin(x)  # saves x (input) and the weight (a parameter: not counted)
            a, b = y[:, :4], y[:, 4:]  # two views of y's storage
            return (a * b).sum()  # saves both views: one storage

    x = torch.randn(16, 8, requires_grad=True)
    _loss, nbytes = saved_activation_bytes(Toy(), x, x)
    assert nbytes == 2 * 16 * 8 * 4  # x and y, fp32


def test_the_harness_really_trains() -> None:
    """Mixed-precision AdamW on one fixed batch lowers the loss; bf16 weights follow the
    fp32 master copy."""
    from gpuwise.calibrate.torch_train import MixedPrecisionAdam, batch, build

    cfg = CASES[1][1]
    model = build(cfg, "bf16", flash=True)
    opt = MixedPrecisionAdam(model, "bf16", grad_bytes=4, lr=3e-3)
    ids, targets = batch(cfg, 2, 64)
    losses = []
    for _ in range(6):
        loss = model(ids, targets)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] - 0.1
    for p, m in zip(opt.params, opt.master, strict=True):
        assert torch.equal(p.detach(), m.to(torch.bfloat16))
