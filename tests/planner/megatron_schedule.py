"""Op-by-op replay of Megatron-LM 2021-2022's 1F1B pipeline schedules with blocking p2p.

The op order of every pipeline rank follows ``megatron/schedules.py`` (NVIDIA/Megatron-LM at
05042081, the schedule the SC21 and sequence-parallelism papers ran):
``forward_backward_pipelining_without_interleaving`` (warm-up ``p - r - 1`` forwards, then
forward / ``send_forward_recv_backward`` / backward / ``send_backward_recv_forward``, then the
cool-down backwards) and ``forward_backward_pipelining_with_interleaving`` (warm-up
``2 (p - r - 1) + (v - 1) p`` model-chunk forwards, then per step one forward, one backward
and a single combined exchange with both neighbours; the last rank's later chunks feed rank
0's next chunk).  Every exchange is blocking (``p2p_communication._communicate``:
``batch_isend_irecv``, ``wait`` on every request, ``torch.cuda.synchronize``): it ends once
every rank it sends to or receives from has reached its matching exchange, plus ``cost``.
Sends and receives between two ranks match in issue order, as NCCL matches them.

Used by ``test_planner_pipeline_schedule.py`` to check ``planner.pipeline`` against the
schedule itself.
"""

from __future__ import annotations

from collections import defaultdict

Op = tuple[str, int, tuple[tuple[str, int], ...]]  # (kind F/B/X, model chunk, exchange ops)


def _chunk(k: int, p: int, v: int, forward: bool) -> int:
    """Model chunk of the k-th forward/backward step (``get_model_chunk_id``)."""
    c = (k % (p * v)) // p
    return c if forward else v - 1 - c


def _interleaved(p: int, v: int, m: int, r: int) -> list[Op]:
    n = m * v
    all_warmup = m == p
    warm = n if all_warmup else min(2 * (p - r - 1) + (v - 1) * p, n)
    first, last, nxt, prv = r == 0, r == p - 1, (r + 1) % p, (r - 1) % p
    ops: list[Op] = []

    def x(send_next: bool, recv_prev: bool, send_prev: bool, recv_next: bool) -> None:
        pairs = (("sp", prv, send_prev), ("rp", prv, recv_prev), ("sn", nxt, send_next),
                 ("rn", nxt, recv_next))
        ex = tuple((o, peer) for o, peer, on in pairs if on)
        if ex:
            ops.append(("X", -1, ex))

    x(False, not first, False, False)
    for k in range(warm):
        c = _chunk(k, p, v, True)
        ops.append(("F", c, ()))
        recv_prev = not (first and _chunk(k + 1, p, v, True) == 0) and k != n - 1
        send_next = not (last and c == v - 1)
        recv_next = k == warm - 1 and not all_warmup and not last
        x(send_next, recv_prev, False, recv_next)
    for k in range(n - warm):
        fk = k + warm
        cf, cb = _chunk(fk, p, v, True), _chunk(k, p, v, False)
        ops.append(("F", cf, ()))
        ops.append(("B", cb, ()))
        recv_prev = not (first and _chunk(fk - (p - 1), p, v, True) == v - 1)
        recv_next = not (last and _chunk(k - (p - 1), p, v, False) == 0)
        x(not (last and cf == v - 1), recv_prev and k != n - warm - 1, not (first and cb == 0),
          recv_next)
    if all_warmup:
        x(False, False, False, not last)
    for k in range(n - warm, n):
        cb = _chunk(k, p, v, False)
        ops.append(("B", cb, ()))
        recv_next = not (last and _chunk(k + 1, p, v, False) == v - 1) and k != n - 1
        x(False, False, not (first and cb == 0), recv_next)
    return ops


def _plain(p: int, m: int, r: int) -> list[Op]:
    first, last = r == 0, r == p - 1
    recv_f = (("rp", r - 1),) if not first else ()
    send_f = (("sn", r + 1),) if not last else ()
    recv_b = (("rn", r + 1),) if not last else ()
    send_b = (("sp", r - 1),) if not first else ()
    ops: list[Op] = []

    def x(ex: tuple[tuple[str, int], ...]) -> None:
        if ex:
            ops.append(("X", -1, ex))

    warm = min(p - r - 1, m)
    for _ in range(warm):
        x(recv_f)
        ops.append(("F", 0, ()))
        x(send_f)
    if m > warm:
        x(recv_f)
    for i in range(m - warm):
        ops.append(("F", 0, ()))
        x(send_f + recv_b)
        ops.append(("B", 0, ()))
        x(send_b if i == m - warm - 1 else send_b + recv_f)
    for _ in range(warm):
        x(recv_b)
        ops.append(("B", 0, ()))
        x(send_b)
    return ops


def simulate(
    p: int, v: int, m: int, tf: float, tb: float, last: float = 0.0, first: float = 0.0,
    cost: float = 0.0,
) -> float:
    """Seconds until every rank has finished its schedule: ``tf``/``tb`` per model-chunk
    forward/backward, ``last`` more for the last rank's last-chunk forward (output layer and
    loss), ``first`` more for rank 0's first-chunk forward (embedding), ``cost`` per exchange."""
    progs = [_interleaved(p, v, m, r) if v > 1 else _plain(p, m, r) for r in range(p)]
    sends: dict[tuple[int, int, str], list[tuple[int, int]]] = defaultdict(list)
    recvs: dict[tuple[int, int, str], list[tuple[int, int]]] = defaultdict(list)
    for r, prog in enumerate(progs):
        for i, (_kind, _, ex) in enumerate(prog):
            for o, peer in ex:
                if o in ("sn", "sp"):
                    sends[(r, peer, "f" if o == "sn" else "b")].append((r, i))
                else:
                    recvs[(peer, r, "f" if o == "rp" else "b")].append((r, i))
    partners: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for key in set(sends) | set(recvs):
        assert len(sends[key]) == len(recvs[key]), key
        for a, b in zip(sends[key], recvs[key], strict=True):
            partners[a].append(b)
            partners[b].append(a)
    start: dict[tuple[int, int], float] = {}
    pos, t = [0] * p, [0.0] * p
    remaining = sum(len(prog) for prog in progs)
    while remaining:
        moved = False
        for r in range(p):
            while pos[r] < len(progs[r]):
                kind, c, _ = progs[r][pos[r]]
                if kind == "F":
                    t[r] += tf + (last if r == p - 1 and c == v - 1 else 0.0)
                    t[r] += first if r == 0 and c == 0 else 0.0
                elif kind == "B":
                    t[r] += tb
                else:
                    start[(r, pos[r])] = t[r]
                    peers = partners[(r, pos[r])]
                    if any(q not in start for q in peers):
                        break  # blocked until every peer reaches its matching exchange
                    t[r] = max([t[r]] + [start[q] for q in peers]) + cost
                pos[r] += 1
                remaining -= 1
                moved = True
        assert moved, "deadlock"
    return max(t)
