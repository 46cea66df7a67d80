"""The planner's memory and time models against real PyTorch training on this CPU.

1. Calibrate this CPU (training GEMMs at several sizes in fp32/bf16, STREAM bandwidth, the
   effective bandwidth of training's elementwise kernels, gloo all-reduce).
2. For small GPT configurations, predict one optimizer step with the planner's time model
   (``gpuwise.planner.time.step_time``) fed by ``Hardware.from_profile`` -- exactly what
   ``plan train --device-profile`` uses -- run the same steps in PyTorch (bf16 mixed
   precision, fp32 master weights and AdamW), and print predicted / measured.  Target:
   within +-30 %.  Steps and microbenchmarks are timed in CPU seconds of this process
   (single-threaded), so other processes on the machine do not inflate them.
3. Count the bytes of one step (weights, gradients, optimizer states, saved activations) and
   print the planner's memory model over the counts.  Target: within +-5 %.

The engine given to the planner describes what runs here: eager PyTorch (no fused kernels),
no tensor/sequence parallelism, one process.  Nothing is fitted.

    .venv/bin/python benchmarks/bench_cpu_validation.py [--quick] [--threads 1] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gpuwise.calibrate.microbench import calibrate, step_clock
from gpuwise.calibrate.profile import DeviceProfile
from gpuwise.planner.engines import Engine
from gpuwise.planner.hardware import Hardware
from gpuwise.planner.memory import memory_breakdown
from gpuwise.planner.models import ModelConfig
from gpuwise.planner.parallel import Setup, single
from gpuwise.planner.time import step_time

# (label, model, micro_batch, seq, grad_accum, flash)
CONFIGS: list[tuple[str, ModelConfig, int, int, int, bool]] = [
    ("gpt-gelu-4L-256h", ModelConfig(name="gpt-4l", layers=4, hidden=256, heads=4, vocab=2048,
                                     ffn_type="gelu", tied_embeddings=True, learned_pos_emb=True,
                                     bias=True, norm="layernorm", dropout=True, seq_len=256),
     4, 256, 2, False),
    ("llama-swiglu-4L-384h", ModelConfig(name="llama-4l", layers=4, hidden=384, heads=6,
                                         kv_heads=2, ffn=1024, ffn_type="swiglu", vocab=4096,
                                         seq_len=512),
     2, 512, 2, True),
    ("mpt-gelu-6L-512h", ModelConfig(name="mpt-6l", layers=6, hidden=512, heads=8, vocab=4096,
                                     ffn_type="gelu", tied_embeddings=True, norm="layernorm",
                                     seq_len=256),
     4, 256, 1, True),
]


def eager_engine(flash: bool, grad_bytes: int) -> Engine:
    """Eager PyTorch on one CPU process: unfused kernels, no TP/SP, nothing to overlap."""
    return Engine("eager-cpu", flash_attention=flash, sequence_parallel=False, overlap_dp=False,
                  overlap_tp=False, grad_bytes=grad_bytes, fused_kernels=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="quick calibration")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--profile", help="use this device profile instead of calibrating")
    ap.add_argument("--save-profile", help="write the calibrated profile here")
    args = ap.parse_args(argv)

    import torch

    from gpuwise.calibrate.torch_train import count_memory, time_steps

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.profile:
        profile = DeviceProfile.load(args.profile)
    else:
        profile = calibrate("cpu", quick=args.quick, threads=args.threads,
                            precisions=("fp32", "bf16"))
    if args.save_profile:
        profile.save(args.save_profile)
    print(f"device: {profile.name}, {profile.threads} thread(s); calibration "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"  bf16 GEMM best {profile.peak_tflops('bf16') or 0:.3f} TFLOP/s, fp32 best "
          f"{profile.peak_tflops('fp32') or 0:.3f} TFLOP/s, stream {profile.mem_bw_gbs:.1f} GB/s, "
          f"all-reduce {profile.allreduce_gbs or 0:.2f} GB/s")
    ew = profile.elementwise_gbs or profile.mem_bw_gbs
    print(f"  elementwise kernels ({profile.elementwise_precision}): mix {ew:.1f} GB/s; "
          + ", ".join(f"{k} {v:.1f}" for k, v in profile.elementwise_detail.items()))
    # What `plan train --device-profile` uses: every measured kernel class (GEMM shapes,
    # elementwise bandwidth, attention fwd/bwd, dropout) replaces its modelled rate.
    hw = Hardware.from_profile(profile)

    print("\ntime model (one optimizer step, bf16 mixed precision; seconds of CPU time):")
    print(f"  {'config':<22} {'tokens':>7} {'measured':>9} {'predicted':>9} {'ratio':>6}")
    ratios = []
    for label, cfg, mb, seq, accum, flash in CONFIGS:
        setup = Setup(seq=seq, global_batch=mb * accum, gpus=1,
                      engine=eager_engine(flash, grad_bytes=2))
        pred = float(step_time(cfg, single(micro_batch=mb), setup, hw)["step"][0])
        times = time_steps(cfg, mb, seq, args.steps, grad_accum=accum, precision="bf16",
                           grad_bytes=2, flash=flash, clock=step_clock("cpu", args.threads))
        meas = statistics.median(times)
        ratios.append(pred / meas)
        print(f"  {label:<22} {mb * accum * seq:>7} {meas:>9.4f} {pred:>9.4f} "
              f"{pred / meas:>6.2f}")

    print("\nmemory model (one micro-batch; planner / counted bytes):")
    print(f"  {'config':<22} {'weights':>8} {'grads':>8} {'optim':>8} {'activ':>8}")
    mem_ratios = []
    for label, cfg, mb, seq, _accum, flash in CONFIGS:
        grad_bytes = 2 if flash else 4
        real = count_memory(cfg, mb, seq, precision="bf16", grad_bytes=grad_bytes, flash=flash)
        setup = Setup(seq=seq, global_batch=mb, gpus=1,
                      engine=eager_engine(flash, grad_bytes=grad_bytes))
        br = memory_breakdown(cfg, single(micro_batch=mb), setup, profile.memory_gib)
        pairs = [(float(br["weights"][0]), real.weights),
                 (float(br["gradients"][0]), real.gradients),
                 (float(br["optimizer"][0]), real.optimizer),
                 (float(br["activations"][0] + br["logits"][0]), real.activations)]
        rs = [p / r for p, r in pairs]
        mem_ratios += rs
        print(f"  {label:<22} " + " ".join(f"{r:>8.3f}" for r in rs))

    print("\nattention core (flash configs): measured SDPA vs the GEMM rate of its shape")
    for label, cfg, _mb, seq, _accum, flash in CONFIGS:
        if not flash or not profile.attention:
            continue
        gemm = profile.gemm_tflops_at(seq, seq, cfg.hd, "bf16")
        print(f"  {label:<22} seq {seq} d {cfg.hd}: SDPA fwd "
              f"{profile.attention_tflops_at(seq, cfg.hd, 'fwd'):.3f} / bwd "
              f"{profile.attention_tflops_at(seq, cfg.hd, 'bwd'):.3f} TFLOP/s; "
              f"GEMM ({seq}x{seq}x{cfg.hd}) {gemm:.3f} TFLOP/s")

    worst_t = max(abs(r - 1) for r in ratios)
    worst_m = max(abs(r - 1) for r in mem_ratios)
    print(f"\ntime: worst |ratio - 1| = {worst_t:.2f} (target <= 0.30) "
          f"{'OK' if worst_t <= 0.30 else 'MISS'}")
    print(f"memory: worst |ratio - 1| = {worst_m:.3f} (target <= 0.05) "
          f"{'OK' if worst_m <= 0.05 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
