"""好差评 figures: 主动评价率, 好评率, 差评整改率, 回访率 by day, month, department, window, clerk."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.directory import HallRef
from hall.evaluation import BAD_LEVELS, RATED_OUTCOMES
from hall.models import Rating, Service, Staff
from hall.rectification import CaseState, RectificationCase

GROUPINGS = ("day", "month", "department", "window", "clerk")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _empty(key: Any, name: str | None) -> dict[str, Any]:
    return {"key": key, "name": name, "services": 0, "ratings": 0, "defaulted": 0, "good": 0,
            "bad": 0, "cases_closed": 0, "called_back": 0}


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Rates of a group: active ratings ÷ services; good ÷ ratings; closed and called-back ÷ bad."""
    row["evaluation_rate"] = _ratio(row["ratings"], row["services"])
    row["good_rate"] = _ratio(row["good"], row["ratings"])
    row["rectify_rate"] = _ratio(row["cases_closed"], row["bad"])
    row["callback_rate"] = _ratio(row["called_back"], row["bad"])
    return row


def _keyer(session: so.Session, hall: HallRef, by: str) -> Callable[[Any], tuple[Any, str | None]]:
    if by == "day":
        return lambda r: (r.business_day.isoformat(), None)
    if by == "month":
        return lambda r: (r.business_day.strftime("%Y-%m"), None)
    if by == "department":
        names = {d.code: d.name for d in hall.settings.departments}

        def department(r: Any) -> tuple[Any, str | None]:
            code = hall.queue_settings(r.queue_id).department
            return code, names.get(code, code)
        return department
    if by == "window":
        return lambda r: (hall.window_numbers.get(r.window_id, r.window_id),
                          hall.settings.window(hall.window_numbers[r.window_id]).name
                          if r.window_id in hall.window_numbers else None)
    staff = {s.id: s for s in session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id))}
    return lambda r: ((staff[r.staff_id].login, staff[r.staff_id].name) if r.staff_id in staff
                      else (None, None))


def figures(session: so.Session, hall: HallRef, start: dt.date, end: dt.date,
            by: str = "day") -> dict[str, Any]:
    """The figures of services done from ``start`` to ``end`` (business days), grouped ``by``.

    A rating belongs to the service it rates, so a group's rates use its own services; default
    ratings (``defaulted``) are counted apart and never as active ratings or as good ones.
    """
    if by not in GROUPINGS:
        raise ValueError(by)
    rows = session.execute(
        sa.select(Service.id, Service.business_day, Service.queue_id, Service.window_id,
                  Service.staff_id, Rating.level, Rating.defaulted, RectificationCase.state,
                  RectificationCase.visitor_view)
        .outerjoin(Rating, Rating.service_id == Service.id)
        .outerjoin(RectificationCase, RectificationCase.rating_id == Rating.id)
        .where(Service.hall_id == hall.id, Service.business_day >= start,
               Service.business_day <= end, Service.outcome.in_(RATED_OUTCOMES))).all()
    key_of = _keyer(session, hall, by)
    groups: dict[Any, dict[str, Any]] = {}
    total = _empty(None, None)
    for r in rows:
        key, name = key_of(r)
        group = groups.setdefault(key, _empty(key, name))
        for row in (group, total):
            row["services"] += 1
            if r.level is None:
                continue
            if r.defaulted:
                row["defaulted"] += 1
                continue
            row["ratings"] += 1
            row["good"] += r.level >= 4
            row["bad"] += r.level in BAD_LEVELS
            row["cases_closed"] += r.state is CaseState.CLOSED
            row["called_back"] += r.visitor_view is not None
    ordered = sorted(groups.values(), key=lambda g: (g["key"] is None, str(g["key"])
                                                     if by != "window" else f"{g['key']:>6}"))
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by,
            "total": _finish(total), "groups": [_finish(g) for g in ordered]}


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def window_ranking(session: so.Session, hall: HallRef, month: dt.date) -> dict[str, Any]:
    """The month's windows ranked (窗口月度排名): 好评率, then 主动评价率, fewer bad, more services."""
    start, end = month_bounds(month)
    result = figures(session, hall, start, end, by="window")
    served = [g for g in result["groups"] if g["services"]]

    def order(g: dict[str, Any]) -> tuple[Any, ...]:
        return (-(g["good_rate"] or 0), -(g["evaluation_rate"] or 0), g["bad"], -g["services"],
                str(g["key"]))
    ranked = sorted(served, key=order)
    for position, group in enumerate(ranked, 1):
        group["rank"] = position
    return {"month": start.strftime("%Y-%m"), "windows": ranked}
