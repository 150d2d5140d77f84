"""Retention of visitors' personal data (个人信息保存期限): phone and ID hashes and masks are cleared after N days."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.directory import HallRef
from hall.models import Ticket

log = logging.getLogger(__name__)


PERSONAL_FIELDS = ("phone_hash", "phone_masked", "id_hash", "id_masked")


def _tables() -> tuple[tuple[Any, Any], ...]:
    """Every table that keeps a visitor's ID or phone (as hash and masked form), with the
    column of its business day: tickets, and appointments (预约)."""
    from hall.appointments import Appointment  # a feature module; imported when used
    return ((Ticket, Ticket.business_day), (Appointment, Appointment.day))


def purge_personal_data(session: so.Session, hall: HallRef, now: dt.datetime, days: int) -> int:
    """Clear the ID and phone (hash and masked form) of the hall's tickets and appointments of
    business days more than ``days`` ago; numbers, times, queues and ratings stay, so statistics
    do not change. ``days`` = 0 keeps everything. Returns the number of rows cleared. Caller commits."""
    if days <= 0:
        return 0
    cutoff = calendar.business_day(now, hall.timezone) - dt.timedelta(days=days)
    cleared = 0
    for model, day in _tables():
        has_data = sa.or_(*(getattr(model, name).is_not(None) for name in PERSONAL_FIELDS))
        result = session.execute(
            sa.update(model).where(model.hall_id == hall.id, day < cutoff, has_data)
            .values(**{name: None for name in PERSONAL_FIELDS})
            .execution_options(synchronize_session=False))
        cleared += result.rowcount or 0
    return cleared


def purge_all(rt) -> int:
    """The scheduled job: every hall, with ``server.personal_data_days``; idempotent."""
    days = rt.settings.server.personal_data_days
    cleared = 0
    for hall in rt.halls.values():
        with rt.db.write() as session:
            cleared += purge_personal_data(session, hall, rt.clock.now(), days)
    if cleared:
        log.info("cleared the personal data of %d tickets and appointments older than %d days",
                 cleared, days)
    return cleared
