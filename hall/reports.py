"""Period reports of a hall (统计报表) by day, month, hour, queue, department, window or clerk,
and of several halls together; clerk attendance (考勤) is in hall.attendance."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.attendance import INF, epoch_seconds, span, window_segments
from hall.directory import HallRef
from hall.evaluation import RATED_OUTCOMES
from hall.models import Service, Staff, Ticket, TicketStatus

GROUPINGS = ("day", "month", "hour", "queue", "department", "window", "clerk")
TICKET_GROUPINGS = ("day", "month", "hour", "queue", "department")  # issued/no_show per ticket
MAX_DAYS = 366


def _ratio(part: float, whole: float | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# The additive sums behind one row of a report, as whole numbers (times in milliseconds): the sums
# of the days kept by the end-of-day job (hall.rollups.DayRollupPart) add up to exactly what one
# pass over the period's tickets gives. ``no_show`` counts tickets for the ticket groupings and
# last services for window and clerk (docs/kpi.md); ``waits`` are called services.
SUMS = ("issued", "no_show", "served", "services", "extended", "waits", "wait_ms", "max_wait_ms",
        "within", "durations", "duration_ms", "busy_ms", "open_ms")
# What each grouping is made of, per business day: "day" (the day itself, ref 0), "hour" (the local
# hour, 0–23), "queue" (queue id; departments come from it), "window" (window id) and "clerk"
# (staff id, NO_CLERK for a window nobody had signed in at).
PART_DIMS = ("day", "hour", "queue", "window", "clerk")
DIM_OF = {"day": "day", "month": "day", "hour": "hour", "queue": "queue", "department": "queue",
          "window": "window", "clerk": "clerk"}
NO_CLERK = 0
PartKey = tuple[str, str, int]  # (dimension, business day as YYYY-MM-DD, ref)


class Sums:
    """The running sums of one report row, or of one part of a day (SUMS)."""

    __slots__ = SUMS

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        for name, value in zip(SUMS, values if values is not None else (0,) * len(SUMS)):
            setattr(self, name, int(value or 0))

    def add(self, other: Sums) -> None:
        longest = self.max_wait_ms
        if other.waits and (not self.waits or other.max_wait_ms > longest):
            longest = other.max_wait_ms
        for name in SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_wait_ms = longest

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in SUMS)

    def has_content(self) -> bool:
        """Something happened in it: a ticket, a service, a served or no-show visitor."""
        return bool(self.issued or self.waits or self.served or self.no_show)


class _Group:
    """One row of a report: its key, name and sums."""

    def __init__(self, key: Any, name: str | None, tickets: bool) -> None:
        self.key, self.name, self.tickets = key, name, tickets
        self.sums = Sums()

    def row(self, utilisation: bool) -> dict[str, Any]:
        s = self.sums
        issued = s.issued if self.tickets else None
        return {
            "key": self.key, "name": self.name, "issued": issued, "served": s.served,
            "no_show": s.no_show, "no_show_rate": _ratio(s.no_show, issued),
            "services": s.services,
            "avg_wait_s": round(s.wait_ms / s.waits / 1000, 1) if s.waits else None,
            "max_wait_s": round(s.max_wait_ms / 1000, 1) if s.waits else None,
            "avg_service_s": round(s.duration_ms / s.durations / 1000, 1) if s.durations else None,
            "service_level": _ratio(s.within, s.waits),
            "utilisation": _ratio(s.busy_ms, s.open_ms) if utilisation else None,
            "extended_services": s.extended,
        }


def _namer(session: so.Session, hall: HallRef, by: str) -> Callable[[Any], str | None]:
    if by == "queue":
        names = {q.prefix: q.name for q in hall.settings.queues}
        return names.get
    if by == "department":
        names = {d.code: d.name for d in hall.settings.departments}
        return names.get
    if by == "window":
        return lambda n: hall.settings.window(n).name if n in hall.window_ids else None
    if by == "clerk":
        names = dict(session.execute(sa.select(Staff.login, Staff.name)
                                     .where(Staff.hall_id == hall.id)).all())
        return names.get
    return lambda key: None


def _key_of(session: so.Session, hall: HallRef, by: str) -> Callable[[str, int], Any]:
    """The key of a report row from a part's (day, ref)."""
    if by == "day":
        return lambda day, ref: day
    if by == "month":
        return lambda day, ref: day[:7]
    if by == "hour":
        return lambda day, ref: f"{ref:02d}:00"
    if by == "queue":
        return lambda day, ref: hall.queue_prefixes.get(ref)
    if by == "department":
        return lambda day, ref: (hall.queue_settings(ref).department
                                 if ref in hall.queue_prefixes else None)
    if by == "window":
        return lambda day, ref: hall.window_numbers.get(ref)
    logins = {sid: login for login, sid in hall.staff_ids.items()}
    logins.update(session.execute(sa.select(Staff.id, Staff.login).where(Staff.hall_id == hall.id)).all())
    return lambda day, ref: logins.get(ref)


