"""Switch the queues a window serves at run time (a manager's move); kept until the next restart."""
from __future__ import annotations

import datetime as dt

import sqlalchemy.orm as so

from hall import audit, events, present
from hall.directory import HallRef
from hall.errors import DomainError
from hall.models import Window, WindowEvent, WindowQueue
from hall.windows import lock_window

MODES = ("order", "weighted")


def switch_queues(session: so.Session, hall: HallRef, number: int, queues: list[str], actor: str,
                  now: dt.datetime, mode: str = "order", weights: dict[str, int] | None = None) -> Window:
    """Let window ``number`` serve ``queues`` (in that order, or by ``weights``) from now on.

    Logged as a window event ``queues`` and in the audit log; ``window.changed`` goes live.
    directory.sync_hall writes the configured queues back at the next start.
    """
    weights = dict(weights or {})
    if not queues:
        raise DomainError("invalid_queues", "Give at least one queue for the window to serve, "
                          'e.g. {"queues": ["A"]}.', "queues")
    if len(set(queues)) != len(queues):
        raise DomainError("invalid_queues", "A queue is listed twice; list each queue once.", "queues")
    unknown = [p for p in queues if p not in hall.queue_ids]
    if unknown:
        raise DomainError("unknown_queue", f"Hall {hall.code} has no queue {unknown[0]!r}; its queues "
                          f"are {', '.join(sorted(hall.queue_ids))}.", "queues")
    if mode not in MODES:
        raise DomainError("invalid_mode", f"Unknown mode {mode!r}; use \"order\" or \"weighted\".", "mode")
    for prefix, weight in weights.items():
        if prefix not in queues:
            raise DomainError("invalid_weights", f"A weight is given for queue {prefix!r}, which is not "
                              "among the window's queues.", "weights")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            raise DomainError("invalid_weights", f"The weight of queue {prefix!r} must be a whole "
                              "number from 1 to 100.", "weights")
    window = lock_window(session, hall, number, serves=True)
    before = {"queues": [hall.queue_prefixes[s.queue_id] for s in window.serves], "mode": window.mode,
              "weights": {hall.queue_prefixes[s.queue_id]: s.weight for s in window.serves}}
    current = {s.queue_id: s for s in window.serves}
    serves = []
    for position, prefix in enumerate(queues):
        queue_id = hall.queue_ids[prefix]
        row = current.get(queue_id) or WindowQueue(queue_id=queue_id)
        row.position, row.weight = position, weights.get(prefix, 1)
        serves.append(row)
    window.serves = serves
    window.mode = mode
    after = {"queues": list(queues), "mode": mode, "weights": {p: weights.get(p, 1) for p in queues}}
    reason = f"{mode}: {','.join(queues)}"[:100]
    session.add(WindowEvent(hall_id=hall.id, window_id=window.id, staff_id=window.staff_id,
                            kind="queues", reason=reason, at=now, actor=actor))
    audit.record(session, hall.id, actor, "window.queues", now, target=f"window:{number}",
                 before=before, after=after,
                 summary=f"window {number} serves {', '.join(queues)} ({mode}) until the next restart")
    session.flush()
    session.expire(window, ["serves"])
    events.record(session, hall.id, hall.code, events.WINDOW_CHANGED, now,
                  window=present.window_view(session, hall, window))
    return window
