"""The hall's routine jobs as domain actions: close a finished day, sweep forgotten calls.

Each job is idempotent: running it twice changes nothing more. The scheduler
(hall/scheduler.py) runs them; tests call them directly with a controlled clock.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar, events, present
from hall.directory import HallRef
from hall.models import (Service, Ticket, TicketStatus, Window, WindowEvent, WindowState)
from hall.tickets import lock_hall, log_ticket

ACTOR = "system"


@dataclasses.dataclass(frozen=True)
class DayClosed:
    cancelled: int
    finished: int
    windows_closed: int


def close_day(session: so.Session, hall: HallRef, day: dt.date, now: dt.datetime) -> DayClosed:
    """End of a business day: tickets never called are closed with a reason, visitors still at a
    window are finished, windows are closed and their clerks signed out. Only for days that are
    over (``day`` before the hall's today), so extended hours (延时办) are never cut short."""
    if day >= calendar.business_day(now, hall.timezone):
        raise ValueError("a day is closed only once it is over")
    lock_hall(session, hall)
    waiting = session.scalars(sa.select(Ticket).where(
        Ticket.hall_id == hall.id, Ticket.business_day == day,
        Ticket.status == TicketStatus.WAITING)).all()
    for ticket in waiting:
        ticket.status, ticket.closed_at, ticket.close_reason = TicketStatus.CANCELLED, now, "end_of_day"
        log_ticket(session, hall, ticket, "cancelled", now, ACTOR, reason="end_of_day", window_id=None)
    finished = 0
    windows = session.scalars(sa.select(Window).where(Window.hall_id == hall.id,
                                                      Window.state != WindowState.CLOSED)).all()
    for window in windows:
        if window.ticket_id is not None:
            ticket = session.get(Ticket, window.ticket_id)
            if ticket.business_day <= day:
                service = session.scalars(sa.select(Service).where(
                    Service.ticket_id == ticket.id, Service.ended_at.is_(None))).first()
                if service is not None:
                    service.ended_at, service.outcome = now, "done"
                ticket.status, ticket.closed_at, ticket.close_reason = TicketStatus.DONE, now, "end_of_day"
                log_ticket(session, hall, ticket, "finished", now, ACTOR, reason="end_of_day",
                           window_id=window.id, service_id=service.id if service else None)
                window.ticket_id = None
                finished += 1
        session.add(WindowEvent(hall_id=hall.id, window_id=window.id, staff_id=window.staff_id,
                                kind="sign_out", reason="end_of_day", at=now, actor=ACTOR))
        window.state, window.state_since, window.staff_id, window.pause_reason = \
            WindowState.CLOSED, now, None, None
    session.flush()
    for window in windows:
        events.record(session, hall.id, hall.code, events.WINDOW_CHANGED, now,
                      window=present.window_view(session, hall, window))
    if waiting:
        counts = present.waiting_counts(session, hall)
        for queue_id in sorted({t.queue_id for t in waiting}):
            from hall.models import Queue
            events.record(session, hall.id, hall.code, events.QUEUE_CHANGED, now,
                          queue=present.queue_view(session, hall, session.get(Queue, queue_id),
                                                   counts.get(queue_id, 0)))
    # The day's figures, kept (日报): written after the day's last changes, in the same transaction.
    from hall.rollups import write_rollup
    write_rollup(session, hall, day, now)
    return DayClosed(len(waiting), finished, len(windows))


def open_days(session: so.Session, hall: HallRef, now: dt.datetime) -> list[dt.date]:
    """Past business days still to close: open tickets or windows, or figures not yet kept."""
    today = calendar.business_day(now, hall.timezone)
    days = set(session.scalars(sa.select(Ticket.business_day).where(
        Ticket.hall_id == hall.id, Ticket.business_day < today,
        Ticket.status.in_([TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING]))
        .distinct()))
    stale = session.scalars(sa.select(Window.state_since).where(
        Window.hall_id == hall.id, Window.state != WindowState.CLOSED)).all()
    days |= {calendar.business_day(at, hall.timezone) for at in stale if at is not None
             and calendar.business_day(at, hall.timezone) < today}
    # A day that ended tidily (everyone served, every clerk signed out) still needs its figures kept.
    from hall.rollups import DayRollup
    kept = sa.select(DayRollup.business_day).where(DayRollup.hall_id == hall.id)
    days |= set(session.scalars(sa.select(Ticket.business_day).where(
        Ticket.hall_id == hall.id, Ticket.business_day < today,
        Ticket.business_day.not_in(kept)).distinct()))
    return sorted(days)


def sweep_no_shows(session: so.Session, hall: HallRef, now: dt.datetime) -> list[int]:
    """Called tickets nobody acted on for ``policy.no_show_timeout_s`` become no-shows (过号),
    freeing their windows. Returns the ticket ids."""
    from hall import windows as window_actions
    timeout = hall.settings.policy.no_show_timeout_s
    if not timeout:
        return []
    cutoff = now - dt.timedelta(seconds=timeout)
    stale = session.execute(sa.select(Window.number).join(Ticket, Ticket.id == Window.ticket_id)
                            .join(Service, sa.and_(Service.ticket_id == Ticket.id,
                                                   Service.ended_at.is_(None)))
                            .where(Window.hall_id == hall.id, Ticket.status == TicketStatus.CALLED,
                                   Service.last_called_at < cutoff)).scalars().all()
    swept = []
    for number in stale:
        swept.append(window_actions.no_show(session, hall, number, ACTOR, now).id)
    return swept
