"""Issue and cancel tickets (取号): atomic numbering, caps, opening hours, the ticket log."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
from typing import Any
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar, events, forecast, invitations, numbering, policy, present, privacy
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, NotFound
from hall.models import (FINAL_TICKET_STATES, Hall, Priority, Queue, Ticket, TicketEvent,
                         TicketStatus)

CHANNELS = ("kiosk", "mobile", "web", "counter", "appointment", "api")


@dataclasses.dataclass(frozen=True)
class IssueRequest:
    """What a kiosk, a phone or a clerk asks for; validated by :func:`issue_ticket`."""

    queue: str | None = None
    priority: str = "none"
    channel: str = "kiosk"
    matters: Sequence[str] = ()
    phone: str | None = None
    id_number: str | None = None
    bundle: str | None = None
    kiosk: str | None = None


@dataclasses.dataclass(frozen=True)
class IssuedTicket:
    ticket: Ticket
    view: dict[str, Any]


def secret_matches(ticket: Ticket, secret: str) -> bool:
    return hmac.compare_digest(ticket.secret.encode(), secret.encode())


def lock_hall(session: so.Session, hall: HallRef) -> None:
    """Serialise the hall's actions: events get their seq in commit order (PostgreSQL row lock;
    on SQLite the BEGIN IMMEDIATE write lock already does it)."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(sa.select(Hall.id).where(Hall.id == hall.id).with_for_update())


def with_hall_lock(statement: sa.Select, hall_id: sa.ColumnElement[int]) -> sa.Select:
    """``statement`` (a read of one hall's row of something) that also takes the lock of
    :func:`lock_hall` on that hall, in the same round trip: ``… JOIN halls … FOR UPDATE OF halls``
    (SQLite ignores FOR UPDATE; its write lock is taken at BEGIN)."""
    return statement.join(Hall, Hall.id == hall_id).with_for_update(of=Hall)


_LOG = sa.insert(TicketEvent)  # built once: every ticket action writes one row
_LOG_ROWS = "hall.ticket_log"  # session.info: this transaction's log rows, written before commit


def log_ticket(session: so.Session, hall: HallRef, ticket: Ticket, kind: str, at: dt.datetime,
               actor: str, **extra: object) -> None:
    """Append the ticket's log row. The rows of a transaction are inserted together just before
    it commits (:func:`bind`): a call that finishes one visitor and calls the next writes its two
    rows in one statement. Nothing reads the log inside the transaction that writes it."""
    if ticket.id is None:
        session.flush()  # a new ticket's row first: the log row refers to it
    session.info.setdefault(_LOG_ROWS, []).append({
        "hall_id": hall.id, "ticket_id": ticket.id, "kind": kind, "at": at,
        "queue_id": ticket.queue_id, "window_id": extra.pop("window_id", ticket.window_id),
        "service_id": extra.pop("service_id", None), "actor": actor, "data": extra or None})
    forecast.note_action(session, at)


def bind(session_factory: so.sessionmaker) -> None:
    """Write each transaction's ticket log rows (a Core insert of all of them) as it commits;
    drop them when it rolls back."""

    @sa.event.listens_for(session_factory, "before_commit")
    def _write_log(session: so.Session) -> None:
        rows = session.info.pop(_LOG_ROWS, None)
        if rows:
            session.connection().execute(_LOG, rows)

    @sa.event.listens_for(session_factory, "after_soft_rollback")
    def _drop_log(session: so.Session, previous_transaction: object) -> None:
        session.info.pop(_LOG_ROWS, None)


