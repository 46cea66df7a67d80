"""Event-driven replay of GPU job traces on a heterogeneous fleet (``gpuwise sim replay``)."""