def day_parts(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
              dims: Iterable[str] = PART_DIMS, cap: float = INF,
              days: list[dt.date] | None = None) -> dict[PartKey, Sums]:
    """The sums of business days ``date_from``..``date_to`` (only ``days`` of them when given) per
    (dimension, day, ref) for ``dims`` ("day" always), in one pass over their tickets and services
    and, for "window", the window log; ``cap`` (now) ends the open time of windows still open."""
    zone = ZoneInfo(hall.timezone)
    want_hour, want_queue, want_window, want_clerk = (d in dims for d in PART_DIMS[1:])
    parts: dict[PartKey, Sums] = {}

    def part(dim: str, day: str, ref: int) -> Sums:
        found = parts.get((dim, day, ref))
        if found is None:
            found = parts[(dim, day, ref)] = Sums()
        return found

    def hour(epoch: float) -> int:
        return dt.datetime.fromtimestamp(epoch, zone).hour

    if days is None:
        ticket_days = sa.and_(Ticket.business_day >= date_from, Ticket.business_day <= date_to)
        service_days = sa.and_(Service.business_day >= date_from, Service.business_day <= date_to)
    else:
        ticket_days, service_days = Ticket.business_day.in_(days), Service.business_day.in_(days)
    in_period = sa.and_(Ticket.hall_id == hall.id, ticket_days)
    day_text = sa.type_coerce(Ticket.business_day, sa.String)
    status_text = sa.type_coerce(Ticket.status, sa.String)
    conn = session.connection()
    if want_hour:  # the local hour of issue: one row per ticket
        ticket_rows: Iterable[Any] = ((d, t, q, s, 1) for d, t, q, s in conn.execute(
            sa.select(day_text, epoch_seconds(session, Ticket.issued_at), Ticket.origin_queue_id, status_text)
            .where(in_period)))
    else:
        ticket_rows = conn.execute(
            sa.select(day_text, sa.null(), Ticket.origin_queue_id, status_text, sa.func.count())
            .where(in_period).group_by(day_text, Ticket.origin_queue_id, status_text))
    no_show_value, done_value = TicketStatus.NO_SHOW.value, TicketStatus.DONE.value
    for day, issued_at, queue_id, status, count in ticket_rows:
        day = str(day)[:10]
        no_show = count if status == no_show_value else 0
        p = part("day", day, 0)
        p.issued += count
        p.no_show += no_show
        if want_hour:
            p = part("hour", day, hour(issued_at))
            p.issued += count
            p.no_show += no_show
        if want_queue:
            p = part("queue", day, queue_id)
            p.issued += count
            p.no_show += no_show

    target = hall.settings.policy.target_wait_s
    closing: dict[str, float] = {}
    last: dict[int, tuple[Any, ...]] = {}  # ticket → its day, issue, first queue, last service's …
    rows = conn.execute(
        sa.select(Service.ticket_id, sa.type_coerce(Service.business_day, sa.String),
                  Service.queue_id, Service.window_id, Service.staff_id,
                  epoch_seconds(session, Service.waiting_since), epoch_seconds(session, Service.called_at),
                  epoch_seconds(session, Service.last_called_at), epoch_seconds(session, Service.ended_at),
                  Service.outcome, status_text, Ticket.origin_queue_id,
                  epoch_seconds(session, Ticket.issued_at))
        .join(Ticket, Ticket.id == Service.ticket_id)
        .where(Service.hall_id == hall.id, service_days)
        .order_by(Service.ticket_id, Service.id))
    for (ticket_id, day, queue_id, window_id, staff_id, since, called, last_called, ended,
         outcome, status, origin, issued_at) in rows:
        day = str(day)[:10]
        if day not in closing:
            end = calendar.last_closing(hall.settings, _day(day))
            closing[day] = end.timestamp() if end else INF
        wait = called - since
        wait_ms = round(wait * 1000)
        within = wait <= target
        busy = round((ended - called) * 1000) if ended is not None else 0
        rated = outcome in RATED_OUTCOMES
        duration = round((ended - last_called) * 1000) if rated else 0
        extended = rated and called > closing[day]
        targets = [part("day", day, 0)]
        if want_hour:
            targets.append(part("hour", day, hour(called)))
        if want_queue:
            targets.append(part("queue", day, queue_id))
        if want_window:
            targets.append(part("window", day, window_id))
        if want_clerk:
            targets.append(part("clerk", day, staff_id if staff_id is not None else NO_CLERK))
        for p in targets:
            if not p.waits or wait_ms > p.max_wait_ms:
                p.max_wait_ms = wait_ms
            p.waits += 1
            p.wait_ms += wait_ms
            p.within += within
            p.busy_ms += busy
            if rated:
                p.services += 1
                p.durations += 1
                p.duration_ms += duration
                p.extended += extended
        last[ticket_id] = (day, issued_at, origin, window_id, staff_id, outcome, status)
    for day, issued_at, origin, window_id, staff_id, outcome, status in last.values():
        clerk = staff_id if staff_id is not None else NO_CLERK
        if outcome == "done" and status == done_value:
            part("day", day, 0).served += 1
            if want_hour:
                part("hour", day, hour(issued_at)).served += 1
            if want_queue:
                part("queue", day, origin).served += 1
            if want_window:
                part("window", day, window_id).served += 1
            if want_clerk:
                part("clerk", day, clerk).served += 1
        elif status == no_show_value and outcome == "no_show":
            if want_window:
                part("window", day, window_id).no_show += 1
            if want_clerk:
                part("clerk", day, clerk).no_show += 1

    if want_window:
        for start, end in _ranges(days) if days is not None else [(date_from, date_to)]:
            for segment in window_segments(session, hall, start, end, cap):
                if segment["kind"] == "open":
                    day = dt.datetime.fromtimestamp(segment["start"], zone).date().isoformat()
                    part("window", day, segment["window_id"]).open_ms += \
                        round((segment["end"] - segment["start"]) * 1000)
    return parts


