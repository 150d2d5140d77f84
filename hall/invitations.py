"""Rating invitations by SMS (短信邀评): the phone kept encrypted until the message goes, then deleted."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import present
from hall.directory import HallRef
from hall.models import Base, Rating, Service, Ticket
from hall.notifier import Notifier, SendError

log = logging.getLogger(__name__)
KEEP_FOR = dt.timedelta(days=7)
INVITED_OUTCOMES = ("done", "unresolved", "transferred")


class Invitation(Base):
    """A queued invitation: the visitor's phone, encrypted, for at most ``KEEP_FOR``."""

    __tablename__ = "rating_invitations"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tickets.id"), unique=True)
    phone_token: so.Mapped[str] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(index=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)


def fernet(privacy_key: bytes) -> Any:
    """A Fernet key derived from the server secret (through the privacy key), never stored."""
    from cryptography.fernet import Fernet  # only halls that invite need it; the tables do not
    raw = hmac.new(privacy_key, b"rating-invitations", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def queue_invitation(session: so.Session, hall: HallRef, ticket: Ticket, phone: str,
                     now: dt.datetime, privacy_key: bytes) -> Invitation | None:
    """At issue time, when the hall invites: keep the phone encrypted until the service ends."""
    if not hall.settings.rating.invite_after_s or not phone:
        return None
    invitation = Invitation(hall_id=hall.id, ticket_id=ticket.id, created_at=now,
                            phone_token=fernet(privacy_key).encrypt(phone.encode()).decode())
    session.add(invitation)
    return invitation


@dataclasses.dataclass(frozen=True)
class Outgoing:
    invitation_id: int
    phone: str
    text: str
    meta: dict


def _message(hall: HallRef, ticket: Ticket) -> str:
    return (f"【{hall.settings.name}】您好，您今天在{hall.settings.name}办理的 {ticket.number} 号业务"
            f"已办结，请对我们的服务进行评价（好差评）：{present.track_url(hall, ticket)}")


def collect_due(session: so.Session, hall: HallRef, now: dt.datetime,
                privacy_key: bytes) -> list[Outgoing]:
    """Invitations to send now; drops those expired, already rated or with nothing to rate."""
    from cryptography.fernet import InvalidToken
    delay = dt.timedelta(seconds=hall.settings.rating.invite_after_s)
    box = fernet(privacy_key)
    due: list[Outgoing] = []
    for invitation in session.scalars(sa.select(Invitation).where(Invitation.hall_id == hall.id)
                                      .order_by(Invitation.id)):
        ticket = session.get(Ticket, invitation.ticket_id)
        services = session.scalars(sa.select(Service).where(
            Service.ticket_id == invitation.ticket_id,
            Service.outcome.in_(INVITED_OUTCOMES))).all()
        rated = set(session.scalars(sa.select(Rating.service_id).where(
            Rating.service_id.in_([s.id for s in services])))) if services else set()
        unrated = [s for s in services if s.id not in rated]
        finished = ticket.closed_at is not None
        if now - invitation.created_at >= KEEP_FOR or (finished and not unrated) or not delay:
            session.delete(invitation)  # too old, nothing left to rate, or invitations now off
            continue
        last_end = max((s.ended_at for s in services), default=None)
        if not finished or not unrated or last_end is None or now - last_end < delay:
            continue
        try:
            phone = box.decrypt(invitation.phone_token.encode()).decode()
        except InvalidToken:  # the server secret changed: it can never be read again
            session.delete(invitation)
            continue
        due.append(Outgoing(invitation.id, phone, _message(hall, ticket),
                            {"hall": hall.code, "ticket": ticket.number,
                             "track_url": present.track_url(hall, ticket)}))
    return due


def send_due(db, hall: HallRef, notifier: Notifier, now: dt.datetime, privacy_key: bytes) -> int:
    """Send what is due, outside any transaction; delete each invitation once it went out."""
    with db.write() as session:
        due = collect_due(session, hall, now, privacy_key)
    sent = 0
    for item in due:
        try:
            notifier.send(item.phone, item.text, item.meta)
        except SendError as err:
            log.warning("rating invitation %s not sent: %s", item.invitation_id, err)
            with db.write() as session:
                row = session.get(Invitation, item.invitation_id)
                if row is not None:
                    row.attempts += 1
            continue
        with db.write() as session:
            session.execute(sa.delete(Invitation).where(Invitation.id == item.invitation_id))
        sent += 1
    return sent
