"""好差评: one rating per service (一次一评), five levels, reasons required for a bad review."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import events, present, rectification
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, Forbidden
from hall.models import Rating, Service
from hall.tickets import get_ticket, lock_hall, log_ticket

LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})
RATED_OUTCOMES = ("done", "unresolved", "transferred")
RATING_CHANNELS = ("pad", "mobile", "sms", "web", "kiosk")


def rate_service(session: so.Session, hall: HallRef, ticket_id: int, level: int, actor: str,
                 now: dt.datetime, reasons: Sequence[str] = (), comment: str | None = None,
                 channel: str = "pad", window_number: int | None = None) -> Rating:
    """Rate the ticket's latest service not yet rated (at ``window_number`` when a pad rates)."""
    if level not in LEVELS:
        raise DomainError("invalid_level", "The level must be 1 (非常不满意) to 5 (非常满意).", "level")
    if channel not in RATING_CHANNELS:
        raise DomainError("invalid_channel", f"Unknown rating channel {channel!r}; use one of "
                          f"{', '.join(RATING_CHANNELS)}.", "channel")
    known = [r.code for r in hall.settings.rating.reasons]
    unknown = [r for r in reasons if r not in known]
    if unknown:
        raise DomainError("unknown_reason", f"Unknown reason {', '.join(unknown)}; the reasons are "
                          f"{', '.join(known)}.", "reasons")
    if level in BAD_LEVELS and not reasons:
        raise DomainError("reason_required", "A rating of 不满意 or 非常不满意 needs at least one "
                          f"reason ({', '.join(known)}).", "reasons")
    lock_hall(session, hall)
    ticket = get_ticket(session, hall, ticket_id)
    query = (sa.select(Service).where(Service.ticket_id == ticket.id,
                                      Service.outcome.in_(RATED_OUTCOMES))
             .order_by(Service.ended_at.desc(), Service.id.desc()))
    if window_number is not None:
        query = query.where(Service.window_id == hall.window_id(window_number))
    services = session.scalars(query).all()
    if not services:
        where = f" at window {window_number}" if window_number is not None else ""
        raise Conflict("nothing_to_rate", f"Ticket {ticket.number} has no finished service{where} "
                       "to rate yet.")
    rated = set(session.scalars(sa.select(Rating.service_id).where(
        Rating.service_id.in_([s.id for s in services]))))
    service = next((s for s in services if s.id not in rated), None)
    if service is None:
        raise Conflict("already_rated", f"This service of ticket {ticket.number} has already been "
                       "rated; each service is rated once (一次一评).")
    if window_number is not None and service is not services[0]:
        raise Forbidden("already_rated", f"The last service of ticket {ticket.number} at window "
                        f"{window_number} has already been rated.")
    rating = Rating(hall_id=hall.id, service_id=service.id, ticket_id=ticket.id,
                    business_day=service.business_day, level=level, reasons=list(reasons),
                    comment=(comment or None), channel=channel, at=now)
    session.add(rating)
    session.flush()
    if level in BAD_LEVELS:  # 差评整改: the case opens in the rating's own transaction
        rectification.open_case(session, hall, rating, service, actor, now)
    log_ticket(session, hall, ticket, "rated", now, actor, window_id=service.window_id,
               service_id=service.id, level=level)
    events.record(session, hall.id, hall.code, events.TICKET_RATED, now,
                  ticket=present.public_ticket_view(present.ticket_view(session, hall, ticket)),
                  window={"number": hall.window_numbers[service.window_id],
                          "name": hall.window_settings(service.window_id).name},
                  rating={"level": level, "bad": level in BAD_LEVELS, "channel": channel})
    return rating
