"""gpuwise: get the most AI work out of a fixed, heterogeneous GPU stock."""

__version__ = "0.1.0"
