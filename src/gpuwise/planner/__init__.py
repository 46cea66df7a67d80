"""Training planner: model shapes, memory, FLOPs, achievable efficiency, step time, search.

Stable API (other modules import these names):

- ``gpuwise.planner.models``: ``ModelConfig`` (frozen pydantic; ``num_params()``,
  ``active_params()``, ``kv_bytes_per_token(bytes_per_elem)``, ``layer_params(moe)``,
  ``embedding_params()``, ``with_updates(**changes)``), ``get_model(name)`` (lower-case dashed
  preset names; ``GpuwiseError`` with suggestions), ``list_models()``.
- ``gpuwise.planner.efficiency``: ``achievable_tflops(acc, m, n, k, precision)``,
  ``gemm_time_s(acc, m, n, k, precision, count)``, ``achievable_mem_bw_gbs(acc)``,
  ``large_gemm_fraction(acc, precision="bf16")`` (= ``burst_gemm_fraction(acc, precision) *
  sustained_clock_ratio(acc)``; FP8 has its own measured burst ceiling),
  ``link_gbs(acc)``.
- ``gpuwise.planner.hardware``: ``Hardware`` (``from_catalog(acc)`` / ``from_profile(profile)``;
  ``gemm_time``, ``stream_time``, ``peak_tflops``, ``supports(precision)``; with a profile's
  optional measurements also ``attention_time`` and ``kernel_time(nbytes, "dropout")``; still
  importable from ``gpuwise.planner.efficiency``).
- ``gpuwise.planner.flops``: ``model_flops_per_token(model, seq)``,
  ``hardware_flops_per_token(model, seq, recompute)``, ``flops_per_step(model, seq,
  global_batch, recompute)``, ``narayanan_flops_per_iteration``, ``korthikanti_model_flops``,
  ``korthikanti_hardware_flops`` (the paper's HFU numerator).
- ``gpuwise.planner.memory``: ``zero_model_state_bytes(psi, n, stage, ...)``,
  ``layer_activation_bytes(..., act_bytes=2.0, mask_bytes=1.0)``,
  ``memory_breakdown(model, cands, setup, hbm_gib, act_bytes=2.0, mask_bytes=1.0,
  runtime=None)``.
- ``gpuwise.planner.overhead``: ``runtime_overhead(vendor, name, engine) -> RuntimeOverhead``
  (CUDA context outside the caching allocator, cuBLAS/cuBLASLt/Transformer Engine workspaces
  inside it).
- ``gpuwise.planner.evaluate``: ``evaluate_config(model, gpu, *, seq, global_batch, gpus,
  tp, pp, vpp, cp, ep, zero, recompute, micro_batch, precision, engine, tokens,
  net_gbs_per_gpu) -> dict`` (one configuration: ``memory_gib`` per term, ``fits``,
  ``time_s`` per term, FLOPs per step, tokens/s per GPU, TFLOP/s, MFU, HFU, days, GPU-hours,
  energy) and the vectorized ``evaluate(model, hw, setup, cands)``.
- ``gpuwise.planner.engines``: ``Engine`` / ``ENGINES`` (software behaviour presets; also
  importable from ``gpuwise.planner.parallel``); ``gpuwise.planner.parallel``:
  ``Setup`` (run inputs), ``Candidates`` (arrays), ``single(...)``.
- ``gpuwise.planner.search``: ``search(model, hw, setup, fixed, top) -> SearchResult``
  (``ranked`` rows in the ``plan train --json`` shape, ``evaluated``, ``rejected`` by reason).
- ``gpuwise.planner.request``: ``build_model(preset, **dims)``, ``parse_count("2T")``,
  ``parse_duration_days("14d")`` -- CLI input parsing with one-line errors.
"""
