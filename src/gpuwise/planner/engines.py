"""Training-engine presets: how the training software behaves.

:class:`Engine` captures what a training stack does that changes memory and time (flash
attention, sequence parallelism, which collectives overlap compute, gradient precision, the
extra passes an implementation runs); :data:`ENGINES` holds the named presets of real engines
(Megatron-LM 2021/2022, Megatron-Core/Transformer Engine and its overlap variants; the FSDP,
torchtitan, NeMo AutoModel and llm-foundry presets of :mod:`gpuwise.planner.engines_fsdp`; the
Megatron-DeepSpeed presets of :mod:`gpuwise.planner.engines_deepspeed`).  Each flag encodes
documented behaviour, cited where it is set, not a fitted constant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpuwise.planner.engines_deepspeed import deepspeed_presets
from gpuwise.planner.engines_fsdp import fsdp_presets

#: What ``recompute="selective"`` re-runs: "attention" = the attention core (Korthikanti et al.
#: 2022 sec. 5, Megatron-LM's ``--recompute-granularity selective``); "op" = torchtitan's
#: op-level selective AC (every second matmul and all non-matmul ops; ``planner/recompute.py``)
SELECTIVE = ("attention", "op")

@dataclass(frozen=True)
class Engine:
    """Training-software behaviour that changes memory and time."""

    name: str = "modern"
    flash_attention: bool = True  # attention scores never materialized (Dao et al. 2022)
    sequence_parallel: bool = True  # Korthikanti et al. 2022 SP whenever TP > 1
    overlap_dp: bool = True  # gradient reduce-scatter/all-reduce overlaps backward
    # Transformer Engine userbuffers TP overlap (``tp_comm_overlap``): each TP collective runs
    # under its own GEMM (planner.tp_overlap); off unless the run's config turns it on
    overlap_tp: bool = False
    grad_bytes: int = 2  # bytes per gradient element kept and reduced (4 = fp32 main grads)
    fused_kernels: bool = True  # fused bias/dropout/add, fused softmax, fused norms
    # weight-gradient GEMMs accumulate straight into the fp32 main-grad buffer (Megatron-LM's
    # gradient_accumulation_fusion, apex fused_weight_gradient_mlp_cuda) instead of a separate
    # ``main_grad += grad`` pass over every parameter each micro-batch (off unless the engine is
    # known to fuse it: eager autograd accumulates ``.grad`` with a separate add)
    grad_acc_fusion: bool = False
    # flash-attention kernel generation: 2 = FlashAttention-2 work partitioning (and later);
    # 1 = the original algorithm (FlashAttention-1 CUDA, or its Triton port with ALiBi bias)
    flash_generation: int = 2
    # the attention kernel uses Hopper's own instructions on sm90: Transformer Engine disables
    # FlashAttention "to give FusedAttention preference on Hopper+" (cuDNN;
    # ``transformer_engine/pytorch/attention.py`` ``get_attention_backend``); FlashAttention-2
    # and the Triton port issue Ampere's ``mma.sync`` there (``gpuwise.planner.flash_rate``)
    hopper_attention: bool = False
    # Megatron-LM's local DDP divides the contiguous fp32 gradient buffer by the data-parallel
    # size before its all-reduce -- every step, also when DP = 1 (``buffer_.data /=
    # mpu.get_data_parallel_world_size()`` in ``megatron/model/distributed.py``
    # ``allreduce_gradients``, called unconditionally from ``train_step`` for ``--DDP-impl
    # local``): one more read + write of every local gradient.  Megatron-Core skips the
    # scaling when its factor is 1 and folds it into the collective otherwise.
    grad_buffer_scale: bool = False
    # Megatron-LM's local DDP (contiguous buffers, the default from 2021) accumulates weight
    # gradients that are not fused into the wgrad GEMM through a hook on every parameter, every
    # micro-batch: ``param.main_grad.add_(param.grad.data)``, then ``param.grad = None``
    # (``megatron/model/distributed.py`` ``_make_param_hook``).  The add reads the new 16-bit
    # gradient as well as reading and writing the buffer: 2 + 2 x ``grad_bytes`` per element,
    # where the generic unfused charge is 2 x ``grad_bytes``.
    grad_hook_add: bool = False
    # FP8 runs gather FP8 (1-byte) tensors for sequence parallelism: Transformer Engine, which
    # runs Megatron-Core's FP8 layers, all-gathers the FP8 norm output and the FP8 output
    # gradient (pytorch/module/layernorm_linear.py, base.py ``grad_output_preprocess``)
    fp8_gathers: bool = False
    # fp16 mixed precision with a loss scaler: every step the optimizer unscales the fp32 main
    # gradients and checks them for inf/nan in one more read + write of every local gradient
    # (Megatron-LM ``Float16OptimizerWithFloat16Params.step`` ->
    # ``_unscale_main_grads_and_check_for_nan`` -> ``torch._amp_foreach_non_finite_check_and_
    # unscale_``, run whenever a grad scaler exists, i.e. for every ``--fp16`` run).  bf16 runs
    # have no scaler and skip it.
    fp16_loss_scaling: bool = False
    # the optimizer works on fp32 copies of 16-bit model gradients: Megatron-LM's fp16 optimizer
    # (``Float16OptimizerWithFloat16Params._copy_model_grads_to_main_grads``:
    # ``main_param.grad = model_param.main_grad.float()``, or ``model_param.grad.float()``)
    # reads every ``grad_bytes`` model gradient and writes a 4-byte one once per step; the
    # unscale, clipping-norm and Adam passes then read the 4-byte copy.  Only where the model
    # gradients are 16-bit (no ``--accumulate-allreduce-grads-in-fp32``, which makes the
    # copy's source fp32 and the planner's ``grad_bytes`` 4 already)
    main_grad_copy: bool = False
    # the tensor-parallel collectives of the vocab-parallel embedding, output layer and loss
    # run on the critical path in Megatron-LM 2021-2022's form (``time._vocab_comm``): the
    # embedding all-reduces its output even under sequence parallelism and then splits it
    # (``VocabParallelEmbedding`` ends in ``reduce_from_tensor_model_parallel_region``;
    # ``Embedding.forward`` then calls ``scatter_to_sequence_parallel_region``).  Off for the
    # other presets: how Megatron-Core / torchtitan overlap them was not read.
    vocab_comm: bool = False
    # what ``recompute="selective"`` means for this engine (one of :data:`SELECTIVE`)
    selective: str = "attention"
    # peak bytes per logit of the loss, held on top of the activations: 4 = one fp32 copy
    # (Megatron-LM's vocab-parallel cross-entropy upcasts once and works in place, keeping the
    # softmax for backward); 6 = that copy beside the 16-bit logits (Megatron-Core, see
    # ``_MODERN``); 12 = eager ``F.cross_entropy(logits.float(), ...)``, whose backward
    # holds three fp32 V-wide tensors at once: the saved log-softmax output, the gradient
    # ``nll_loss_backward`` creates and the one ``_log_softmax_backward_data`` writes
    # (PyTorch tools/autograd/derivatives.yaml: ``_log_softmax`` saves ``result``)
    loss_bytes_per_logit: int = 4
    # the same peak with tensor parallelism when the engine runs PyTorch's loss parallel over the
    # vocab shards (0: as ``loss_bytes_per_logit``); torchtitan turns it on whenever TP > 1
    # (``enable_loss_parallel=not training.disable_loss_parallel``), and its fused backward,
    # ``(grad_input + exp(x)) * grad_output`` (pytorch/pytorch
    # ``torch/distributed/tensor/parallel/loss.py`` ``_nll_loss_and_log_softmax_backward``
    # @3be12382), holds four fp32 V-wide tensors: the saved log-softmax ``x``, the zeroed
    # ``grad_input``, ``exp(x)`` and their sum -> 16
    loss_parallel_bytes_per_logit: int = 0
    # RMSNorm as separate eager fp32 ops (torchtitan's ``norm_type = "rmsnorm"``) instead of a
    # fused kernel (``layer_time.EAGER_NORM_BYTES``); torch.compile fuses it again
    eager_rmsnorm: bool = False
    # Transformer Engine's column-parallel backward collectives run asynchronously also without
    # userbuffers: the input re-gather under the dgrad GEMM, the input-gradient reduce-scatter
    # under the wgrad GEMM (TransformerEngine@3ec87875 pytorch/module/layernorm_linear.py
    # backward; planner.tp_overlap), each still exposing the share of the GEMM's SMs its NCCL
    # blocks hold while it runs (``efficiency.nccl_ctas``, ``tp_overlap.nccl_beside_gemm``)
    tp_async_bwd: bool = False
    # userbuffers forward reduce-scatters (``proj_fprop``, ``fc2_fprop`` of the run's
    # TransformerLayerTPOverlapCfg): 0 = ``ring_exchange`` (TP chunks), k = ``pipeline`` with
    # ``num_splits`` k; SMs their kernels take from the GEMM (``num_sm`` if ``set_sm_margin``)
    ub_rs_splits: tuple[int, int] = (0, 0)
    ub_rs_sms: tuple[int, int] = (1, 1)
    # Megatron-Core ``overlap_p2p_comm``: in the interleaved schedule, pipeline sends/receives
    # run asynchronously under the next model chunk's compute (``pp_post_forward`` /
    # ``pp_pre_forward`` in ``pipeline_parallel/schedules.py``)
    overlap_p2p: bool = False
    # distributed optimizer's parameter all-gather under the next step's forward (Megatron-Core
    # ``overlap_param_gather``; apex DistributedFusedAdam ``overlap_param_sync`` in NeMo 1.0)
    overlap_param_gather: bool = False
    # MoE dispatch/combine: "nccl" all-to-all of every routed copy, or "deepep" = DeepEP's
    # internode normal kernels, one RDMA copy per destination node (planner.moe_comm)
    ep_dispatch: str = "nccl"
    # which experts the EP traffic is charged for (planner.moe_comm.ROUTINGS): "uniform" =
    # balanced random top-k; "blocks" = NeMo AutoModel's benchmark ``FakeBalancedGate``
    moe_routing: str = "uniform"
    # Megatron-Core ``expert_tensor_parallel_size=1`` (its default is the attention TP size):
    # the experts are not split over TP; each rank routes its own sequence shard and the EP
    # group takes consecutive ranks (``initialize_model_parallel``'s expert ``RankGenerator``,
    # tp = the expert TP size); planner.expert_tp
    expert_tp1: bool = False
    # Megatron-Core ``overlap_moe_expert_parallel_comm`` with ``delay_wgrad_compute``
    # (Megatron-Bridge ``moe_a2a_overlap``): a layer's forward and another micro-batch's
    # backward run together, the EP all-to-all under the other's compute (planner.moe_overlap)
    ep_a2a_overlap: bool = False
    # Megatron-Core's MoE layer (fused permutation, ``TEGroupedMLP``): its token permutation,
    # chunk sort and FP8 padding kernels (planner.moe_permute) instead of the generic charge
    mcore_moe: bool = False
    # ZeRO-3 (FSDP2) under torch.distributed.pipelining: the schedule keeps each stage's
    # parameters unsharded and its gradients unreduced until the last micro-batch's backward
    # (``backward_maybe_with_nosync``: ``set_reshard_after_backward(False)``,
    # ``set_requires_gradient_sync(False)``, then ``post_backward`` once; pytorch/pytorch
    # torch/distributed/pipelining/stage.py @88fa1e71), so the gathers and the reduce-scatter
    # run once per step, not per micro-batch
    zero3_per_step: bool = False
    # FP8 layers save the FP8-cast GEMM inputs (1 byte) for the weight-gradient GEMM instead of
    # the 16-bit ones: Transformer Engine's ``_Linear``/``_LayerNormLinear`` forward keeps
    # ``inputmat``/``ln_out`` after the FP8 cast when ``fp8`` is on
    # (TransformerEngine@3ec87875 pytorch/module/linear.py, layernorm_linear.py
    # ``ln_out_to_save``; TE 1.x ``saved_inputmat = inputmat`` likewise); the attention core
    # still saves its 16-bit output, so the projection's FP8 copy of it comes on top
    # (planner.memory ``layer_activation_bytes``); the MoE experts' ``GroupedLinear`` keeps
    # its inputs' column-wise FP8 data likewise (planner.moe_memory)
    fp8_saved_inputs: bool = False
    # the optimizer's fused multi-tensor kernels launch at most 320 blocks at a time (apex /
    # Transformer Engine ``multi_tensor_apply``: FusedAdam, the clipping norm; PyTorch's
    # foreach kernels before 2024), which costs a measured factor on their passes
    # (planner.optimizer_step); PyTorch's fused/foreach AdamW now launch up to 2240 blocks
    split_multi_tensor_launch: bool = False
    # PyTorch FSDP (torch 1.13-2.0 FlatParameter) streams each unit's whole unsharded gradient
    # every micro-batch before its reduce-scatter: the split-backward concat, the cast to the
    # reduce dtype, ``F.pad``'s copy and the pre-division (planner.fsdp_grad); ZeRO-2/3 only
    fsdp_grad_passes: bool = False
    # FSDP2 (``fully_shard``) packs and unpacks every collective with copy kernels each
    # micro-batch: the all-gather copy-in (cast of the fp32 shard) and ``split_with_sizes_copy``
    # copy-out, the reduce-scatter's ``_chunk_cat`` copy-in with its cast to the reduce dtype
    # (planner.fsdp2_copies); ZeRO-2/3 only
    fsdp2_copies: bool = False
    # FSDP2 never reshards the root unit after forward (pytorch/pytorch
    # torch/distributed/_composable/fsdp/_fsdp_state.py ``FSDPState._lazy_init`` clears the root
    # group's ``post_forward_mesh_info``, torch 2.4-2.6); torchtitan's root holds the embedding,
    # final norm and output layer (torchtitan@004b3148 ``apply_fsdp``: one unit per block,
    # then ``fully_shard(model)``), 16-bit and unsharded at the loss's peak (planner.memory
    # ``root_unsharded_bytes``); ZeRO-3 only
    fsdp2_root_unsharded: bool = False
    # op-level SAC inside torch.compile'd blocks: the policy's tags go to AOTAutograd's min-cut
    # partitioner, where a ``MUST_SAVE`` node only gets an infinite edge from the source and
    # the saved values are the cut nodes between source and the backward's required nodes
    # (pytorch/pytorch ``torch/_functorch/partitioners.py`` ``solve_min_cut``,
    # ``ban_recomputation_if_allowed``), so a kept output no backward op reads is not saved;
    # eager SAC stores every ``MUST_SAVE`` output (planner.recompute)
    sac_min_cut: bool = False
    # the final norm is torchtitan's eager fp32 ``RMSNorm`` (``_norm(x.float()).type_as(x) *
    # weight``, torchtitan@026e23a9 torchtitan/models/norms.py), also under compile (blocks
    # only): autograd saves its input's fp32 copy (``pow``/``mul`` save ``self``, PyTorch
    # tools/autograd/derivatives.yaml) and its 16-bit output, 4 + 2 bytes per element
    eager_final_norm: bool = False
    # bytes per element of the parameter shards FSDP2 keeps: 4 = fp32 shards cast to bf16 for
    # each all-gather (torchtitan: ``MixedPrecisionPolicy(param_dtype=bfloat16)`` over an fp32
    # model), 2 = a model stored in bf16 (no cast)
    fsdp2_shard_bytes: int = 4
    # bytes per parameter of the optimizer's master weight (its data-parallel shard): 4 = an
    # fp32 copy; 2 = apex ``DistributedFusedAdam(store_param_remainders=True)``, which keeps
    # only the low 16 bits of each fp32 master (an int16 shard beside the fp32 Adam moments,
    # NVIDIA/apex ``apex/contrib/optimizers/distributed_fused_adam.py`` ``StateBucket``) and
    # rebuilds the master from the bf16 model weight; NeMo 1.0 turns it on for a bf16 model
    # with an fp32 optimizer (NVIDIA/NeMo ``megatron_base_model.py`` ``setup_optimization``,
    # ``optim.name: distributed_fused_adam`` without ``fp8_params``) -- memory only
    master_weight_bytes: int = 4
    # bytes per embedding/output-layer gradient element (0: ``grad_bytes``); 4 under NeMo 1.0's
    # apex optimizer, which puts ``_with_fp32_optimizer`` parameters (NVIDIA/NeMo@000316c8
    # ``megatron_base_model.py`` ``setup_optimization``) in fp32 grad buckets whatever the run's
    # ``grad_sync_dtype`` (NVIDIA/NeMo@014d03cf ``nemo/core/optim/distributed_adam.py``
    # ``init_params_bucket``) -- memory only, their fp32 reduce-scatter is not priced
    emb_grad_bytes: int = 0
    # the embedding and the loss take one layer slot each of the pipeline split (Megatron-Core
    # ``account_for_{embedding,loss}_in_pipeline_split``; Llama 3, arXiv 2407.21783 sec. 3.3.2):
    # memory only (``planner.pipeline_memory``), the step time keeps the even split
    pipeline_split_embedding_loss: bool = False
    # the receiving pipeline stage re-assembles its scatter/gather p2p slices (no SP) with
    # ``torch.distributed.all_gather`` into a list of views of one buffer (Megatron-LM 2021
    # ``mpu.gather_split_1d_tensor``, NVIDIA/Megatron-LM@05042081 megatron/mpu/random.py), which
    # ProcessGroupNCCL runs into a flat scratch tensor and then copies chunk by chunk into the
    # list (pytorch/pytorch@00f5dfd5 torch/lib/c10d/ProcessGroupNCCL.cpp ``allgather``): one
    # more read + write of every received activation.  Megatron-LM later switched to
    # ``_all_gather_base`` to drop these internal copies.
    p2p_gather_copy: bool = False
    # Transformer Engine FP8 recipe: False = delayed scaling (TE's default ``DelayedScaling``,
    # NeMo 1.0), True = per-tensor current scaling (``Float8CurrentScaling``; Megatron-Bridge's
    # performance scripts ``get_precision_config(compute_dtype="fp8", fp8_recipe="cs")`` ->
    # ``bf16_with_fp8_current_scaling_mixed``): an amax pass before every cast and unfused norm
    # casts (planner.fp8)
    fp8_current_scaling: bool = False
    # NeMo ``model.fp8_params``: layer weights built as TE ``Float8Tensor``s (``fp8_model_init``
    # in NeMo ``megatron_gpt_model.py``), no 16-bit copy; fp32 master in the optimizer
    # (``setup_optimization``: ``store_params=True``) -- memory only (memory.gemm_weight_bytes)
    fp8_params: bool = False
    # DeepSpeed's pipeline engine ships a tensor-parallel stage's output and input gradient as
    # a ``PartitionedTensor`` (metadata + 1/t slice, rebuilt by ``full()``: zeros, list
    # all-gather, clone), and the sending stage rebuilds its own output before each backward
    # (planner.pipeline ``partitioned_p2p``; no SP)
    p2p_partitioned: bool = False
    # each pipeline send and receive is a blocking call of its own, not one combined exchange
    # per neighbour pair (DeepSpeed ``TrainSchedule``; planner.pipeline ``uncombined_p2p``)
    p2p_uncombined: bool = False
    # DeepSpeed's BF16_Optimizer (bf16 with the pipeline engine) accumulates every micro-batch's
    # gradients into fp32 copies: ``update_hp_grads``: ``hp_grad.add_(lp.grad.to(fp32))``, a
    # cast to a temporary and an add (microsoft/DeepSpeed@06e39a56
    # ``deepspeed/runtime/bf16_optimizer.py``); with ``grad_bytes`` 4
    hp_grad_cast_add: bool = False
    # ZeRO-1 gradients are all-reduced whole, not reduce-scattered: the pipeline engine reduces
    # the BF16_Optimizer's fp32 gradients with ``buffered_allreduce_fallback``
    # (``_exec_reduce_grads`` -> ``_bf16_reduce_grads``, microsoft/DeepSpeed@195563a2
    # ``deepspeed/runtime/pipe/engine.py``); each rank then updates its partition and the
    # 16-bit parameters are all-gathered (``update_lp_params`` -> ``all_gather_dp_groups``)
    zero1_grad_allreduce: bool = False
    # the GEMMs run through Transformer Engine, which keeps its own cuBLASLt workspace beside
    # PyTorch's (``planner.overhead``); Megatron-Core's TE layers
    te_gemm_workspace: bool = False
    # CP all-gathers K and V, exposed, instead of a ring under the core (Llama 3, arXiv
    # 2407.21783 sec. 3.3.2; TE ``cp_comm_type="all_gather"``; planner.cp_comm)
    cp_allgather: bool = False
    # torch.optim.AdamW(foreach=True) on fp32 parameters with clip_grad_norm_(foreach=True) and
    # zero_grad() to None, as torchtitan builds it (planner.optimizer_step)
    torch_foreach_adamw: bool = False
    # FSDP2's root + first-block gather and reduce at a step's edges, unhidden (fsdp2_edges)
    fsdp2_exposed_edges: bool = False
    # torchtitan's eager Llama block kernels other than norms and rotary (planner.llama_block)
    eager_llama_ops: bool = False
    # torchtitan's fp32 complex rotary, eager or compiled (planner.llama_block)
    complex_rotary: bool = False
    # FSDP2 assigns a step's first reduced gradient shard, no add (time.step_time); ZeRO-2/3
    fsdp2_grad_assign: bool = False
    # one GEMM per nn.Linear (wq, wk, wv, wo, w1, w3, w2), not fused QKV / gate-up (layer_time)
    separate_linears: bool = False
    # CP is PyTorch's experimental ``context_parallel`` ring (torchtitan): K/V all-gathered at
    # the query head count, fp32 output merges and dK/dV exchanges per step (planner.torch_cp)
    torch_cp: bool = False

    @property
    def wgrad_out_bytes(self) -> float:
        """Bytes a weight-gradient GEMM moves per output element.  With gradient-accumulation
        fusion it accumulates into the ``grad_bytes``-wide main-grad buffer, reading and
        writing it (beta = 1: apex ``fused_weight_gradient_mlp_cuda.wgrad_gemm_accum_fp32``
        as Megatron-LM's ``LinearWithGradAccumulationAndAsyncCommunication`` calls it;
        Transformer Engine's wgrad ``general_gemm(..., out=main_grad, accumulate=True)``);
        otherwise it writes a 16-bit gradient that ``time.step_time``'s separate pass adds."""
        return 2.0 * self.grad_bytes if self.grad_acc_fusion else 2.0


#: Current Megatron-Core (Transformer Engine layers) / torchtitan: flash attention, SP, overlapped
#: gradient reduction, async column-parallel backward collectives; the ``modern-*`` presets add
#: the overlaps a run's own config turns on.
#: Its loss peaks at 6 bytes per logit: the output layer's 16-bit logits stay referenced in
#: ``GPTModel.forward`` while the vocab-parallel cross-entropy upcasts them with ``.float()``
#: (``VocabParallelCrossEntropy.calculate_logits_max``, NVIDIA/Megatron-LM
#: ``megatron/core/tensor_parallel/cross_entropy.py``, also its fused variant) and then works on
#: the fp32 copy in place; in backward the fp32 gradient is cast back to 16 bits (4 + 2 again).
_MODERN = Engine(
    "modern", True, True, True, False, 2, True, True, fp8_gathers=True, tp_async_bwd=True,
    hopper_attention=True, fp8_saved_inputs=True, split_multi_tensor_launch=True,
    loss_bytes_per_logit=6, te_gemm_workspace=True, mcore_moe=True,
)


def _userbuffers(
    name: str, rs_splits: tuple[int, int] = (0, 0), rs_sms: tuple[int, int] = (1, 1)
) -> Engine:
    """``modern`` with Transformer Engine's userbuffers TP overlap, Megatron-Core's
    ``overlap_p2p_comm`` and the parameter all-gather under the forward, as every userbuffers
    recipe read sets them; ``rs_splits``/``rs_sms`` are its reduce-scatter method and SMs."""
    return replace(
        _MODERN,
        name=name,
        overlap_tp=True,
        overlap_p2p=True,
        overlap_param_gather=True,
        ub_rs_splits=rs_splits,
        ub_rs_sms=rs_sms,
    )


#: Megatron-LM as used by Narayanan et al. 2021 (the paper's scripts, NVIDIA/Megatron-LM
#: examples/sc21/, "use commit 6985e589"): no flash attention, no SP, fused kernels, fp16 with a
#: static loss scale (CONFIG.sh ``--fp16 --loss-scale 8192``) and no
#: ``--accumulate-allreduce-grads-in-fp32``, so the model gradients are fp16 (2 bytes): the
#: local DDP's contiguous gradient buffer (on unless ``--no-contiguous-buffers-in-local-ddp``,
#: megatron/arguments.py at 6fd0b406, a commit that carries examples/sc21) takes the parameter
#: dtype unless that flag is set (``megatron/model/distributed.py`` ``_get_buffer_type``), and
#: the fp16 optimizer copies the gradients to fp32 main gradients (``main_grad_copy``).
#: ``--DDP-impl local`` (run_table_1.sh's 39B-1T rows) fills the buffer from per-parameter
#: hooks (``grad_hook_add``) and all-reduces it after the backward pass (``train_step`` ->
#: ``model.allreduce_gradients()``), dividing it by the data-parallel size first.
_MEGATRON_2021 = Engine(
    "megatron-2021",
    False,
    False,
    False,
    False,
    2,
    True,
    grad_buffer_scale=True,
    fp16_loss_scaling=True,
    vocab_comm=True,
    main_grad_copy=True,
    grad_hook_add=True,
    split_multi_tensor_launch=True,
    p2p_gather_copy=True,
)

ENGINES: dict[str, Engine] = {
    "megatron-2021": _MEGATRON_2021,
    # the same with ``--DDP-impl torch`` (run_table_1.sh's 1.7B-18B rows): PyTorch
    # DistributedDataParallel all-reduces the fp16 gradients in buckets from autograd hooks as
    # the last micro-batch's backward produces them (Megatron-LM runs the other micro-batches
    # under ``model.no_sync()``, ``forward_backward_no_pipelining``), and folds the division by
    # the data-parallel size into its bucket copy: no separate scaling pass.  The other
    # micro-batches' gradients accumulate in ``param.grad`` through autograd (no hook).
    "megatron-2021-torch-ddp": replace(
        _MEGATRON_2021,
        name="megatron-2021-torch-ddp",
        overlap_dp=True,
        grad_buffer_scale=False,
        grad_hook_add=False,
    ),
    # Megatron-LM as used by Korthikanti et al. 2022: adds sequence parallelism; weight
    # gradients accumulate inside the wgrad GEMM (LinearWithGradAccumulationAndAsyncCommunication).
    "megatron-2022": Engine(
        "megatron-2022",
        False,
        True,
        False,
        False,
        4,
        True,
        True,
        grad_buffer_scale=True,
        vocab_comm=True,
        split_multi_tensor_launch=True,
    ),
    "modern": _MODERN,
    # ... with ``overlap_p2p_comm`` and the parameter all-gather under the forward, without
    # userbuffers (NeMo-Framework-Launcher ``llama2_70b.yaml``: ``ub_tp_comm_overlap: false``,
    # ``overlap_p2p_comm: true``, ``overlap_param_sync: true``)
    "modern-overlap": replace(
        _MODERN, name="modern-overlap", overlap_p2p=True, overlap_param_gather=True
    ),
    # ... with userbuffers as Megatron-Bridge's H100 FP8 configs set them (``comm_overlap.py``
    # ``userbuffers_fp8_h100_h8192_tp4_mbs1_seqlen8192``, ``..._h16384_tp8_cp2_...``:
    # ring-exchange reduce-scatters on 1 SM) and overlap_p2p_comm (on for PP > 1, VP > 1)
    "modern-ub": _userbuffers("modern-ub"),
    # ... with NeMo-Framework-Launcher's ``ub_cfg_h100_h8192_tp4_mbs1_seqlen{4096,8192}``
    # (Llama 70B, TP 4): pipelined reduce-scatters, 4 splits, on 24 (proj) / 16 (FC2) SMs
    "modern-ub-h8192-tp4": _userbuffers("modern-ub-h8192-tp4", (4, 4), (24, 16)),
    # ... with ``ub_cfg_h100_{bf16,fp8}_h16384_tp8_cp2_mbs1_seqlen8192`` (Llama 3.1 405B, TP 8):
    # pipelined reduce-scatters, 4 splits, on 24 (proj) / 8 (FC2) SMs
    "modern-ub-h16384-tp8": _userbuffers("modern-ub-h16384-tp8", (4, 4), (24, 8)),
    # ... with the GPT-3 175B TP 4 userbuffers config of NVIDIA/dgxc-benchmarking
    # ``nemo_megatron/gpt3_175b_hydra.yaml`` (``ub_tp_comm_overlap_cfg``): pipelined
    # reduce-scatters, 4 splits, on 24 (proj) / 20 (FC2) SMs with ``set_sm_margin``
    "modern-ub-h12288-tp4": _userbuffers("modern-ub-h12288-tp4", (4, 4), (24, 20)),
    # ... with userbuffers on Transformer Engine's defaults (no ub config given: NeMo-Framework-
    # Launcher ``gpt3/175b.yaml``; TE ``initialize_ub``: pipelined reduce-scatters, 4 splits,
    # 16 SMs, no SM margin)
    "modern-ub-te-default": _userbuffers("modern-ub-te-default", (4, 4), (0, 0)),
}
# PyTorch FSDP engines (fsdp, torchtitan, AutoModel, llm-foundry): planner.engines_fsdp
ENGINES.update(fsdp_presets(Engine))
# DeepSpeed's pipeline engine on Megatron-DeepSpeed (MT-NLG, BLOOM): planner.engines_deepspeed
ENGINES.update(deepspeed_presets(_MEGATRON_2021))