def _ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive runs of ``days`` as (first, last)."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if out and day == out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def period_parts(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
                 dims: tuple[str, ...], now: dt.datetime | None = None, use_rollups: bool = True,
                 kept: dict[PartKey, Sums] | None = None) -> dict[PartKey, Sums]:
    """The sums of ``hall``'s business days ``date_from``..``date_to`` for ``dims`` ("day" first).

    Days closed by the end-of-day job are added up from their kept sums (hall.rollups, unless
    ``use_rollups`` is false, or the service-level target changed since; ``kept`` when the caller
    read them already, for many halls at once); the other days up to today (today, days not closed
    yet) are read from their tickets, in one pass. Both give the same figures."""
    cap = now.timestamp() if now else INF
    if not use_rollups:
        return day_parts(session, hall, date_from, date_to, dims, cap)
    from hall import rollups
    target = hall.settings.policy.target_wait_s
    today = calendar.business_day(now, hall.timezone) if now is not None else None
    last = min(date_to, today) if today else date_to  # no later day has tickets yet
    kept_until = min(last, today - dt.timedelta(days=1)) if today else last  # today is open
    parts: dict[PartKey, Sums] = {}
    if kept_until >= date_from:
        if kept is None:
            parts = rollups.read_parts(session, hall, date_from, kept_until, dims, target)
        else:
            until = kept_until.isoformat()
            parts = {key: sums for key, sums in kept.items() if key[1] <= until}
    kept_days = {_day(day) for d, day, _ in parts if d == "day"}
    span = [date_from + dt.timedelta(days=i) for i in range((last - date_from).days + 1)]
    missing = [d for d in span if d not in kept_days]
    if missing and len(missing) == len(span):
        parts.update(day_parts(session, hall, date_from, last, dims, cap))
    elif missing:
        parts.update(day_parts(session, hall, missing[0], missing[-1], dims, cap, days=missing))
    return parts


def _totals(total: _Group, days_with_tickets: int, utilisation: bool) -> dict[str, Any]:
    totals = total.row(utilisation=utilisation)
    totals["key"], totals["name"] = "total", "合计"
    totals["days_with_tickets"] = days_with_tickets
    totals["daily_avg_issued"] = (round(total.sums.issued / days_with_tickets, 1)
                                  if days_with_tickets else None)
    return totals


