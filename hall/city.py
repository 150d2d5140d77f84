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


def _figures(session: so.Session, ids: list[int], day: dt.date, window_ids: list[int],
             now: dt.datetime) -> dict[int, dict[str, Any]]:
    """The day's figures of the halls ``ids`` (which share that business day), by hall id."""
    out = {i: {"issued": 0, "waiting": 0, "no_show": 0, "longest_wait_s": 0, "open_windows": 0,
               "served": 0, "services": 0, "ratings": 0, "good": 0} for i in ids}
    tickets = sa.select(Ticket.hall_id, sa.type_coerce(Ticket.status, sa.String), sa.func.count(),
                        sa.func.min(Ticket.waiting_since)) \
        .where(Ticket.hall_id.in_(ids), Ticket.business_day == day) \
        .group_by(Ticket.hall_id, Ticket.status)
    for hall_id, status, n, oldest in session.execute(tickets):
        row = out[hall_id]
        row["issued"] += n
        if status == TicketStatus.WAITING.value:
            row["waiting"] = n
            since = _instant(oldest)
            row["longest_wait_s"] = max(0, int((now - since).total_seconds())) if since else 0
        elif status == TicketStatus.NO_SHOW.value:
            row["no_show"] = n
    if window_ids:
        for hall_id, n in session.execute(
                sa.select(Window.hall_id, sa.func.count()).where(
                    Window.id.in_(window_ids), Window.state.in_(list(OPEN_WINDOW_STATES)))
                .group_by(Window.hall_id)):
            out[hall_id]["open_windows"] = n
    # Served: tickets whose last service of the day ended done (a transfer counts once).
    last = sa.select(sa.func.max(Service.id)).where(Service.hall_id.in_(ids), Service.business_day == day) \
        .group_by(Service.ticket_id).scalar_subquery()
    for hall_id, n in session.execute(
            sa.select(Service.hall_id, sa.func.count()).join(Ticket, Ticket.id == Service.ticket_id)
            .where(Service.id.in_(last), Service.outcome == "done", Ticket.status == TicketStatus.DONE,
                   Ticket.business_day == day)
            .group_by(Service.hall_id)):
        out[hall_id]["served"] = n
    for hall_id, n in session.execute(
            sa.select(Service.hall_id, sa.func.count())
            .where(Service.hall_id.in_(ids), Service.business_day == day,
                   Service.outcome.in_(RATED_OUTCOMES)).group_by(Service.hall_id)):
        out[hall_id]["services"] = n
    for hall_id, n, good in session.execute(
            sa.select(Rating.hall_id, sa.func.count(), sa.func.sum(sa.case((Rating.level >= 4, 1), else_=0)))
            .where(Rating.hall_id.in_(ids), Rating.business_day == day, Rating.defaulted.is_(False))
            .group_by(Rating.hall_id)):
        out[hall_id]["ratings"], out[hall_id]["good"] = n, int(good or 0)
    return out


def city_view(session: so.Session, halls: Iterable[HallRef], now: dt.datetime) -> dict[str, Any]:
    """Today's figures of ``halls`` (each on its own business day), sorted by level, and the totals."""
    halls = list(halls)
    by_day: dict[dt.date, list[HallRef]] = {}
    for hall in halls:
        by_day.setdefault(calendar.business_day(now, hall.timezone), []).append(hall)
    figures: dict[int, dict[str, Any]] = {}
    for day, group in by_day.items():
        figures.update(_figures(session, [h.id for h in group], day,
                                [w for h in group for w in h.window_ids.values()], now))
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
                "waiting", "longest_wait_s", "open_windows", "issued", "served", "no_show",
                "services", "ratings")},
            "evaluation_rate": _ratio(f["ratings"], f["services"]),
            "good_rate": _ratio(f["good"], f["ratings"]),
        })
    rows.sort(key=lambda r: (LEVELS.index(r["level"]), r["code"]))
    totals = {k: sum(r[k] for r in rows) for k in ("waiting", "open_windows", "windows", "issued",
                                                    "served", "no_show", "services", "ratings")}
    good = sum(figures[h.id]["good"] for h in halls)
    totals["longest_wait_s"] = max((r["longest_wait_s"] for r in rows), default=0)
    totals["evaluation_rate"] = _ratio(totals["ratings"], totals["services"])
    totals["good_rate"] = _ratio(good, totals["ratings"])
    return {"at": now.isoformat(timespec="seconds"), "halls": rows, "totals": totals}
