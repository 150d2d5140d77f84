"""The day's figures kept once the day is closed (日报): a rollup row per hall and business day, and
the sums behind the period reports per grouping (hall.reports.SUMS), so that a report of a month
or a year adds up kept days instead of reading their tickets again (docs/benchmarks-year.md)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import reports, stats
from hall.directory import HallRef
from hall.models import Base, Ticket


class DayRollup(Base):
    """The figures of one closed business day, as hall.stats.day_stats gave them at closing."""

    __tablename__ = "day_rollups"
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), primary_key=True)
    business_day: so.Mapped[dt.date] = so.mapped_column(primary_key=True)
    figures: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    written_at: so.Mapped[dt.datetime]


class DayRollupPart(Base):
    """The report sums (hall.reports.SUMS) of one closed business day for one key of a dimension:
    ``dim`` "day" (ref 0), "hour" (local hour), "queue" (queue id), "window" (window id) or
    "clerk" (staff id, 0 = nobody signed in). ``within`` counts waits up to ``target_wait_s``, the
    target of the day's closing; a report asking another target reads the day's tickets."""

    __tablename__ = "day_rollup_parts"
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), primary_key=True)
    dim: so.Mapped[str] = so.mapped_column(sa.String(8), primary_key=True)
    business_day: so.Mapped[dt.date] = so.mapped_column(primary_key=True)
    ref: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    target_wait_s: so.Mapped[int]
    issued: so.Mapped[int]
    no_show: so.Mapped[int]
    served: so.Mapped[int]
    services: so.Mapped[int]
    extended: so.Mapped[int]
    waits: so.Mapped[int]
    wait_ms: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    max_wait_ms: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    within: so.Mapped[int]
    durations: so.Mapped[int]
    duration_ms: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    busy_ms: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    open_ms: so.Mapped[int] = so.mapped_column(sa.BigInteger)


# How far back the closing of a day keeps the days without tickets before it (see write_rollup).
GAP_DAYS = 31


def write_rollup(session: so.Session, hall: HallRef, day: dt.date, now: dt.datetime) -> DayRollup:
    """Compute and keep the day's figures and report sums; writing it again replaces them (idempotent).

    The days since the last kept one that have no ticket (weekends, holidays; at most GAP_DAYS back)
    are kept too, with their window time if any: no ticket is ever issued for a past day, so they
    stay as they are, and a report of closed days then reads no ticket at all."""
    session.flush()
    figures = stats.day_stats(session, hall, day)
    row = session.get(DayRollup, (hall.id, day))
    if row is None:
        row = DayRollup(hall_id=hall.id, business_day=day, figures=figures, written_at=now)
        session.add(row)
    else:
        row.figures, row.written_at = figures, now
    cap = now.timestamp()
    parts = reports.day_parts(session, hall, day, day, cap=cap)
    empty = _days_without_tickets_before(session, hall, day)
    if empty:
        parts.update(reports.day_parts(session, hall, empty[0], empty[-1], cap=cap, days=empty))
    for kept in (day, *empty):  # a day row for each, even without tickets: the day is kept
        parts.setdefault(("day", kept.isoformat(), 0), reports.Sums())
    target = hall.settings.policy.target_wait_s
    session.execute(sa.delete(DayRollupPart).where(DayRollupPart.hall_id == hall.id,
                                                   DayRollupPart.business_day.in_([day, *empty])))
    session.execute(sa.insert(DayRollupPart), [
        {"hall_id": hall.id, "dim": dim, "business_day": dt.date.fromisoformat(kept), "ref": ref,
         "target_wait_s": target, **dict(zip(reports.SUMS, sums.values()))}
        for (dim, kept, ref), sums in parts.items()])
    return row


def _days_without_tickets_before(session: so.Session, hall: HallRef, day: dt.date) -> list[dt.date]:
    """The days after the last kept day before ``day`` (at most GAP_DAYS back) without a ticket."""
    first = day - dt.timedelta(days=GAP_DAYS)
    last_kept = session.scalar(sa.select(sa.func.max(DayRollupPart.business_day)).where(
        DayRollupPart.hall_id == hall.id, DayRollupPart.dim == "day",
        DayRollupPart.business_day >= first, DayRollupPart.business_day < day))
    if isinstance(last_kept, str):  # SQLite's MAX() gives the stored text
        last_kept = dt.date.fromisoformat(last_kept)
    start = last_kept + dt.timedelta(days=1) if last_kept is not None else first
    if start >= day:
        return []
    with_tickets = {reports._day(d) for d in session.scalars(
        sa.select(sa.type_coerce(Ticket.business_day, sa.String)).where(
            Ticket.hall_id == hall.id, Ticket.business_day >= start, Ticket.business_day < day)
        .distinct())}
    return [d for d in (start + dt.timedelta(days=i) for i in range((day - start).days))
            if d not in with_tickets]


def read_parts(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
               dims: Iterable[str], target_wait_s: int) -> dict[reports.PartKey, reports.Sums]:
    """The kept report sums of ``hall``'s days ``date_from``..``date_to`` for ``dims`` that were
    counted with ``target_wait_s``, by (dimension, day, ref)."""
    return read_parts_of_halls(session, [hall], date_from, date_to, dims,
                               {hall.id: target_wait_s}).get(hall.id, {})


def read_parts_of_halls(session: so.Session, halls: Iterable[HallRef], date_from: dt.date,
                        date_to: dt.date, dims: Iterable[str], targets: dict[int, int] | None = None
                        ) -> dict[int, dict[reports.PartKey, reports.Sums]]:
    """``read_parts`` of many halls in one statement, by hall id; each hall's parts counted with its
    own target wait (``targets`` by hall id, else the hall's configured one)."""
    halls = list(halls)
    if not halls:
        return {}
    if targets is None:
        targets = {h.id: h.settings.policy.target_wait_s for h in halls}
    P = DayRollupPart
    hall_filter = P.hall_id == halls[0].id if len(halls) == 1 else P.hall_id.in_([h.id for h in halls])
    rows = session.connection().execute(
        sa.select(P.hall_id, P.target_wait_s, P.dim, sa.type_coerce(P.business_day, sa.String), P.ref,
                  *(getattr(P, name) for name in reports.SUMS))
        .where(hall_filter, P.dim.in_(list(dims)), P.business_day >= date_from,
               P.business_day <= date_to))
    out: dict[int, dict[reports.PartKey, reports.Sums]] = {h.id: {} for h in halls}
    for hall_id, target, dim, day, ref, *values in rows:
        if targets.get(hall_id) == target:
            out[hall_id][(dim, str(day)[:10], ref)] = reports.Sums(values)
    return out


def get_rollup(session: so.Session, hall: HallRef, day: dt.date) -> dict[str, Any] | None:
    row = session.get(DayRollup, (hall.id, day))
    return dict(row.figures) if row is not None else None
