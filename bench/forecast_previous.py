"""The wait estimator of hall/forecast.py before issue #6 ("play the queue forward"), frozen for comparison.

bench/forecast_eval.py prints it next to the current one (column ``previous``), so one run shows
before and after. Not memoised (the bench calls it once per ticket); same statements as it had:
* the queue's last 20 services today (last call → end; done, unresolved, transferred), the
  configured ``avg_service_s`` counting as 10 of them;
* the windows that would call the queue now (order / weighted share, paused ones out), each free
  after max(mean − time spent, 0.3 × mean), the busy ones' rests spread as an exponential race;
* the people ahead handed out one by one to the window free first (a heap), each taking the mean;
* an ordinary ticket adds the queue's priority tickets of the last 30 min as a rate × min(wait, boost).
"""
from __future__ import annotations

import datetime as dt
import heapq
import math
from typing import Any

import sqlalchemy as sa

from hall.models import (OPEN_WINDOW_STATES, Priority, Service, Ticket, TicketEvent, TicketStatus,
                         Window, WindowState)

RECENT_SERVICES, PRIOR_WEIGHT, RESIDUAL_SHARE, HORIZON_S, ROUNDS = 20, 10, 0.3, 1800, 4
OUTCOMES = ("done", "unresolved", "transferred")

_RECENT = (sa.select(Service.last_called_at, Service.ended_at)
           .where(Service.queue_id == sa.bindparam("queue"), Service.business_day == sa.bindparam("day"),
                  Service.outcome.in_(sa.bindparam("outcomes", expanding=True)))
           .order_by(Service.ended_at.desc()).limit(RECENT_SERVICES))
_WINDOWS = (sa.select(Window.id, Window.state, Service.queue_id, Service.last_called_at)
            .outerjoin(Service, sa.and_(Service.ticket_id == Window.ticket_id, Service.ended_at.is_(None)))
            .where(Window.id.in_(sa.bindparam("ids", expanding=True))))
_WAITING = (sa.select(Ticket.queue_id, sa.func.count())
            .where(Ticket.queue_id.in_(sa.bindparam("queues", expanding=True)),
                   Ticket.status == TicketStatus.WAITING).group_by(Ticket.queue_id))
_NOW = sa.select(sa.func.max(TicketEvent.at)).where(TicketEvent.hall_id == sa.bindparam("hall"))
_PRIORITY_ARRIVALS = (sa.select(sa.func.count()).select_from(Ticket)
                      .where(Ticket.origin_queue_id == sa.bindparam("queue"),
                             Ticket.business_day == sa.bindparam("day"),
                             Ticket.priority != Priority.NONE, Ticket.issued_at >= sa.bindparam("since")))


def _configured(hall: Any, queue_id: int) -> float:
    return float(hall.queue_settings(queue_id).avg_service_s)


def _free_windows(conn: Any, hall: Any, queue_id: int, service_s: float,
                  now: dt.datetime | None) -> list[tuple[float, float]]:
    prefix = hall.queue_prefixes[queue_id]
    serving = [w for w in hall.settings.windows if prefix in w.queues and w.number in hall.window_ids]
    ids = [hall.window_ids[w.number] for w in serving]
    states = {wid: (state, queue, since) for wid, state, queue, since
              in conn.execute(_WINDOWS, {"ids": ids}).all()} if ids else {}
    others = sorted({hall.queue_ids[p] for w in serving for p in w.queues} | {queue_id})
    waiting = dict(conn.execute(_WAITING, {"queues": others}).all()) if others else {}
    opened, free = [], []
    for w, wid in zip(serving, ids):
        state, current, since = states.get(wid, (WindowState.CLOSED, None, None))
        if state not in OPEN_WINDOW_STATES:
            continue
        opened.append(w)
        if state == WindowState.PAUSED:
            continue
        if w.mode == "weighted":
            busy = [p for p in w.queues if p == prefix or waiting.get(hall.queue_ids[p])]
            share = w.weight(prefix) / sum(w.weight(p) for p in busy)
        else:
            if any(waiting.get(hall.queue_ids[p]) for p in w.queues[:w.queues.index(prefix)]):
                continue
            share = 1.0
        rest = 0.0
        if current is not None and since is not None and now is not None:
            mean = service_s if current == queue_id else _configured(hall, current)
            rest = max(mean - (now - since).total_seconds(), RESIDUAL_SHARE * mean)
        free.append((rest, service_s / share))
    idle = [f for f in free if f[0] <= 0]
    busy = sorted(f for f in free if f[0] > 0)
    raced, at = list(idle), 0.0
    for i, (rest, per) in enumerate(busy):  # the busy windows' rests as an exponential race
        at += 1 / sum(1 / r for r, _ in busy[i:])
        raced.append((at, per))
    if not raced:
        raced = [(0.0, service_s)] * (len(opened) or len(serving) or 1)
    return raced


def expected_wait_s(session: Any, hall: Any, queue_id: int, ahead: int, day: dt.date,
                    priority: Priority | str | None = None, now: dt.datetime | None = None) -> int:
    """The previous estimate for a ticket with ``ahead`` people before it (see the module doc)."""
    session.flush()
    conn = session.connection()
    rows = conn.execute(_RECENT, {"day": day, "queue": queue_id, "outcomes": OUTCOMES}).all()
    configured = _configured(hall, queue_id)
    service_s = (PRIOR_WEIGHT * configured + sum((e - s).total_seconds() for s, e in rows)) \
        / (PRIOR_WEIGHT + len(rows))
    now = now or conn.execute(_NOW, {"hall": hall.id}).scalar()
    boost = max((s for _, s in hall.settings.policy.priority_boost_s), default=0)
    rate = 0.0
    if now is not None and boost and (priority is None or Priority(priority) is Priority.NONE):
        since = now - dt.timedelta(seconds=HORIZON_S)
        rate = (conn.execute(_PRIORITY_ARRIVALS, {"day": day, "queue": queue_id, "since": since})
                .scalar() or 0) / HORIZON_S
    free = _free_windows(conn, hall, queue_id, service_s, now)

    def wait(people: float) -> float:
        heap, times = list(free), []
        heapq.heapify(heap)
        for _ in range(math.ceil(people) + 1):
            at, per = heap[0]
            times.append(at)
            heapq.heapreplace(heap, (at + per, per))
        low = math.floor(people)
        return times[low] + (times[-1] - times[low]) * (people - low)

    waited = wait(ahead)
    for _ in range(ROUNDS if rate else 0):
        waited = wait(ahead + rate * min(waited, boost))
    return round(waited)
