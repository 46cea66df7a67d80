"""Request lengths: fixed, mean with a p99 tail, or measured from a file of requests.

Throughput uses the mean lengths (continuous batching with a paged KV cache allocates what a
sequence actually holds: Kwon et al. 2023); a configuration fits only if one p99-length
request fits, and the p99 TTFT is that of a p99-length prompt.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpuwise.errors import GpuwiseError


@dataclass(frozen=True)
class Workload:
    """Mean prompt and output tokens, with optional p99 tails (default: the mean)."""

    prompt: int
    output: int
    prompt_p99: int | None = None
    output_p99: int | None = None

    def __post_init__(self) -> None:
        if self.prompt < 1 or self.output < 1:
            raise GpuwiseError("prompt and output lengths must be ≥ 1 token")
        for mean, tail, what in ((self.prompt, self.prompt_p99, "prompt"),
                                 (self.output, self.output_p99, "output")):
            if tail is not None and tail < mean:
                raise GpuwiseError(f"{what} p99 {tail} is below its mean {mean}")

    @property
    def prompt_tail(self) -> int:
        return self.prompt_p99 or self.prompt

    @property
    def output_tail(self) -> int:
        return self.output_p99 or self.output

    @property
    def seq_mean(self) -> int:
        return self.prompt + self.output

    @property
    def seq_tail(self) -> int:
        return self.prompt_tail + self.output_tail

    @property
    def mean_context(self) -> float:
        """Average cached tokens per running sequence over its decode."""
        return self.prompt + self.output / 2.0


def parse_length(text: str, flag: str) -> tuple[int, int | None]:
    """``"512"`` → (512, None); ``"512:4096"`` → mean 512, p99 4096."""
    mean, _, tail = text.partition(":")
    try:
        m = int(float(mean))
        t = int(float(tail)) if tail else None
    except ValueError:
        raise GpuwiseError(f"{flag}: expected N or MEAN:P99 tokens, got {text!r}") from None
    if m < 1 or (t is not None and t < m):
        raise GpuwiseError(f"{flag}: need 1 ≤ mean ≤ p99, got {text!r}")
    return m, t


def load_lengths(path: str | Path) -> Workload:
    """Mean and p99 lengths from a CSV with ``prompt_tokens`` and ``output_tokens`` columns."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or ())
            if not {"prompt_tokens", "output_tokens"} <= cols:
                raise GpuwiseError(
                    f"{p}:1: expected columns prompt_tokens,output_tokens, got {sorted(cols)}"
                )
            rows = []
            for i, row in enumerate(reader, start=2):
                try:
                    rows.append((float(row["prompt_tokens"]), float(row["output_tokens"])))
                except ValueError:
                    raise GpuwiseError(f"{p}:{i}: token counts must be numbers") from None
    except FileNotFoundError:
        raise GpuwiseError(f"{p}: no such file") from None
    if not rows:
        raise GpuwiseError(f"{p}: no requests")
    a = np.array(rows)
    if (a < 1).any():
        raise GpuwiseError(f"{p}: token counts must be ≥ 1")
    mean, p99 = a.mean(axis=0), np.percentile(a, 99, axis=0)
    return Workload(
        prompt=max(1, round(mean[0])), output=max(1, round(mean[1])),
        prompt_p99=max(round(mean[0]), round(p99[0])),
        output_p99=max(round(mean[1]), round(p99[1])),
    )
