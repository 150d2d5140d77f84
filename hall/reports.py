"""Period reports of a hall (统计报表) by day, month, hour, queue, department, window or clerk, and clerk attendance (考勤)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.directory import HallRef
from hall.evaluation import RATED_OUTCOMES
from hall.models import Service, Staff, Ticket, TicketStatus, WindowEvent

GROUPINGS = ("day", "month", "hour", "queue", "department", "window", "clerk")
TICKET_GROUPINGS = ("day", "month", "hour", "queue", "department")  # issued/no_show per ticket
MAX_DAYS = 366
INF = float("inf")


def _ratio(part: float, whole: float | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _epoch(session: so.Session, column: Any) -> Any:
    """Seconds since the epoch computed by the database: no datetime conversion per row."""
    if session.get_bind().dialect.name == "sqlite":  # stored as UTC text
        return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)
    return sa.cast(sa.extract("epoch", column), sa.Float)


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _span(hall: HallRef, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(hall.timezone)
    return (dt.datetime.combine(date_from, dt.time(), zone),
            dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone))


class _Group:
    """The running sums of one row of a report."""

    def __init__(self, key: Any, name: str | None, tickets: bool) -> None:
        self.key, self.name = key, name
        self.issued: int | None = 0 if tickets else None
        self.served = self.no_show = self.services = self.extended = self.within = 0
        self.waits: list[float] = []
        self.durations: list[float] = []
        self.busy = self.open = 0.0

    def row(self, utilisation: bool) -> dict[str, Any]:
        waits, durations = self.waits, self.durations
        return {
            "key": self.key, "name": self.name, "issued": self.issued, "served": self.served,
            "no_show": self.no_show, "no_show_rate": _ratio(self.no_show, self.issued),
            "services": self.services,
            "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
            "max_wait_s": round(max(waits), 1) if waits else None,
            "avg_service_s": round(sum(durations) / len(durations), 1) if durations else None,
            "service_level": _ratio(self.within, len(waits)),
            "utilisation": _ratio(self.busy, self.open) if utilisation else None,
            "extended_services": self.extended,
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


def _keyers(session: so.Session, hall: HallRef, by: str):
    """(key of a ticket: day, issue epoch, origin queue; key of a service: day, call epoch, queue,
    window, staff)."""
    zone = ZoneInfo(hall.timezone)
    logins = {sid: login for login, sid in hall.staff_ids.items()}
    if by == "clerk":
        logins.update(session.execute(sa.select(Staff.id, Staff.login)
                                      .where(Staff.hall_id == hall.id)).all())

    def hour(epoch: float) -> str:
        return f"{dt.datetime.fromtimestamp(epoch, zone).hour:02d}:00"

    def department(queue_id: int) -> str | None:
        return hall.queue_settings(queue_id).department if queue_id in hall.queue_prefixes else None

    ticket = {
        "day": lambda d, t, q: str(d)[:10], "month": lambda d, t, q: str(d)[:7],
        "hour": lambda d, t, q: hour(t), "queue": lambda d, t, q: hall.queue_prefixes.get(q),
        "department": lambda d, t, q: department(q),
    }.get(by)
    service = {
        "day": lambda d, t, q, w, s: str(d)[:10], "month": lambda d, t, q, w, s: str(d)[:7],
        "hour": lambda d, t, q, w, s: hour(t),
        "queue": lambda d, t, q, w, s: hall.queue_prefixes.get(q),
        "department": lambda d, t, q, w, s: department(q),
        "window": lambda d, t, q, w, s: hall.window_numbers.get(w),
        "clerk": lambda d, t, q, w, s: logins.get(s),
    }[by]
    return ticket, service


def report(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
           by: str = "day", now: dt.datetime | None = None) -> dict[str, Any]:
    """The figures of business days ``date_from``..``date_to`` grouped ``by`` (docs/kpi.md), with a
    totals row; ``now`` ends the open time of windows still open (else each day's end)."""
    if by not in GROUPINGS:
        raise ValueError(by)
    ticket_key, service_key = _keyers(session, hall, by)
    name_of = _namer(session, hall, by)
    per_ticket = by in TICKET_GROUPINGS
    groups: dict[Any, _Group] = {}
    total = _Group(None, None, tickets=True)

    def group(key: Any) -> _Group:
        if key not in groups:
            groups[key] = _Group(key, name_of(key), per_ticket)
        return groups[key]

    days_with_tickets: set[str] = set()
    in_period = sa.and_(Ticket.hall_id == hall.id, Ticket.business_day >= date_from,
                        Ticket.business_day <= date_to)
    day_text = sa.type_coerce(Ticket.business_day, sa.String)
    status_text = sa.type_coerce(Ticket.status, sa.String)
    conn = session.connection()
    if by == "hour":  # the local hour of issue: one pass over the period's tickets
        ticket_rows: Iterable[Any] = ((d, t, None, s, 1) for d, t, s in conn.execute(
            sa.select(day_text, _epoch(session, Ticket.issued_at), status_text).where(in_period)))
    else:
        ticket_rows = conn.execute(
            sa.select(day_text, sa.null(), Ticket.origin_queue_id, status_text, sa.func.count())
            .where(in_period).group_by(day_text, Ticket.origin_queue_id, status_text))
    no_show_value = TicketStatus.NO_SHOW.value
    for day, issued_at, queue_id, status, count in ticket_rows:
        days_with_tickets.add(str(day)[:10])
        total.issued += count
        total.no_show += count if status == no_show_value else 0
        if per_ticket:
            g = group(ticket_key(day, issued_at, queue_id))
            g.issued += count
            g.no_show += count if status == no_show_value else 0

    target = hall.settings.policy.target_wait_s
    closing: dict[str, float] = {}
    last: dict[int, tuple[Any, str | None, str]] = {}  # ticket → (its key, last outcome, status)
    rows = conn.execute(
        sa.select(Service.ticket_id, sa.type_coerce(Service.business_day, sa.String),
                  Service.queue_id, Service.window_id, Service.staff_id,
                  _epoch(session, Service.waiting_since), _epoch(session, Service.called_at),
                  _epoch(session, Service.last_called_at), _epoch(session, Service.ended_at),
                  Service.outcome, status_text, Ticket.origin_queue_id,
                  _epoch(session, Ticket.issued_at))
        .join(Ticket, Ticket.id == Service.ticket_id)
        .where(Service.hall_id == hall.id, Service.business_day >= date_from,
               Service.business_day <= date_to)
        .order_by(Service.ticket_id, Service.id))
    for (ticket_id, day, queue_id, window_id, staff_id, since, called, last_called, ended,
         outcome, status, origin, issued_at) in rows:
        key = service_key(day, called, queue_id, window_id, staff_id)
        g = group(key)
        wait = called - since
        if day not in closing:
            end = calendar.last_closing(hall.settings, _day(day))
            closing[day] = end.timestamp() if end else INF
        for target_group in (g, total):
            target_group.waits.append(wait)
            target_group.within += wait <= target
            if ended is not None:
                target_group.busy += ended - called
            if outcome in RATED_OUTCOMES:
                target_group.services += 1
                target_group.durations.append(ended - last_called)
                target_group.extended += called > closing[day]
        ticket_group = ticket_key(day, issued_at, origin) if per_ticket else key
        last[ticket_id] = (ticket_group, outcome, status)
    for key, outcome, status in last.values():
        if outcome == "done" and status == TicketStatus.DONE.value:
            group(key).served += 1
            total.served += 1
        elif not per_ticket and status == no_show_value and outcome == "no_show":
            group(key).no_show += 1

    if by == "window":
        cap = now.timestamp() if now else INF
        for segment in window_segments(session, hall, date_from, date_to, cap):
            if segment["kind"] == "open" and segment["window"] is not None:
                g = group(segment["window"])
                g.open += segment["end"] - segment["start"]
                total.open += segment["end"] - segment["start"]
    ordered = sorted(groups.values(), key=lambda g: (g.key is None, f"{g.key:>6}"
                                                     if by == "window" else str(g.key)))
    totals = total.row(utilisation=by == "window")
    totals["key"], totals["name"] = "total", "合计"
    totals["days_with_tickets"] = len(days_with_tickets)
    totals["daily_avg_issued"] = (round(total.issued / len(days_with_tickets), 1)
                                  if days_with_tickets else None)
    return {"hall": hall.code, "from": date_from.isoformat(), "to": date_to.isoformat(), "by": by,
            "target_wait_s": target,
            "rows": [g.row(utilisation=by == "window") for g in ordered], "total": totals}


def window_segments(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
                    cap: float = INF) -> list[dict[str, Any]]:
    """The open and paused stretches of every window from its sign-in/sign-out/pause/resume log,
    in epoch seconds; one left open ends at ``cap`` (now) or at the end of its local day."""
    start, end = _span(hall, date_from, date_to)
    zone = ZoneInfo(hall.timezone)
    rows = session.connection().execute(
        sa.select(WindowEvent.window_id, WindowEvent.staff_id, WindowEvent.kind,
                  WindowEvent.reason, _epoch(session, WindowEvent.at))
        .where(WindowEvent.hall_id == hall.id, WindowEvent.at >= start, WindowEvent.at < end)
        .order_by(WindowEvent.window_id, WindowEvent.at, WindowEvent.id)).all()
    out: list[dict[str, Any]] = []

    def day_end(t: float) -> float:
        local = dt.datetime.fromtimestamp(t, zone).date() + dt.timedelta(days=1)
        return dt.datetime.combine(local, dt.time(), zone).timestamp()

    def close(state: dict[str, Any] | None, at: float) -> None:
        if state is not None:
            stop = min(at, day_end(state["start"]), cap)
            if stop > state["start"]:
                out.append({**state, "end": stop})

    current: dict[str, Any] | None = None
    previous_window = None
    for window_id, staff_id, kind, reason, at in rows:
        if window_id != previous_window:
            close(current, INF)
            current, previous_window = None, window_id
        close(current, at)
        number = hall.window_numbers.get(window_id)
        base = {"window": number, "staff_id": staff_id, "start": at, "reason": None}
        if kind in ("sign_in", "resume"):
            current = {**base, "kind": "open"}
        elif kind == "pause":
            current = {**base, "kind": "pause", "reason": reason}
        else:  # sign_out
            current = None
    close(current, INF)
    return out


def attendance(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """Per clerk and day (考勤): first sign-in, last sign-out, open time, pause time by reason."""
    start, end = _span(hall, date_from, date_to)
    zone = ZoneInfo(hall.timezone)
    staff = {s.id: s for s in session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id))}
    days: dict[tuple[int, dt.date], dict[str, Any]] = {}

    def entry(staff_id: int, at: dt.datetime) -> dict[str, Any]:
        local = at.astimezone(zone)
        return days.setdefault((staff_id, local.date()), {
            "date": local.date().isoformat(), "sign_in": None, "sign_out": None, "windows": set(),
            "open_s": 0.0, "pause_s": {}})

    for staff_id, window_id, kind, at in session.execute(
            sa.select(WindowEvent.staff_id, WindowEvent.window_id, WindowEvent.kind, WindowEvent.at)
            .where(WindowEvent.hall_id == hall.id, WindowEvent.at >= start, WindowEvent.at < end,
                   WindowEvent.staff_id.is_not(None), WindowEvent.kind.in_(("sign_in", "sign_out")))
            .order_by(WindowEvent.at, WindowEvent.id)):
        e = entry(staff_id, at)
        e["windows"].add(hall.window_numbers.get(window_id))
        stamp = at.astimezone(zone).isoformat(timespec="seconds")
        if kind == "sign_in" and e["sign_in"] is None:
            e["sign_in"] = stamp
        elif kind == "sign_out":
            e["sign_out"] = stamp
    cap = now.timestamp() if now else INF
    for seg in window_segments(session, hall, date_from, date_to, cap):
        if seg["staff_id"] is None:
            continue
        e = entry(seg["staff_id"], dt.datetime.fromtimestamp(seg["start"], dt.timezone.utc))
        e["windows"].add(seg["window"])
        length = seg["end"] - seg["start"]
        if seg["kind"] == "open":
            e["open_s"] += length
        else:
            e["pause_s"][seg["reason"]] = e["pause_s"].get(seg["reason"], 0.0) + length
    clerks: dict[int, dict[str, Any]] = {}
    for (staff_id, _), e in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        person = staff.get(staff_id)
        clerk = clerks.setdefault(staff_id, {
            "login": person.login if person else None, "name": person.name if person else None,
            "days": [], "open_s": 0.0, "pause_s": {}})
        e["windows"] = sorted(w for w in e["windows"] if w is not None)
        e["open_s"] = round(e["open_s"], 1)
        e["pause_s"] = {r: round(s, 1) for r, s in sorted(e["pause_s"].items())}
        e["pause_total_s"] = round(sum(e["pause_s"].values()), 1)
        clerk["days"].append(e)
        clerk["open_s"] = round(clerk["open_s"] + e["open_s"], 1)
        for reason, seconds in e["pause_s"].items():
            clerk["pause_s"][reason] = round(clerk["pause_s"].get(reason, 0.0) + seconds, 1)
    ordered = sorted(clerks.values(), key=lambda c: str(c["login"]))
    return {"hall": hall.code, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "clerks": ordered}
