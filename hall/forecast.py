"""Expected wait for a ticket: people ahead × mean service time ÷ windows serving the queue.

The first estimator (documented in docs/forecast.md): the mean service time is that of the
queue's last services today (at least ``MIN_SAMPLES``, else the configured
``avg_service_s``); the servers are the open windows that serve the queue, each counted as a
share 1/k when it serves k queues that have someone waiting; with no window open yet, the
queue's configured windows count. It will be measured against the reference day.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.directory import HallRef
from hall.models import OPEN_WINDOW_STATES, Service, Ticket, TicketStatus, Window, WindowQueue

MIN_SAMPLES = 5
RECENT_SERVICES = 20


# Built once with bound parameters: the forecast runs on every issue (hot path).
_RECENT = (sa.select(Service.called_at, Service.ended_at)
           .where(Service.hall_id == sa.bindparam("hall"), Service.business_day == sa.bindparam("day"),
                  Service.queue_id == sa.bindparam("queue"), Service.outcome == "done")
           .order_by(Service.ended_at.desc()).limit(RECENT_SERVICES))
_OPEN_SERVING = (sa.select(Window.id, WindowQueue.queue_id)
                 .join(WindowQueue, WindowQueue.window_id == Window.id)
                 .where(Window.hall_id == sa.bindparam("hall"), Window.state.in_(OPEN_WINDOW_STATES),
                        Window.id.in_(sa.select(WindowQueue.window_id)
                                      .where(WindowQueue.queue_id == sa.bindparam("queue")))))
_BUSY_QUEUES = (sa.select(Ticket.queue_id).where(Ticket.hall_id == sa.bindparam("hall"),
                                                 Ticket.status == TicketStatus.WAITING).distinct())


def mean_service_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    durations = session.connection().execute(_RECENT, {"hall": hall.id, "day": day, "queue": queue_id}).all()
    if len(durations) < MIN_SAMPLES:
        return float(hall.queue_settings(queue_id).avg_service_s)
    return sum((end - start).total_seconds() for start, end in durations) / len(durations)


def servers(session: so.Session, hall: HallRef, queue_id: int) -> float:
    """Windows working on ``queue_id`` now, shared among the busy queues each one serves."""
    rows = session.connection().execute(_OPEN_SERVING, {"hall": hall.id, "queue": queue_id}).all()
    if not rows:
        configured = sum(1 for w in hall.settings.windows
                         if hall.queue_prefixes[queue_id] in w.queues)
        return float(max(configured, 1))
    busy = set(session.connection().execute(_BUSY_QUEUES, {"hall": hall.id}).scalars())
    busy.add(queue_id)
    per_window: dict[int, int] = {}
    for window_id, served in rows:
        if served in busy:
            per_window[window_id] = per_window.get(window_id, 0) + 1
    return sum(1 / k for k in per_window.values()) or 1.0


def per_person_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    """Seconds of waiting each person ahead adds; memoised for the transaction (an action
    asks for it for the ticket and again for its queue)."""
    session.flush()  # Core statements below do not autoflush
    memo = session.info.setdefault("hall.forecast", {})
    key = (queue_id, day)
    if key not in memo:
        memo[key] = mean_service_s(session, hall, queue_id, day) / servers(session, hall, queue_id)
    return memo[key]


def expected_wait_s(session: so.Session, hall: HallRef, queue_id: int, ahead: int,
                    day: dt.date) -> int:
    if ahead <= 0:
        return 0
    return round(ahead * per_person_s(session, hall, queue_id, day))
