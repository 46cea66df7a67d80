"""FIFO: start jobs in submission order; the queue head blocks everything behind it.

This is the strict first-come-first-served baseline of Tiresias' and Gavel's simulators:
no job overtakes an earlier one, and nothing is preempted.
"""

from __future__ import annotations

from gpuwise.replay.policies.base import Decision, Snapshot, start_in_order


class Fifo:
    name = "fifo"
    round_s: float | None = None
    preemptive = False

    def decide(self, snap: Snapshot) -> Decision:
        d = Decision(snap.placer)
        start_in_order(snap, d, snap.pending, blocking=True)
        return d
