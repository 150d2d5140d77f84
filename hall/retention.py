"""Retention of visitors' personal data (个人信息保存期限): phone and ID hashes and masks are cleared after N days."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.directory import HallRef
from hall.models import Ticket

log = logging.getLogger(__name__)


def purge_personal_data(session: so.Session, hall: HallRef, now: dt.datetime, days: int) -> int:
    """Clear phone_hash/phone_masked/id_hash/id_masked of the hall's tickets of business days more
    than ``days`` ago; numbers, times, queues and ratings stay, so statistics do not change.
    ``days`` = 0 keeps everything. Returns the number of tickets cleared. Caller commits."""
    if days <= 0:
        return 0
    cutoff = calendar.business_day(now, hall.timezone) - dt.timedelta(days=days)
    has_data = sa.or_(Ticket.phone_hash.is_not(None), Ticket.phone_masked.is_not(None),
                      Ticket.id_hash.is_not(None), Ticket.id_masked.is_not(None))
    result = session.execute(
        sa.update(Ticket).where(Ticket.hall_id == hall.id, Ticket.business_day < cutoff, has_data)
        .values(phone_hash=None, phone_masked=None, id_hash=None, id_masked=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def purge_all(rt) -> int:
    """The scheduled job: every hall, with ``server.personal_data_days``; idempotent."""
    days = rt.settings.server.personal_data_days
    cleared = 0
    for hall in rt.halls.values():
        with rt.db.write() as session:
            cleared += purge_personal_data(session, hall, rt.clock.now(), days)
    if cleared:
        log.info("cleared the personal data of %d tickets older than %d days", cleared, days)
    return cleared
