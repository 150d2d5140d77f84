"""The window state machine: sign in, call next, recall, no-show, finish, transfer, pause, sign out.

closed → (sign in) → idle ⇄ serving, idle ⇄ paused → (sign out) → closed. A window has at
most one ticket at a time. Every change is a row in the window or ticket log, and the
live events are recorded for publishing after commit. The caller commits.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import events, present
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, NotFound
from hall.models import (AT_WINDOW_STATES, Service, Staff, Ticket, TicketStatus, Window,
                         WindowEvent, WindowState)
from hall.policy import select_next
from hall.tickets import QUEUE_ROW, get_ticket, log_ticket, with_hall_lock

OUTCOMES = ("done", "unresolved")


def get_window(session: so.Session, hall: HallRef, number: int) -> Window:
    """The window row (from the session when it is there already)."""
    window = session.get(Window, hall.window_id(number))
    if window is None:  # pragma: no cover - the directory and the table agree after sync
        raise NotFound("unknown_window", f"Hall {hall.code} has no window {number}.", "window")
    return window


# Built once (every window action reads its window this way): the window, and with its queues.
_LOCKED_WINDOW = with_hall_lock(sa.select(Window).where(Window.id == sa.bindparam("id")), Window.hall_id)
_LOCKED_WINDOW_SERVES = _LOCKED_WINDOW.options(so.joinedload(Window.serves))


def lock_window(session: so.Session, hall: HallRef, number: int, serves: bool = False) -> Window:
    """:func:`~hall.tickets.lock_hall` and the window row in one statement (one round trip): every
    window action starts here. With ``serves`` its queues come along too (call_next needs them)."""
    statement = _LOCKED_WINDOW_SERVES if serves else _LOCKED_WINDOW
    window = session.scalars(statement, {"id": hall.window_id(number)}).unique().one_or_none()
    if window is None:  # pragma: no cover - the directory and the table agree after sync
        raise NotFound("unknown_window", f"Hall {hall.code} has no window {number}.", "window")
    return window


def _log_window(session: so.Session, hall: HallRef, window: Window, kind: str, now: dt.datetime,
                actor: str, reason: str | None = None) -> None:
    session.add(WindowEvent(hall_id=hall.id, window_id=window.id, staff_id=window.staff_id,
                            kind=kind, reason=reason, at=now, actor=actor))


def _set_state(window: Window, state: WindowState, now: dt.datetime) -> None:
    if window.state != state:
        window.state, window.state_since = state, now


def _record_window(session: so.Session, hall: HallRef, window: Window, now: dt.datetime) -> None:
    events.record(session, hall.id, hall.code, events.WINDOW_CHANGED, now,
                  window=present.window_view(session, hall, window))


def _record_queue(session: so.Session, hall: HallRef, queue_id: int, now: dt.datetime,
                  day: dt.date) -> None:
    queue = session.connection().execute(QUEUE_ROW, {"id": queue_id}).one()
    events.record(session, hall.id, hall.code, events.QUEUE_CHANGED, now,
                  queue=present.queue_view(session, hall, queue, day=day))


def _record_ticket(session: so.Session, hall: HallRef, name: str, ticket: Ticket, window: Window,
                   now: dt.datetime, **extra: object) -> None:
    events.record(session, hall.id, hall.code, name, now,
                  ticket=present.ticket_view(session, hall, ticket),
                  window=present.window_brief(hall, window), **extra)


def _current(session: so.Session, window: Window) -> tuple[Ticket, Service] | None:
    """The window's ticket and its open service, read in one statement."""
    if window.ticket_id is None:
        return None
    service = session.scalars(
        sa.select(Service).where(Service.ticket_id == window.ticket_id, Service.ended_at.is_(None))
        .options(so.joinedload(Service.ticket))
        .order_by(Service.id.desc()).limit(1)).one()
    return service.ticket, service


def _require_current(session: so.Session, window: Window) -> tuple[Ticket, Service]:
    current = _current(session, window)
    if current is None:
        raise Conflict("no_current_ticket", f"Window {window.number} has no visitor at the moment; "
                       "call the next ticket first.")
    return current


def _open(session: so.Session, hall: HallRef, window: Window, staff_id: int | None,
          now: dt.datetime, actor: str) -> None:
    window.staff_id = staff_id
    _set_state(window, WindowState.IDLE, now)
    window.pause_reason = None
    _log_window(session, hall, window, "sign_in", now, actor)


