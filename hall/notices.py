"""Scrolling notices of a hall screen (公告), editable by a manager at run time and kept in the database."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import events
from hall.directory import HallRef
from hall.errors import DomainError
from hall.models import Base

NOTICES_CHANGED = "notices.changed"
MAX_NOTICES = 20
MAX_LENGTH = 200


class HallNotices(Base):
    """A hall's notices as a manager last set them; no row means the config's ``notices``."""

    __tablename__ = "hall_notices"
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), primary_key=True)
    notices: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    updated_at: so.Mapped[dt.datetime]
    updated_by: so.Mapped[str] = so.mapped_column(sa.String(64))


def get_notices(session: so.Session, hall: HallRef) -> list[str]:
    row = session.get(HallNotices, hall.id)
    return list(row.notices) if row is not None else list(hall.settings.notices)


def set_notices(session: so.Session, hall: HallRef, notices: list[str], actor: str,
                now: dt.datetime) -> list[str]:
    """Replace the notices; screens get a ``notices.changed`` event after commit."""
    cleaned = [n.strip() for n in notices if isinstance(n, str) and n.strip()]
    if len(notices) > MAX_NOTICES:
        raise DomainError("too_many_notices", f"A hall shows at most {MAX_NOTICES} notices.", "notices")
    if any(len(n) > MAX_LENGTH for n in cleaned):
        raise DomainError("notice_too_long", f"A notice has at most {MAX_LENGTH} characters.", "notices")
    row = session.get(HallNotices, hall.id)
    if row is None:
        row = HallNotices(hall_id=hall.id, notices=cleaned, updated_at=now, updated_by=actor)
        session.add(row)
    else:
        row.notices, row.updated_at, row.updated_by = cleaned, now, actor
    events.record(session, hall.id, hall.code, NOTICES_CHANGED, now, notices=cleaned)
    return cleaned
