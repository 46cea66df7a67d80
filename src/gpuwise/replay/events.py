"""The event queue: a heap ordered by (time, kind order, sequence number).

The sequence number makes ties deterministic (first pushed, first served) and keeps the heap
from ever comparing payloads.  Completions sort before failures, arrivals and rounds at the
same instant, so GPUs freed at ``t`` are free for whatever is decided at ``t``.
"""

from __future__ import annotations

import heapq
from enum import IntEnum


class Kind(IntEnum):
    """Event kinds; the value is the order among events at the same instant."""

    COMPLETION = 0
    REPAIR = 1
    FAILURE = 2
    ARRIVAL = 3
    WAKEUP = 4  # a time a policy asked to be called again (e.g. a LAS queue demotion)
    ROUND = 5  # the periodic scheduling round of round-based policies


Event = tuple[float, int, int, int, int]  # (time, kind, seq, subject id, version)


class EventQueue:
    """A deterministic min-heap of events."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._seq = 0

    def push(self, time: float, kind: Kind, subject: int = -1, version: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, int(kind), self._seq, subject, version))

    def pop(self) -> Event:
        return heapq.heappop(self._heap)

    def peek_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
