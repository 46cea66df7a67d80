"""Engine presets for PyTorch FSDP training stacks: plain FSDP2 (``fsdp``: HF / NeMo AutoModel),
torchtitan (eager and ``torch.compile``), NeMo AutoModel's DeepEP MoE benchmarks and MosaicML
llm-foundry as benchmarked in 2023 (FSDP1).  Each flag is documented behaviour of that code,
cited where it is set; the flags themselves are defined on
:class:`gpuwise.planner.engines.Engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpuwise.planner.engines import Engine


def fsdp_presets(Engine: type[Engine]) -> dict[str, Engine]:  # noqa: N803 -- the class itself
    """The FSDP-family presets, built with the ``Engine`` class (passed in: no import cycle)."""
    return {
        # PyTorch FSDP-style eager training (HF, NeMo AutoModel): flash attention, overlap, no TP
        # fusion beyond what eager PyTorch offers; FSDP2's collective copies over bf16 shards, as
        # AutoModel's ``FSDP2Manager`` runs a model loaded with ``torch_dtype: bf16`` and reduces
        # every micro-batch (``defer_fsdp_grad_sync: False``; NVIDIA-NeMo/Automodel
        # examples/llm_pretrain/llama3_1_70b_pretrain_benchmark_8nodes_tp1cp2pp1*.yaml)
        "fsdp": Engine("fsdp", True, True, True, False, 2, False, fsdp2_copies=True,
                       fsdp2_shard_bytes=2, fsdp2_exposed_edges=True),
        # torchtitan (FSDP2 in eager PyTorch): its ``selective`` is the op-level policy
        # (``selective_ac_option = "op"`` in its shipped train_configs) and FSDP reduces gradients
        # in fp32 (``training.mixed_precision_reduce`` default "float32",
        # torchtitan/config_manager.py)
        # torchtitan's loss is eager ``F.cross_entropy`` on fp32 logits (2024: the Llama model
        # returns ``self.output(h).float()``; later torchtitan/components/loss.py
        # ``cross_entropy_loss`` upcasts with ``pred.flatten(0, 1).float()``)
        # Its default norm is eager fp32 ``RMSNorm`` (train_configs ``norm_type = "rmsnorm"``).
        "torchtitan": Engine(
            "torchtitan",
            True,
            True,
            True,
            False,
            4,
            False,
            selective="op",
            loss_bytes_per_logit=12,
            loss_parallel_bytes_per_logit=16,
            eager_rmsnorm=True,
            fsdp2_copies=True,
            fsdp2_root_unsharded=True,
            eager_final_norm=True,
            torch_foreach_adamw=True, fsdp2_exposed_edges=True, eager_llama_ops=True,
            complex_rotary=True, fsdp2_grad_assign=True, separate_linears=True,
            torch_cp=True,
        ),
        # torchtitan with ``training.compile``: each TransformerBlock is torch.compile'd
        # (``apply_compile``), so Inductor fuses the block's elementwise chains (norms,
        # SiLU-and-product, residual adds; not the complex rotary); the loss stays eager
        "torchtitan-compile": Engine(
            "torchtitan-compile", True, True, True, False, 4, True, selective="op",
            loss_bytes_per_logit=12, loss_parallel_bytes_per_logit=16, fsdp2_copies=True,
            fsdp2_root_unsharded=True, sac_min_cut=True, eager_final_norm=True,
            torch_foreach_adamw=True, fsdp2_exposed_edges=True, complex_rotary=True,
            fsdp2_grad_assign=True, separate_linears=True, torch_cp=True,
        ),
        # NeMo AutoModel's MoE benchmarks (examples/benchmark/configs/deepseek_v3_te_deepep*.yaml:
        # FSDP2Manager, AutoPipeline ``interleaved1f1b``, ``enable_deepep: true``,
        # ``fake_balanced_gate: true``, ``reshard_after_forward: false``): the eager FSDP engine
        # with DeepEP dispatch, the benchmark's fixed expert blocks and FSDP2 under the pipeline
        # schedule
        "automodel-deepep": Engine(
            "automodel-deepep", True, True, True, False, 2, False,
            ep_dispatch="deepep", moe_routing="blocks", zero3_per_step=True,
        ),
        # MosaicML Composer / llm-foundry as benchmarked in 2023 (scripts/train/benchmarking/
        # submit_benchmarks.py: image mosaicml/pytorch:1.13.1, ``--attn_impl`` default ``triton``):
        # FSDP in eager PyTorch with the Triton port of the first FlashAttention algorithm (the
        # one that takes MPT's ALiBi bias), and PyTorch FSDP's FlatParameter gradient passes
        # (the H100 tables: ``sweep.sh`` ``IMAGE=mosaicml/pytorch:2.0.1_cu118``).
        "llm-foundry-2023": Engine(
            "llm-foundry-2023", True, True, True, False, 2, False, False, flash_generation=1,
            fsdp_grad_passes=True,
        ),
    }
