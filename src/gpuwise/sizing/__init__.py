"""Model sizing: compute-optimal and inference-aware model size for a GPU budget.

API
---
- ``laws.load_laws() -> Laws``: the fits of ``scaling_laws.yaml`` (each with its source);
  ``Laws.optimum(fit, flops) -> (params, tokens)`` for ``fit`` in ``approach1``, ``hoffmann``,
  ``besiroglu``; ``Laws.loss_law(fit).loss(params, tokens)``.
- ``inference_aware.inference_optimal(law, loss, inference_tokens)``: the size minimizing
  training + lifetime inference FLOPs at a target loss (Sardana et al. 2023).
- ``budget.training_throughput(params, gpu, gpus, seq)``: achievable tokens/s per GPU from
  the training planner (``gpuwise.planner.evaluate``) for a Llama-shaped model of that size.
- ``plan.plan_size(Budget(...), fit, inference_tokens, serve_gpu) -> dict``: the
  ``gpuwise plan size`` result (JSON contract).
- ``quality.preset_loss(name, params)``: scaling-law loss of a published preset (known tokens).
"""
