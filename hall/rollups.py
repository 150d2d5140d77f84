"""The day's figures kept once the day is closed (日报): a rollup row per hall and business day."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import stats
from hall.directory import HallRef
from hall.models import Base


class DayRollup(Base):
    """The figures of one closed business day, as hall.stats.day_stats gave them at closing."""

    __tablename__ = "day_rollups"
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), primary_key=True)
    business_day: so.Mapped[dt.date] = so.mapped_column(primary_key=True)
    figures: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    written_at: so.Mapped[dt.datetime]


def write_rollup(session: so.Session, hall: HallRef, day: dt.date, now: dt.datetime) -> DayRollup:
    """Compute and keep the day's figures; writing it again replaces it (idempotent)."""
    session.flush()
    figures = stats.day_stats(session, hall, day)
    row = session.get(DayRollup, (hall.id, day))
    if row is None:
        row = DayRollup(hall_id=hall.id, business_day=day, figures=figures, written_at=now)
        session.add(row)
    else:
        row.figures, row.written_at = figures, now
    return row


def get_rollup(session: so.Session, hall: HallRef, day: dt.date) -> dict[str, Any] | None:
    row = session.get(DayRollup, (hall.id, day))
    return dict(row.figures) if row is not None else None
