"""Inference capacity: memory, step times and request rates of LLM serving configurations.

API
---
- ``hw.hardware(name, profile_path=None) -> Hardware``: achievable rates of a chip (catalog +
  ``gpuwise.planner.efficiency``, or a ``gpuwise calibrate`` profile). The only module that
  talks to the hardware models.
- ``memory.memory_fit(model, memory_bytes, tp, weights, kv, seq) -> MemoryFit``: weights per
  precision, GQA-aware KV cache, max concurrent sequences.
- ``timing.Deployment(model, hw, tp, weights, activations, kv)``;
  ``timing.decode_step(dep, batch, context)`` and ``timing.prefill(dep, batch, prompt)`` ->
  ``StepTime`` (memory / compute / dequant / kernel overhead / TP all-reduce parts).
  ``Deployment(..., ops_per_layer=N)`` gives the implementation's ops per decoder layer.
- ``measured.decode_step_measured``: the decode step per weight shape, used by
  ``timing.decode_step`` when the hardware's profile has decode-shaped measurements
  (``gpuwise calibrate``: GEMV bandwidth, m x n x k decode GEMMs, per-op dispatch cost).
- ``batching.max_rate(dep, Workload, Slo, max_batch)``: continuous batching at a rate.
- ``search.search(...)``: every (model, GPU, TP, precision) option, ranked by GPUs needed.
- ``plan.single / plan_rate / compare``: the ``gpuwise plan serve`` results (JSON contract).
"""
