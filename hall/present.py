"""Plain, JSON-ready views of tickets, windows and queues: what the API and live events carry."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import forecast, policy
from hall.directory import HallRef
from hall.models import Queue, Staff, Ticket, TicketStatus, Window


def iso(value: dt.datetime | None, hall: HallRef) -> str | None:
    """An instant in the hall's local time with its offset (API times are ISO 8601 with an offset)."""
    if value is None:
        return None
    from zoneinfo import ZoneInfo
    return value.astimezone(ZoneInfo(hall.timezone)).isoformat(timespec="seconds")


def track_url(hall: HallRef, ticket: Ticket) -> str:
    return f"{hall.base_url}/t/{ticket.id}?s={ticket.secret}"


def ticket_view(session: so.Session, hall: HallRef, ticket: Ticket) -> dict[str, Any]:
    ahead = policy.count_ahead(session, ticket) if ticket.status == TicketStatus.WAITING else 0
    expected = (forecast.expected_wait_s(session, hall, ticket.queue_id, ahead, ticket.business_day,
                                         ticket.priority)
                if ticket.status == TicketStatus.WAITING else 0)
    return {
        "id": ticket.id,
        "number": ticket.number,
        "queue": hall.queue_prefixes[ticket.queue_id],
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "ahead": ahead,
        "expected_wait_s": expected,
        "issued_at": iso(ticket.issued_at, hall),
        "track_url": track_url(hall, ticket),
        "window": hall.window_numbers.get(ticket.window_id) if ticket.window_id else None,
        "called_at": iso(ticket.called_at, hall),
        "target_window": (hall.window_numbers.get(ticket.target_window_id)
                          if ticket.target_window_id else None),
        "bundle": ticket.bundle,
        "next_queues": [hall.queue_prefixes[q] for q in ticket.route],
        "channel": ticket.channel,
    }


def public_ticket_view(view: dict[str, Any]) -> dict[str, Any]:
    """What a hall screen may show of a ticket: no secret link, nothing personal."""
    return {k: view[k] for k in ("id", "number", "queue", "priority", "status", "window",
                                 "called_at")}


def window_brief(hall: HallRef, window: Window) -> dict[str, Any]:
    return {"number": window.number, "name": window.name}


def window_view(session: so.Session, hall: HallRef, window: Window) -> dict[str, Any]:
    ticket = session.get(Ticket, window.ticket_id) if window.ticket_id else None
    clerk = session.get(Staff, window.staff_id) if window.staff_id else None
    return {
        "number": window.number,
        "name": window.name,
        "state": window.state.value,
        "pause_reason": window.pause_reason,
        "since": iso(window.state_since, hall),
        "ticket": ticket.number if ticket else None,
        "ticket_id": ticket.id if ticket else None,
        "clerk": clerk.name if clerk else None,
        "queues": [hall.queue_prefixes[s.queue_id] for s in window.serves],
        "mode": window.mode,
    }


def waiting_counts(session: so.Session, hall: HallRef) -> dict[int, int]:
    rows = session.execute(
        sa.select(Ticket.queue_id, sa.func.count())
        .where(Ticket.hall_id == hall.id, Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id)).all()
    return dict(rows)


_WAITING_IN_QUEUE = sa.select(sa.func.count()).select_from(Ticket).where(
    Ticket.queue_id == sa.bindparam("queue"), Ticket.status == TicketStatus.WAITING)


def queue_view(session: so.Session, hall: HallRef, queue: Queue, waiting: int | None = None,
               day: dt.date | None = None) -> dict[str, Any]:
    session.flush()  # Core statements below do not autoflush
    if waiting is None:
        waiting = (forecast.waiting(session, hall, queue.id, day) if day else
                   session.connection().execute(_WAITING_IN_QUEUE, {"queue": queue.id}).scalar() or 0)
    settings = hall.settings.queue(queue.prefix)
    expected = forecast.expected_wait_s(session, hall, queue.id, waiting, day) if day else None
    return {
        "prefix": queue.prefix,
        "name": queue.name,
        "open": queue.open,
        "waiting": waiting,
        "expected_wait_s": expected,
        "department": settings.department,
    }
