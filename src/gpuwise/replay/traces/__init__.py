"""Trace loaders: ``load_trace(path, fmt, throughputs)`` for every supported format."""

from __future__ import annotations

from gpuwise.errors import GpuwiseError, did_you_mean
from gpuwise.replay.traces.common import Trace
from gpuwise.replay.traces.gavel import load_gavel
from gpuwise.replay.traces.generic import load_generic
from gpuwise.replay.traces.openb import load_openb
from gpuwise.replay.traces.pollux import load_pollux
from gpuwise.replay.traces.sacct import load_sacct
from gpuwise.replay.traces.throughputs import Throughputs, load_throughputs

FORMATS = ("gavel", "pollux", "openb", "csv", "sacct")


def detect_format(path: str) -> str:
    """Guess the format from the file name and first line."""
    if path.endswith(".trace"):
        return "gavel"
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except OSError as exc:
        raise GpuwiseError(f"{path}: cannot read the trace ({exc.strerror})") from None
    if "|" in first and "Submit" in first:
        return "sacct"
    if first.startswith("timestamp,duration,num_gpus"):
        return "pollux"
    if "creation_time" in first and "num_gpu" in first:
        return "openb"
    if "submit_time" in first:
        return "csv"
    if first.count("\t") in (6, 9):
        return "gavel"
    raise GpuwiseError(
        f"{path}: cannot tell the trace format; pass --trace-format ({', '.join(FORMATS)})"
    )


def load_trace(path: str, fmt: str | None = None, throughputs: Throughputs | None = None) -> Trace:
    """Load a trace in format ``fmt`` (guessed when ``None``)."""
    fmt = fmt or detect_format(path)
    if fmt == "gavel":
        if throughputs is None:
            raise GpuwiseError("a Gavel trace needs --throughputs (simulation_throughputs.json)")
        return load_gavel(path, throughputs)
    loaders = {"pollux": load_pollux, "openb": load_openb, "csv": load_generic,
               "sacct": load_sacct}
    if fmt not in loaders:
        raise GpuwiseError(
            f"--trace-format: unknown format {fmt!r}{did_you_mean(fmt, FORMATS)}; "
            f"known: {', '.join(FORMATS)}"
        )
    return loaders[fmt](path)


__all__ = ["FORMATS", "Throughputs", "Trace", "detect_format", "load_throughputs", "load_trace"]