def sign_in(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime,
            login: str | None = None) -> Window:
    """A clerk signs in at a window (上岗); the window opens, idle."""
    window = lock_window(session, hall, number)
    staff_id = None
    if login is not None:
        staff = session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id,
                                                       Staff.login == login)).one_or_none()
        if staff is None or not staff.active:
            raise NotFound("unknown_staff", f"Nobody with the login {login!r} works in hall {hall.code}.",
                           "login")
        allowed = next((s.windows for s in hall.settings.staff if s.login == login), ())
        if allowed and number not in allowed:
            raise Conflict("window_not_assigned", f"{staff.name} is not assigned to window {number}; "
                           f"their windows are {', '.join(map(str, allowed))}.", "window")
        staff_id = staff.id
    if window.state != WindowState.CLOSED:
        if window.staff_id == staff_id:
            return window  # signing in twice changes nothing
        if window.ticket_id is not None:
            raise Conflict("window_busy", f"Window {number} is serving a visitor; finish before "
                           "another clerk signs in.")
        _log_window(session, hall, window, "sign_out", now, actor)
    _open(session, hall, window, staff_id, now, actor)
    _record_window(session, hall, window, now)
    return window


def sign_out(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime) -> Window:
    """The clerk leaves (下岗); the window closes."""
    window = lock_window(session, hall, number)
    if window.state == WindowState.CLOSED:
        return window
    if window.ticket_id is not None:
        raise Conflict("window_busy", f"Window {number} still has a visitor; finish, transfer or "
                       "mark the ticket as no-show before signing out.")
    _log_window(session, hall, window, "sign_out", now, actor)
    window.staff_id, window.pause_reason = None, None
    _set_state(window, WindowState.CLOSED, now)
    _record_window(session, hall, window, now)
    return window


def _end_service(session: so.Session, hall: HallRef, window: Window, ticket: Ticket,
                 service: Service, outcome: str, now: dt.datetime) -> None:
    service.ended_at, service.outcome = now, outcome
    window.ticket_id = None
    _set_state(window, WindowState.IDLE, now)


def _finish(session: so.Session, hall: HallRef, window: Window, outcome: str,
            matters: list[str] | None, actor: str, now: dt.datetime, auto: bool = False) -> Ticket:
    ticket, service = _require_current(session, window)
    if matters:
        service.matters = list(matters)
    _end_service(session, hall, window, ticket, service, outcome, now)
    extra: dict[str, object] = {"outcome": outcome, "service_id": service.id}
    if auto:
        extra["auto"] = True
    if ticket.route and outcome == "done":
        # 一件事一次办: the same ticket goes on to the bundle's next queue.
        ticket.queue_id, ticket.route = ticket.route[0], ticket.route[1:]
        ticket.status, ticket.waiting_since, ticket.window_id = TicketStatus.WAITING, now, None
        extra["next_queue"] = hall.queue_prefixes[ticket.queue_id]
    else:
        ticket.status, ticket.closed_at = TicketStatus.DONE, now
    log_ticket(session, hall, ticket, "finished", now, actor, window_id=window.id, **extra)
    _record_ticket(session, hall, events.TICKET_FINISHED, ticket, window, now,
                   outcome=outcome, service_id=service.id)
    if ticket.status == TicketStatus.WAITING:
        _record_queue(session, hall, ticket.queue_id, now, ticket.business_day)
    return ticket


def call_next(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime,
              staff_login: str | None = None) -> Ticket | None:
    """下一位: finish the current visitor if any, then call the ticket the policy picks."""
    window = lock_window(session, hall, number, serves=True)
    if window.state == WindowState.PAUSED:
        raise Conflict("window_paused", f"Window {number} is paused ({window.pause_reason}); "
                       "resume it before calling.")
    if window.state == WindowState.CLOSED:
        staff_id = hall.staff_ids.get(staff_login) if staff_login else None
        _open(session, hall, window, staff_id, now, actor)
    if window.ticket_id is not None:
        _finish(session, hall, window, "done", None, actor, now, auto=True)
    ticket = select_next(session, window, now)
    if ticket is None:
        _record_window(session, hall, window, now)
        return None
    ticket.status, ticket.window_id, ticket.called_at = TicketStatus.CALLED, window.id, now
    ticket.target_window_id = None
    window.ticket_id = ticket.id
    _set_state(window, WindowState.SERVING, now)
    service = Service(hall_id=hall.id, business_day=ticket.business_day, ticket_id=ticket.id,
                      queue_id=ticket.queue_id, window_id=window.id, staff_id=window.staff_id,
                      waiting_since=ticket.waiting_since, called_at=now, last_called_at=now)
    session.add(service)
    session.flush()
    log_ticket(session, hall, ticket, "called", now, actor, window_id=window.id, service_id=service.id)
    _record_ticket(session, hall, events.TICKET_CALLED, ticket, window, now)
    _record_window(session, hall, window, now)
    _record_queue(session, hall, ticket.queue_id, now, ticket.business_day)
    return ticket


def recall(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime) -> Ticket:
    """重呼: announce the current ticket again."""
    window = lock_window(session, hall, number)
    ticket, service = _require_current(session, window)
    service.recalls += 1
    service.last_called_at = now
    log_ticket(session, hall, ticket, "recalled", now, actor, window_id=window.id,
               service_id=service.id, recalls=service.recalls)
    _record_ticket(session, hall, events.TICKET_RECALLED, ticket, window, now, recalls=service.recalls)
    return ticket