def _route(hall: HallRef, request: IssueRequest) -> tuple[str, list[str]]:
    if request.bundle:
        bundle = next((b for b in hall.settings.bundles if b.code == request.bundle), None)
        if bundle is None:
            known = ", ".join(b.code for b in hall.settings.bundles) or "none"
            raise NotFound("unknown_bundle", f"Hall {hall.code} has no bundle {request.bundle!r}; "
                           f"its bundles are: {known}.", "bundle")
        if request.queue and request.queue != bundle.queues[0]:
            raise DomainError("bundle_queue_mismatch", f"Bundle {bundle.code} starts at queue "
                              f"{bundle.queues[0]}, not {request.queue}; leave 'queue' out.", "queue")
        return bundle.queues[0], list(bundle.queues[1:])
    if not request.queue:
        raise DomainError("missing_queue", "Say which queue the ticket is for ('queue', e.g. \"A\").",
                          "queue")
    return request.queue, []


# The queue's row as a plain Core row (id, prefix, name, open): issue reads it on every ticket,
# taking the hall's lock with it.
QUEUE_ROW = sa.select(Queue.id, Queue.prefix, Queue.name, Queue.open).where(Queue.id == sa.bindparam("id"))
_LOCKED_QUEUE_ROW = with_hall_lock(QUEUE_ROW, Queue.hall_id)


def _check_open(session: so.Session, hall: HallRef, queue: sa.Row, now: dt.datetime,
                day: dt.date) -> None:
    settings = hall.settings.queue(queue.prefix)
    if not queue.open:
        raise Conflict("queue_closed", f"Queue {queue.prefix} ({queue.name}) is closed at the moment; "
                       "please ask at the information desk.", "queue")
    opening = calendar.session_at(hall.settings, now)
    if opening is None:
        nxt = calendar.next_opening(hall.settings, now)
        when = nxt.strftime("%Y-%m-%d %H:%M") if nxt else "a date not yet announced"
        raise Conflict("hall_closed", f"{hall.settings.name} is closed now; it opens again at {when}.",
                       "queue")
    if settings.last_ticket is not None:
        local = now.astimezone(ZoneInfo(hall.timezone))
        if local.time() >= settings.last_ticket and local.date() == day:
            raise Conflict("queue_closed", f"Queue {queue.prefix} ({queue.name}) stops issuing tickets "
                           f"at {settings.last_ticket:%H:%M}; please come back on the next working day.",
                           "queue")


def _check_id_cap(session: so.Session, hall: HallRef, queue: sa.Row, id_hash: str | None,
                  day: dt.date) -> None:
    """防黄牛: one ID number takes at most ``max_tickets_per_id`` tickets of a queue a day."""
    cap = hall.settings.policy.max_tickets_per_id
    if not cap or id_hash is None:
        return
    taken = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.id_hash == id_hash, Ticket.origin_queue_id == queue.id, Ticket.business_day == day))
    if taken >= cap:
        raise Conflict("id_cap_reached", f"This ID number has already taken {taken} ticket(s) of queue "
                       f"{queue.prefix} ({queue.name}) today, the most allowed per person; please "
                       "ask at the information desk if you need another.", "id_number")


