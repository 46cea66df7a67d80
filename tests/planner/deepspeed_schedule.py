"""Op-by-op replay of DeepSpeed's pipeline ``TrainSchedule`` with blocking p2p.

The instruction stream of every stage follows ``deepspeed/runtime/pipe/schedule.py``
``TrainSchedule.steps`` (microsoft/DeepSpeed@195563a2; the class is unchanged in substance since
the 2020 pipeline engine that Megatron-DeepSpeed ran for MT-NLG and BLOOM): ``2 (m + p - 1)``
steps; in a step a stage runs one forward or one backward, chosen by the parity of step and
stage (even stages run forwards on even steps, odd stages on odd steps), so neighbouring stages
always run opposite directions.  A forward step first receives the micro-batch's activation
from the previous stage, then sends the previous step's input gradient back; a backward step
first sends the previous step's output forward, then receives the output gradient.  Every
send/receive is blocking (``p2p.send``/``recv``: ``dist.send``/``recv``, or a two-rank
``dist.broadcast`` on older PyTorch): it ends once the peer has reached the matching call,
plus ``cost``.

Used by ``test_planner_pipeline_schedule.py`` to check that ``planner.pipeline`` also describes
DeepSpeed's schedule.
"""

from __future__ import annotations

Op = tuple[str, int]  # ("F" | "B" | "send_act" | "recv_act" | "send_grad" | "recv_grad", mb)


def _micro_batch(step: int, stage: int, p: int) -> tuple[int, bool]:
    """(micro-batch, is forward) of ``stage`` at ``step`` (``TrainSchedule._step_to_micro_batch``
    and its four ``_{even,odd}_step_{forward,backward}_id`` helpers)."""
    half = step // 2 if step % 2 == 0 else (step - 1) // 2
    if step % 2 == stage % 2:
        return half - stage // 2, True
    if step % 2 == 0:
        return half - p + (stage + 1) // 2, False
    return half - p + 1 + stage // 2, False


def program(p: int, m: int, stage: int) -> list[Op]:
    """The ops ``stage`` issues in order over one ``train_batch``."""
    ops: list[Op] = []
    prev = -1

    def valid(mb: int) -> bool:
        return 0 <= mb < m

    for step in range(2 * (m + p - 1)):
        mb, forward = _micro_batch(step, stage, p)
        if forward and stage > 0:
            if valid(mb):
                ops.append(("recv_act", mb))
            if valid(prev):
                ops.append(("send_grad", prev))
        if not forward and stage < p - 1:
            if valid(prev):
                ops.append(("send_act", prev))
            if valid(mb):
                ops.append(("recv_grad", mb))
        if valid(mb):
            ops.append(("F" if forward else "B", mb))
        prev = mb
    return ops


#: each p2p op, the op its peer issues and where the peer is
_PEER = {
    "send_act": ("recv_act", 1),
    "recv_act": ("send_act", -1),
    "send_grad": ("recv_grad", -1),
    "recv_grad": ("send_grad", 1),
}


def simulate(
    p: int, m: int, tf: float, tb: float, last: float = 0.0, first: float = 0.0,
    cost: float = 0.0,
) -> float:
    """Seconds until every stage has finished: ``tf``/``tb`` per forward/backward, ``last``
    more for the last stage's forward (output layer and loss), ``first`` more for stage 0's
    forward (embedding), ``cost`` per blocking send/receive pair."""
    progs = [program(p, m, s) for s in range(p)]
    pos, t = [0] * p, [0.0] * p
    arrived: dict[tuple[int, int], float] = {}
    remaining = sum(len(x) for x in progs)
    while remaining:
        moved = False
        for s in range(p):
            while pos[s] < len(progs[s]):
                kind, mb = progs[s][pos[s]]
                if kind == "F":
                    t[s] += tf + (last if s == p - 1 else 0.0) + (first if s == 0 else 0.0)
                elif kind == "B":
                    t[s] += tb
                else:
                    arrived[(s, pos[s])] = t[s]
                    want, d = _PEER[kind]
                    q = s + d
                    if progs[q][pos[q]] != (want, mb) or (q, pos[q]) not in arrived:
                        break  # blocked until the peer issues the matching call
                    t[s] = t[q] = max(t[s], arrived[(q, pos[q])]) + cost
                    pos[q] += 1
                    remaining -= 1
                pos[s] += 1
                remaining -= 1
                moved = True
        assert moved, "deadlock"
    return max(t)