def start_service(session: so.Session, hall: HallRef, number: int, actor: str,
                  now: dt.datetime) -> Ticket:
    """The called visitor has arrived at the window (optional: halls that mark arrival)."""
    window = lock_window(session, hall, number)
    ticket, service = _require_current(session, window)
    if ticket.status == TicketStatus.CALLED:
        ticket.status = TicketStatus.SERVING
        log_ticket(session, hall, ticket, "serving", now, actor, window_id=window.id,
                   service_id=service.id)
        _record_window(session, hall, window, now)
    return ticket


def no_show(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime) -> Ticket:
    """过号: the called visitor is not there."""
    window = lock_window(session, hall, number)
    ticket, service = _require_current(session, window)
    _end_service(session, hall, window, ticket, service, "no_show", now)
    ticket.status, ticket.closed_at, ticket.close_reason = TicketStatus.NO_SHOW, now, "no_show"
    log_ticket(session, hall, ticket, "no_show", now, actor, window_id=window.id, service_id=service.id)
    _record_ticket(session, hall, events.TICKET_NO_SHOW, ticket, window, now)
    _record_window(session, hall, window, now)
    return ticket


def finish(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime,
           outcome: str = "done", matters: list[str] | None = None) -> Ticket:
    """办结: the service is over; a bundle's ticket goes on to its next queue."""
    if outcome not in OUTCOMES:
        raise DomainError("invalid_outcome", f"Unknown outcome {outcome!r}; use one of "
                          f"{', '.join(OUTCOMES)}.", "outcome")
    window = lock_window(session, hall, number)
    ticket = _finish(session, hall, window, outcome, matters, actor, now)
    _record_window(session, hall, window, now)
    return ticket


def transfer(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime,
             to_queue: str | None = None, to_window: int | None = None) -> Ticket:
    """转号: the same ticket goes on to another queue or a named window, keeping its place."""
    if (to_queue is None) == (to_window is None):
        raise DomainError("invalid_transfer", "Give either 'queue' (e.g. \"B\") or 'window' "
                          "(e.g. 12) to transfer to, not both.", "queue")
    window = lock_window(session, hall, number)
    target_queue_id = hall.queue_id(to_queue) if to_queue is not None else None
    target_window = None
    if to_window is not None:
        if to_window == number:
            raise DomainError("invalid_transfer", "A ticket cannot be transferred to the window "
                              "that holds it.", "window")
        target_window = get_window(session, hall, to_window)
    ticket, service = _require_current(session, window)
    _end_service(session, hall, window, ticket, service, "transferred", now)
    ticket.status, ticket.window_id, ticket.waiting_since = TicketStatus.WAITING, None, now
    if target_queue_id is not None:
        ticket.queue_id, ticket.target_window_id = target_queue_id, None
        to = {"queue": to_queue}
    else:
        ticket.target_window_id = target_window.id
        to = {"window": to_window}
    log_ticket(session, hall, ticket, "transferred", now, actor, window_id=window.id,
               service_id=service.id, to=to)
    _record_ticket(session, hall, events.TICKET_TRANSFERRED, ticket, window, now, to=to)
    _record_window(session, hall, window, now)
    _record_queue(session, hall, ticket.queue_id, now, ticket.business_day)
    return ticket


def pause(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime,
          reason: str = "break") -> Window:
    """暂停服务: the window stops calling (break, meeting, training)."""
    reason = (reason or "break").strip()[:100] or "break"
    window = lock_window(session, hall, number)
    if window.state == WindowState.CLOSED:
        raise Conflict("window_closed", f"Window {number} is closed; sign in before pausing it.")
    if window.ticket_id is not None:
        raise Conflict("window_busy", f"Window {number} has a visitor; finish, transfer or mark "
                       "the ticket as no-show before pausing.")
    if window.state == WindowState.PAUSED and window.pause_reason == reason:
        return window
    window.pause_reason = reason
    _set_state(window, WindowState.PAUSED, now)
    _log_window(session, hall, window, "pause", now, actor, reason)
    _record_window(session, hall, window, now)
    return window


def resume(session: so.Session, hall: HallRef, number: int, actor: str, now: dt.datetime) -> Window:
    """The window serves again after a pause."""
    window = lock_window(session, hall, number)
    if window.state != WindowState.PAUSED:
        raise Conflict("window_not_paused", f"Window {number} is not paused (it is "
                       f"{window.state.value}).")
    window.pause_reason = None
    _set_state(window, WindowState.IDLE, now)
    _log_window(session, hall, window, "resume", now, actor)
    _record_window(session, hall, window, now)
    return window


def current_ticket(session: so.Session, hall: HallRef, number: int) -> Ticket | None:
    window = get_window(session, hall, number)
    return session.get(Ticket, window.ticket_id) if window.ticket_id else None


__all__ = ["call_next", "recall", "no_show", "finish", "transfer", "pause", "resume", "sign_in",
           "sign_out", "start_service", "current_ticket", "get_window", "lock_window", "get_ticket",
           "AT_WINDOW_STATES"]