def issue_ticket(session: so.Session, hall: HallRef, request: IssueRequest, actor: str,
                 now: dt.datetime, privacy_key: bytes = b"") -> IssuedTicket:
    """Issue a ticket: the next number of the queue today, or a clear refusal. Caller commits."""
    prefix, rest = _route(hall, request)
    queue_id = hall.queue_id(prefix)
    try:
        priority = Priority(request.priority or "none")
    except ValueError:
        raise DomainError("invalid_priority", f"Unknown priority {request.priority!r}; use one of "
                          f"{', '.join(p.value for p in Priority)}.", "priority") from None
    if request.channel not in CHANNELS:
        raise DomainError("invalid_channel", f"Unknown channel {request.channel!r}; use one of "
                          f"{', '.join(CHANNELS)}.", "channel")
    qsettings = hall.settings.queue(prefix)
    if qsettings.matters:
        unknown = [m for m in request.matters if m not in qsettings.matters]
        if unknown:
            raise DomainError("unknown_matter", f"Queue {prefix} does not handle {', '.join(unknown)}; "
                              f"it handles {', '.join(qsettings.matters)}.", "matters")
    phone = privacy.normalise_phone(request.phone) if request.phone else None
    id_number = privacy.normalise_id_number(request.id_number) if request.id_number else None

    queue = session.connection().execute(_LOCKED_QUEUE_ROW, {"id": queue_id}).one()  # lock_hall too
    day = calendar.business_day(now, hall.timezone)
    _check_open(session, hall, queue, now, day)
    id_hash = privacy.keyed_hash(id_number, privacy_key) if id_number else None
    _check_id_cap(session, hall, queue, id_hash, day)
    seq = numbering.next_number(session, queue_id, day)
    if qsettings.daily_cap is not None and seq > qsettings.daily_cap:
        raise Conflict("queue_full", f"Queue {prefix} ({queue.name}) has given out all "
                       f"{qsettings.daily_cap} tickets for today; please come back on the next "
                       "working day or book an appointment.", "queue")
    ticket = Ticket(
        hall_id=hall.id, business_day=day, origin_queue_id=queue_id, queue_id=queue_id, seq=seq,
        number=numbering.format_number(prefix, seq, qsettings.number_width), priority=priority,
        status=TicketStatus.WAITING, channel=request.channel, issued_at=now, waiting_since=now,
        sort_key=policy.sort_key(now, priority, hall.settings.policy),
        route=[hall.queue_id(p, "bundle") for p in rest], bundle=request.bundle,
        matters=list(request.matters), secret=secrets.token_urlsafe(16), kiosk=request.kiosk,
        phone_hash=privacy.keyed_hash(phone, privacy_key) if phone else None,
        phone_masked=privacy.mask_phone(phone) if phone else None,
        id_hash=id_hash,
        id_masked=privacy.mask_id_number(id_number) if id_number else None,
    )
    session.add(ticket)
    session.flush()
    if phone and hall.settings.rating.invite_after_s:
        # 短信邀评: the phone is kept, encrypted, only until the invitation is sent.
        invitations.queue_invitation(session, hall, ticket, phone, now, privacy_key)
    log_ticket(session, hall, ticket, "issued", now, actor, window_id=None)
    view = present.ticket_view(session, hall, ticket)
    queue_view = present.queue_view(session, hall, queue, day=day)
    events.record(session, hall.id, hall.code, events.TICKET_ISSUED, now, ticket=view,
                  queue=queue_view, kiosk=request.kiosk)
    events.record(session, hall.id, hall.code, events.QUEUE_CHANGED, now, queue=queue_view)
    return IssuedTicket(ticket, view)


def get_ticket(session: so.Session, hall: HallRef | None, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or (hall is not None and ticket.hall_id != hall.id):
        raise NotFound("unknown_ticket", f"There is no ticket {ticket_id}.", "id")
    return ticket


def cancel_ticket(session: so.Session, hall: HallRef, ticket_id: int, actor: str,
                  now: dt.datetime, reason: str = "cancelled") -> Ticket:
    """Cancel a waiting ticket (the visitor left, or end of day)."""
    lock_hall(session, hall)
    ticket = get_ticket(session, hall, ticket_id)
    if ticket.status in FINAL_TICKET_STATES:
        raise Conflict("ticket_closed", f"Ticket {ticket.number} is already {ticket.status.value}.")
    if ticket.status != TicketStatus.WAITING:
        raise Conflict("ticket_at_window", f"Ticket {ticket.number} has been called to a window; "
                       "the clerk there finishes or marks it as no-show.")
    ticket.status = TicketStatus.CANCELLED
    ticket.closed_at, ticket.close_reason = now, reason
    log_ticket(session, hall, ticket, "cancelled", now, actor, reason=reason)
    queue = session.get(Queue, ticket.queue_id)
    view = present.ticket_view(session, hall, ticket)
    events.record(session, hall.id, hall.code, events.TICKET_CANCELLED, now, ticket=view)
    events.record(session, hall.id, hall.code, events.QUEUE_CHANGED, now,
                  queue=present.queue_view(session, hall, queue, day=ticket.business_day))
    return ticket
