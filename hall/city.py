"""The city view (市级监管): every visible hall's waiting, longest wait, open windows, served and 好差评 of today.

Each figure is one aggregate query over all the halls (grouped by hall), not a snapshot per hall:
a city runs hundreds of halls. Definitions follow hall.stats.day_stats.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.directory import HallRef
from hall.evaluation import RATED_OUTCOMES
from hall.models import OPEN_WINDOW_STATES, Hall, Rating, Service, Ticket, TicketStatus, Window
from hall.scope import LEVELS


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _instant(value: Any) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite's MIN() returns the stored text, not the column type
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _figures(session: so.Session, halls: list[HallRef], day: dt.date,
             now: dt.datetime) -> dict[int, dict[str, Any]]:
    """The day's figures of ``halls`` (which share that business day), by hall id.

    Each query reads an index or the day's rows once for all the halls; the slow shapes (a
    GROUP BY on status, a window function for "last service") are avoided: docs/benchmarks-city.md.
    """
    ids = [h.id for h in halls]
    queue_ids = [q for h in halls for q in h.queue_ids.values()]
    out = {i: {"issued": 0, "waiting": 0, "longest_wait_s": 0, "open_windows": 0, "done": 0,
               "unresolved": 0, "services": 0, "ratings": 0, "good": 0} for i in ids}
    for hall_id, n in session.execute(  # covered by ix_tickets_hall_day
            sa.select(Ticket.hall_id, sa.func.count()).where(Ticket.hall_id.in_(ids), Ticket.business_day == day)
            .group_by(Ticket.hall_id)):
        out[hall_id]["issued"] = n
    in_status = (Ticket.queue_id.in_(queue_ids), Ticket.business_day == day)  # ix_tickets_waiting
    for hall_id, n, oldest in session.execute(
            sa.select(Ticket.hall_id, sa.func.count(), sa.func.min(Ticket.waiting_since))
            .where(*in_status, Ticket.status == TicketStatus.WAITING).group_by(Ticket.hall_id)):
        since = _instant(oldest)
        out[hall_id]["waiting"] = n
        out[hall_id]["longest_wait_s"] = max(0, int((now - since).total_seconds())) if since else 0
    for hall_id, n in session.execute(
            sa.select(Ticket.hall_id, sa.func.count())
            .where(*in_status, Ticket.status == TicketStatus.DONE).group_by(Ticket.hall_id)):
        out[hall_id]["done"] = n
    configured = {(h.id, n) for h in halls for n in h.window_ids}
    for hall_id, number in session.execute(
            sa.select(Window.hall_id, Window.number).where(
                Window.hall_id.in_(ids), Window.state.in_(list(OPEN_WINDOW_STATES)))):
        out[hall_id]["open_windows"] += (hall_id, number) in configured
    # An "unresolved" finish always ends its ticket (DONE): served = DONE tickets − those, which is
    # day_stats' "last service ended done" without a per-ticket window function (4x slower).
    for hall_id, services, unresolved in session.execute(
            sa.select(Service.hall_id, sa.func.count(),
                      sa.func.sum(sa.case((Service.outcome == "unresolved", 1), else_=0)))
            .where(Service.hall_id.in_(ids), Service.business_day == day,
                   Service.outcome.in_(RATED_OUTCOMES)).group_by(Service.hall_id)):
        out[hall_id]["services"], out[hall_id]["unresolved"] = services, int(unresolved or 0)
    for hall_id, n, good in session.execute(
            sa.select(Rating.hall_id, sa.func.count(), sa.func.sum(sa.case((Rating.level >= 4, 1), else_=0)))
            .where(Rating.hall_id.in_(ids), Rating.business_day == day, Rating.defaulted.is_(False))
            .group_by(Rating.hall_id)):
        out[hall_id]["ratings"], out[hall_id]["good"] = n, int(good or 0)
    for row in out.values():
        row["served"] = max(0, row["done"] - row["unresolved"])
    return out


def city_view(session: so.Session, halls: Iterable[HallRef], now: dt.datetime) -> dict[str, Any]:
    """Today's figures of ``halls`` (each on its own business day), sorted by level, and the totals."""
    halls = list(halls)
    by_day: dict[dt.date, list[HallRef]] = {}
    for hall in halls:
        by_day.setdefault(calendar.business_day(now, hall.timezone), []).append(hall)
    figures: dict[int, dict[str, Any]] = {}
    for day, group in by_day.items():
        figures.update(_figures(session, group, day, now))
    seqs = dict(session.execute(sa.select(Hall.id, Hall.event_seq)
                                .where(Hall.id.in_([h.id for h in halls]))).all()) if halls else {}
    rows = []
    for hall in halls:
        f = figures[hall.id]
        rows.append({
            "code": hall.code, "name": hall.settings.name, "level": hall.settings.level,
            "parent": hall.settings.parent, "seq": seqs.get(hall.id) or 0,
            "date": calendar.business_day(now, hall.timezone).isoformat(),
            "open": calendar.session_at(hall.settings, now) is not None,
            "windows": len(hall.window_ids), **{k: f[k] for k in (
                "waiting", "longest_wait_s", "open_windows", "issued", "served", "services",
                "ratings")},
            "evaluation_rate": _ratio(f["ratings"], f["services"]),
            "good_rate": _ratio(f["good"], f["ratings"]),
        })
    rows.sort(key=lambda r: (LEVELS.index(r["level"]), r["code"]))
    totals = {k: sum(r[k] for r in rows) for k in ("waiting", "open_windows", "windows", "issued",
                                                    "served", "services", "ratings")}
    good = sum(figures[h.id]["good"] for h in halls)
    totals["longest_wait_s"] = max((r["longest_wait_s"] for r in rows), default=0)
    totals["evaluation_rate"] = _ratio(totals["ratings"], totals["services"])
    totals["good_rate"] = _ratio(good, totals["ratings"])
    return {"at": now.isoformat(timespec="seconds"), "halls": rows, "totals": totals}