def report(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
           by: str = "day", now: dt.datetime | None = None, use_rollups: bool = True) -> dict[str, Any]:
    """The figures of business days ``date_from``..``date_to`` grouped ``by`` (docs/kpi.md), with a
    totals row; ``now`` ends the open time of windows still open (else each day's end). Closed days
    come from their kept sums, the others from their tickets (``period_parts``)."""
    if by not in GROUPINGS:
        raise ValueError(by)
    dim = DIM_OF[by]
    dims = ("day",) if dim == "day" else ("day", dim)
    target = hall.settings.policy.target_wait_s
    parts = period_parts(session, hall, date_from, date_to, dims, now, use_rollups)

    key_of = _key_of(session, hall, by)
    name_of = _namer(session, hall, by)
    per_ticket = by in TICKET_GROUPINGS
    groups: dict[Any, _Group] = {}
    total = _Group(None, None, tickets=True)
    days_with_tickets = 0
    for (d, day, ref), sums in parts.items():
        if d == "day":
            total.sums.add(sums)
            days_with_tickets += sums.issued > 0
        if d != dim:
            continue
        key = key_of(day, ref)
        if by == "window":
            if key is None:  # a window no longer configured: its services count, not its open time
                sums.open_ms = 0
            else:
                total.sums.open_ms += sums.open_ms
            if key is None and not sums.has_content():
                continue
        elif not sums.has_content():
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key, name_of(key), per_ticket)
        group.sums.add(sums)
    ordered = sorted(groups.values(), key=lambda g: (g.key is None, f"{g.key:>6}"
                                                     if by == "window" else str(g.key)))
    return {"hall": hall.code, "from": date_from.isoformat(), "to": date_to.isoformat(), "by": by,
            "target_wait_s": target,
            "rows": [g.row(utilisation=by == "window") for g in ordered],
            "total": _totals(total, days_with_tickets, by == "window")}


CITY_GROUPINGS = ("hall", "day", "month")


def city_report(session: so.Session, halls: Iterable[HallRef], date_from: dt.date, date_to: dt.date,
                by: str = "hall", now: dt.datetime | None = None, use_rollups: bool = True,
                scope: str = "city") -> dict[str, Any]:
    """The figures of many halls' business days ``date_from``..``date_to`` together, a row per hall
    (``by`` "hall") or per day or month of all of them, with a totals row; the same sums as each
    hall's own report (``report``), the kept ones of every hall read in one statement.

    Each hall counts the service level with its own target wait; 日均接待 divides by the days on
    which any of the halls issued a ticket. Halls without a ticket in the period still have a row
    when ``by`` is "hall" (a hall that did nothing is news to a director)."""
    if by not in CITY_GROUPINGS:
        raise ValueError(by)
    halls = sorted(halls, key=lambda h: h.code)
    kept: dict[int, dict[PartKey, Sums]] = {}
    if use_rollups and halls:
        from hall import rollups
        kept = rollups.read_parts_of_halls(session, halls, date_from, date_to, ("day",))
    groups: dict[Any, _Group] = {}
    total = _Group(None, None, tickets=True)
    days_with_tickets: set[str] = set()
    for hall in halls:
        parts = period_parts(session, hall, date_from, date_to, ("day",), now, use_rollups,
                             kept.get(hall.id) if use_rollups else None)
        if by == "hall":
            group = groups[hall.code] = _Group(hall.code, hall.settings.name, True)
        for (_, day, _), sums in parts.items():
            total.sums.add(sums)
            if sums.issued:
                days_with_tickets.add(day)
            if by != "hall":
                if not sums.has_content():
                    continue
                key = day if by == "day" else day[:7]
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group(key, None, True)
            group.sums.add(sums)
    by_code = {h.code: h for h in halls}
    rows = []
    for group in sorted(groups.values(), key=lambda g: g.key):
        row = group.row(utilisation=False)
        if by == "hall":
            settings = by_code[group.key].settings
            row["level"], row["parent"] = settings.level, settings.parent
        rows.append(row)
    return {"hall": scope, "halls": [h.code for h in halls], "from": date_from.isoformat(),
            "to": date_to.isoformat(), "by": by, "rows": rows,
            "total": _totals(total, len(days_with_tickets), False)}
