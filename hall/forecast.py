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


def mean_service_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    durations = session.execute(
        sa.select(Service.called_at, Service.ended_at)
        .where(Service.hall_id == hall.id, Service.business_day == day,
               Service.queue_id == queue_id, Service.outcome == "done")
        .order_by(Service.ended_at.desc()).limit(RECENT_SERVICES)
    ).all()
    if len(durations) < MIN_SAMPLES:
        return float(hall.queue_settings(queue_id).avg_service_s)
    return sum((end - start).total_seconds() for start, end in durations) / len(durations)


def servers(session: so.Session, hall: HallRef, queue_id: int) -> float:
    """Windows working on ``queue_id`` now, shared among the busy queues each one serves."""
    rows = session.execute(
        sa.select(Window.id, WindowQueue.queue_id)
        .join(WindowQueue, WindowQueue.window_id == Window.id)
        .where(Window.hall_id == hall.id, Window.state.in_(OPEN_WINDOW_STATES),
               Window.id.in_(sa.select(WindowQueue.window_id).where(WindowQueue.queue_id == queue_id)))
    ).all()
    if not rows:
        configured = sum(1 for w in hall.settings.windows
                         if hall.queue_prefixes[queue_id] in w.queues)
        return float(max(configured, 1))
    busy = set(session.scalars(
        sa.select(Ticket.queue_id).where(Ticket.hall_id == hall.id,
                                         Ticket.status == TicketStatus.WAITING).distinct()))
    busy.add(queue_id)
    per_window: dict[int, int] = {}
    for window_id, served in rows:
        if served in busy:
            per_window[window_id] = per_window.get(window_id, 0) + 1
    return sum(1 / k for k in per_window.values()) or 1.0


def expected_wait_s(session: so.Session, hall: HallRef, queue_id: int, ahead: int,
                    day: dt.date) -> int:
    if ahead <= 0:
        return 0
    return round(ahead * mean_service_s(session, hall, queue_id, day) / servers(session, hall, queue_id))
