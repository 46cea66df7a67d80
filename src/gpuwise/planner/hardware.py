"""What the time model asks of one GPU (:class:`Hardware`): GEMM time, stream bandwidth, link
bandwidth -- modelled from the catalog by :mod:`gpuwise.planner.efficiency`, or measured by a
``gpuwise calibrate`` device profile."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from gpuwise.catalog import Accelerator
from gpuwise.planner.efficiency import (
    ArrayOrFloat,
    achievable_mem_bw_gbs,
    gather_link_gbs,
    gemm_time_s,
    link_gbs,
    peak_tflops,
)

#: Elementwise kernel classes the time model charges apart from the stream rate when a device
#: profile measured them (``DeviceProfile.elementwise_detail`` keys): dropout's forward kernel
#: draws random numbers, which on a CPU runs an order of magnitude below other elementwise work.
MEASURED_KERNELS: tuple[str, ...] = ("dropout",)


class Hardware:
    """What the time model asks of one GPU: GEMM time, stream bandwidth, link bandwidth.

    Built from the catalog (:meth:`from_catalog`, peaks x the model above) or from a measured
    device profile (:meth:`from_profile`, ``gpuwise calibrate``).  Each measured profile field
    replaces the modelled rate of the same kernel class; a field the profile lacks leaves the
    modelled rate exactly as it is:

    * GEMMs: ``gemm_tflops_at(m, n, k, precision)``;
    * memory-bound kernels: ``elementwise_gbs`` (training's elementwise kernels), else the
      STREAM ``mem_bw_gbs``;
    * the fused attention core: ``attention_tflops_at(seq, head_dim, "fwd" | "bwd")`` (else
      the published kernel rates of ``gpuwise.planner.flash_rate``);
    * the kernels named in :data:`MEASURED_KERNELS`: ``elementwise_detail[name]`` GB/s (else
      the memory-bound rate);
    * collectives: ``allreduce_gbs`` (else the catalog link).
    """

    def __init__(
        self,
        acc: Accelerator,
        mem_bw_gbs: float,
        link_gbs: float,
        gemm_tflops_at: Callable[[int, int, int, str], float] | None = None,
        measured_precisions: tuple[str, ...] = (),
        attention_tflops_at: Callable[[int, int, str], float] | None = None,
        kernel_gbs: Mapping[str, float] | None = None,
        dispatch_us: float | None = None,
        host_device: bool = False,
        gather_gbs: float | None = None,
    ) -> None:
        self.acc = acc
        self.mem_bw_gbs = mem_bw_gbs
        self.link_gbs = link_gbs
        # all-gather / reduce-scatter rate (gather_link_gbs); the all-reduce rate by default
        self.gather_gbs = link_gbs if gather_gbs is None else gather_gbs
        self._profile_gemm = gemm_tflops_at
        self._measured = measured_precisions
        self._profile_attention = attention_tflops_at
        self.kernel_gbs: dict[str, float] = dict(kernel_gbs or {})
        self.dispatch_us = dispatch_us  # measured CPU cost of one eager op (planner.launch)
        self.host_device = host_device  # a CPU device: ops run on the issuing thread

    @classmethod
    def from_catalog(cls, acc: Accelerator) -> Hardware:
        mem, link, gather = achievable_mem_bw_gbs(acc), link_gbs(acc), gather_link_gbs(acc)
        return cls(acc, mem, link, gather_gbs=gather)

    @classmethod
    def from_profile(cls, profile: object) -> Hardware:
        """Use a ``gpuwise.calibrate.profile.DeviceProfile`` (duck-typed; the optional fields
        ``elementwise_gbs``, ``attention``, ``elementwise_detail``, ``allreduce_gbs`` and
        ``dispatch_us`` are used when present and measured; ``device`` says whether ops run
        on the CPU that issues them)."""
        acc = profile.to_accelerator()  # type: ignore[attr-defined]
        allreduce = getattr(profile, "allreduce_gbs", None)
        elementwise = getattr(profile, "elementwise_gbs", None)
        stream = float(profile.mem_bw_gbs)  # type: ignore[attr-defined]
        detail = getattr(profile, "elementwise_detail", None) or {}
        attention = (
            profile.attention_tflops_at  # type: ignore[attr-defined]
            if getattr(profile, "attention", ())
            else None
        )
        return cls(
            acc,
            float(elementwise) if elementwise else stream,
            float(allreduce) if allreduce else link_gbs(acc),
            profile.gemm_tflops_at,  # type: ignore[attr-defined]
            tuple(profile.precisions),  # type: ignore[attr-defined]
            attention,
            {k: float(v) for k, v in detail.items() if k in MEASURED_KERNELS and v},
            getattr(profile, "dispatch_us", None),
            getattr(profile, "device", "cuda") == "cpu",
            # a measured all-reduce rate stands for every collective; else the catalog's
            float(allreduce) if allreduce else gather_link_gbs(acc),
        )

    @property
    def measured(self) -> bool:
        """Whether GEMM rates come from a device profile."""
        return self._profile_gemm is not None

    @property
    def attention_measured(self) -> bool:
        """Whether the fused attention core has a measured rate."""
        return self._profile_attention is not None

    def supports(self, precision: str) -> bool:
        """Whether ``precision`` runs natively (profiles: only what was measured)."""
        if self.measured:
            return precision in self._measured
        if precision == "fp8":
            return self.acc.fp8_tflops is not None
        return True

    def _profile_precision(self, precision: str) -> str:
        """A measured precision to stand in for ``precision`` (bf16 -> fp16 -> fp32)."""
        for p in (precision, "bf16", "fp16", "fp32"):
            if p in self._measured:
                return p
        return self._measured[0]

    def peak_tflops(self, precision: str) -> float:
        return peak_tflops(self.acc, precision)

    def gemm_time(
        self,
        m: ArrayOrFloat,
        n: ArrayOrFloat,
        k: ArrayOrFloat,
        precision: str = "bf16",
        count: ArrayOrFloat | float = 1.0,
        out_bytes: float = 2.0,
    ) -> ArrayOrFloat:
        """Seconds for ``count`` GEMMs of ``(m x k) @ (k x n)`` (``out_bytes`` per output
        element: :func:`gpuwise.planner.efficiency.gemm_time_s`; a profile's measured rates
        stand for the whole GEMM)."""
        gemm = self._profile_gemm
        if gemm is None:
            return gemm_time_s(self.acc, m, n, k, precision, count, out_bytes)
        prec = self._profile_precision(precision)
        mm, nn, kk = (np.maximum(np.round(np.asarray(x, dtype=float)), 1.0) for x in (m, n, k))
        mm, nn, kk = np.broadcast_arrays(mm, nn, kk)
        shapes = np.stack([mm.ravel(), nn.ravel(), kk.ravel()], axis=1)
        uniq, inverse = np.unique(shapes, axis=0, return_inverse=True)
        rates = np.array([gemm(int(a), int(b), int(c), prec) for a, b, c in uniq])
        tflops = rates[inverse.ravel()].reshape(mm.shape)
        out = 2.0 * m * n * k / (tflops * 1e12) * count
        return out if np.ndim(out) else float(out)  # type: ignore[return-value]

    def stream_time(self, nbytes: ArrayOrFloat) -> ArrayOrFloat:
        """Seconds to stream ``nbytes`` through HBM (memory-bound kernels)."""
        return nbytes / (self.mem_bw_gbs * 1e9)

    def kernel_time(self, nbytes: ArrayOrFloat, kernel: str) -> ArrayOrFloat:
        """Seconds for ``nbytes`` of the elementwise kernel class ``kernel`` (one of
        :data:`MEASURED_KERNELS`): its measured effective GB/s, else :meth:`stream_time`."""
        gbs = self.kernel_gbs.get(kernel)
        if gbs is None:
            return self.stream_time(nbytes)
        return nbytes / (gbs * 1e9)

    def attention_time(
        self, flops: np.ndarray, seq: np.ndarray, head_dim: float, direction: str
    ) -> np.ndarray:
        """Seconds for ``flops`` of the fused causal attention core at sequence length ``seq``
        (``direction`` "fwd" or "bwd", FLOPs counted as FlashAttention-2 does) at the measured
        rate; only with :attr:`attention_measured`."""
        rate_at = self._profile_attention
        if rate_at is None:
            raise ValueError("attention_time needs a measured attention rate")
        seqs = np.maximum(np.round(np.asarray(seq, dtype=float)), 1.0)
        uniq, inverse = np.unique(seqs, return_inverse=True)
        d = max(1, round(float(head_dim)))
        rates = np.array([rate_at(int(q), d, direction) for q in uniq])
        return np.asarray(flops, dtype=float) / (rates[inverse].reshape(seqs.shape) * 1e12)
