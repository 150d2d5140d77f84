"""The manager's live dashboard in one read: queues, windows by state, today's figures, curves, alerts."""
from __future__ import annotations

import bisect
import threading
import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import alerts, calendar
from hall.directory import HallRef
from hall.models import Queue, Service, Staff, Ticket, TicketStatus, Window

BUCKET_MIN = 15
PAST_WEEKS = 4
WINDOW_STATES = ("serving", "idle", "paused", "closed", "offline")


def dashboard_snapshot(session: so.Session, hall: HallRef, now: dt.datetime,
                       devices: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows; ``devices`` are the device views (``device.changed``), if any."""
    zone = ZoneInfo(hall.timezone)
    day = calendar.business_day(now, hall.timezone)
    loads = alerts.queue_loads(session, hall, now)
    infos = alerts.window_infos(session, hall)
    open_by_prefix = dict(session.execute(sa.select(Queue.prefix, Queue.open)
                                          .where(Queue.hall_id == hall.id)).all())
    queues = [{"prefix": q.prefix, "name": q.name, "waiting": q.waiting,
               "longest_wait_s": q.longest_wait_s, "open": open_by_prefix.get(q.prefix, True)}
              for q in loads]
    windows = _windows(session, hall, now, devices or ())
    by_state = {s: 0 for s in WINDOW_STATES}
    for w in windows:
        by_state["offline" if w["device_offline"] else w["state"]] += 1
    return {
        "hall": hall.code,
        "name": hall.settings.name,
        "at": now.astimezone(zone).isoformat(timespec="seconds"),
        "date": day.isoformat(),
        "waiting": sum(q.waiting for q in loads),
        "longest_wait_s": max((q.longest_wait_s for q in loads), default=0),
        "queues": queues,
        "windows": windows,
        "windows_by_state": by_state,
        "today": _today(session, hall, day),
        "curves": curves(session, hall, day, now),
        "alerts": alerts.evaluate(hall.settings.alerts, loads, infos),
        "thresholds": {"max_waiting": hall.settings.alerts.max_waiting,
                       "max_wait_minutes": hall.settings.alerts.max_wait_minutes},
    }


def _windows(session: so.Session, hall: HallRef, now: dt.datetime,
             devices: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    offline: dict[int, list[str]] = {}
    for device in devices:
        if not device.get("ok", True):
            for number in device.get("windows") or ():
                offline.setdefault(number, []).append(device.get("name") or device.get("kind") or "?")
    rows = session.execute(
        sa.select(Window, Staff.name, Ticket.number)
        .outerjoin(Staff, Staff.id == Window.staff_id).outerjoin(Ticket, Ticket.id == Window.ticket_id)
        .where(Window.hall_id == hall.id).options(so.selectinload(Window.serves))
        .order_by(Window.number)).all()
    out = []
    for w, clerk, ticket in rows:
        if w.number not in hall.window_ids:
            continue
        since = w.state_since
        out.append({
            "number": w.number, "name": w.name, "kind": hall.settings.window(w.number).kind,
            "state": w.state.value, "pause_reason": w.pause_reason,
            "since_s": int((now - since).total_seconds()) if since else None,
            "clerk": clerk, "ticket": ticket,
            "queues": [hall.queue_prefixes[s.queue_id] for s in w.serves], "mode": w.mode,
            "weights": {hall.queue_prefixes[s.queue_id]: s.weight for s in w.serves},
            "device_offline": offline.get(w.number, []),
        })
    return out


def _today(session: so.Session, hall: HallRef, day: dt.date) -> dict[str, int]:
    """issued, served (last service ended done, as hall.stats counts it) and no-shows of the day."""
    counts = dict(session.execute(
        sa.select(Ticket.status, sa.func.count()).where(Ticket.hall_id == hall.id,
                                                        Ticket.business_day == day)
        .group_by(Ticket.status)).all())
    last = (sa.select(sa.func.max(Service.id)).where(Service.hall_id == hall.id,
                                                     Service.business_day == day)
            .group_by(Service.ticket_id).scalar_subquery())
    served = session.scalar(
        sa.select(sa.func.count()).select_from(Service).join(Ticket, Ticket.id == Service.ticket_id)
        .where(Service.id.in_(last), Service.outcome == "done",
               Ticket.status == TicketStatus.DONE)) or 0
    return {"issued": sum(counts.values()), "served": served,
            "no_show": counts.get(TicketStatus.NO_SHOW, 0)}


# -- the curves: arrivals and waiting per 15 minutes, today against the same weekday before -------

def _slots(hall: HallRef, day: dt.date) -> tuple[dt.datetime, int]:
    """The day's first bucket (local opening hour, or 08:00) and the number of buckets to closing."""
    zone = ZoneInfo(hall.timezone)
    hours = hall.settings.hours
    spans: list[tuple[dt.time, dt.time]] = []
    for name in ("weekdays", "saturday", "sunday"):
        for session_ in getattr(hours, name, ()) or ():
            spans.append((session_.start, session_.end))
    start = min((a for a, _ in spans), default=dt.time(8, 0))
    end = max((b for _, b in spans), default=dt.time(18, 0))
    first = dt.datetime.combine(day, dt.time(start.hour), zone)
    last = dt.datetime.combine(day, end, zone)
    n = max(1, -(-int((last - first).total_seconds()) // (BUCKET_MIN * 60)))
    return first, n


def _epoch(session: so.Session, column: Any) -> Any:
    """Seconds since the epoch as a plain number, computed by the database: reading thousands of
    instants as datetimes (the UTC type's conversion) would take most of the dashboard's time."""
    if session.get_bind().dialect.name == "sqlite":  # stored as UTC text
        return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)
    return sa.extract("epoch", column)


def _day_intervals(session: so.Session, hall: HallRef, days: list[dt.date]
                   ) -> dict[dt.date, tuple[list[float], list[tuple[float, float]]]]:
    """Per day: issue times, and every waiting interval (a step from its start to its call, or to
    its cancellation when never called; +inf as the end while it still waits), in epoch seconds."""
    out: dict[dt.date, tuple[list, list]] = {d: ([], []) for d in days}
    inf = float("inf")
    # Core rows of plain values (day and status as text): no ORM row or type processing.
    conn = session.connection()
    text = {d.isoformat(): d for d in days}
    for day, issued, status, since, called, closed in conn.execute(
            sa.select(sa.type_coerce(Ticket.business_day, sa.String), _epoch(session, Ticket.issued_at),
                      sa.type_coerce(Ticket.status, sa.String),
                      _epoch(session, Ticket.waiting_since), _epoch(session, Ticket.called_at),
                      _epoch(session, Ticket.closed_at))
            .where(Ticket.hall_id == hall.id, Ticket.business_day.in_(days))):
        day = text.get(day, day)
        out[day][0].append(issued)
        if status == TicketStatus.WAITING.value:
            out[day][1].append((since, inf))
        elif status == TicketStatus.CANCELLED.value and closed and (called is None or called < since):
            out[day][1].append((since, closed))
    for day, since, called in conn.execute(
            sa.select(sa.type_coerce(Service.business_day, sa.String), _epoch(session, Service.waiting_since),
                      _epoch(session, Service.called_at))
            .where(Service.hall_id == hall.id, Service.business_day.in_(days))):
        out[text.get(day, day)][1].append((since, called))
    return out


def _curve(first: dt.datetime, n: int, issued: list[float], waits: list[tuple[float, float]],
           until: dt.datetime | None) -> tuple[list[int | None], list[int | None]]:
    """Arrivals in each bucket, and people waiting at each bucket's end (or ``until``, the present)."""
    step = BUCKET_MIN * 60
    base = first.timestamp()
    arrivals = [0] * n
    for t in issued:
        i = int((t - base) // step)
        arrivals[min(max(i, 0), n - 1)] += 1
    # waiting(t) = starts ≤ t − ends ≤ t: count both with a binary search over sorted marks.
    marks = [base + step * (i + 1) for i in range(n)]
    if until is not None:
        cut = until.timestamp()
        marks = [min(m, cut) for m in marks]
    starts = sorted(a for a, _ in waits)
    ends = sorted(b for _, b in waits)
    waiting = [bisect.bisect_right(starts, m) - bisect.bisect_right(ends, m) for m in marks]
    if until is not None:
        past = max(0, min(n, int((until.timestamp() - base) // step) + 1))
        arrivals = [a if i < past else None for i, a in enumerate(arrivals)]
        waiting = [w if i < past else None for i, w in enumerate(waiting)]
    return arrivals, waiting


# The curves of past days (a week or more ago) are final: computed once per process and kept,
# bounded. Without this, every snapshot read all the tickets of four past days again.
_PAST_CURVES: dict[tuple[Any, ...], tuple[list, list] | None] = {}
_PAST_LOCK = threading.Lock()
_PAST_MAX = 512


def curves(session: so.Session, hall: HallRef, day: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Today's arrivals and waiting per 15 minutes, and the mean of the same weekday of the
    previous four weeks (days without any ticket, e.g. holidays, left out of the mean)."""
    first, n = _slots(hall, day)
    past_days = [day - dt.timedelta(weeks=k) for k in range(1, PAST_WEEKS + 1)]
    engine = str(session.get_bind().url)
    keys = {past: (engine, hall.id, past, first.timetz(), n) for past in past_days}
    with _PAST_LOCK:
        known = {past: _PAST_CURVES[key] for past, key in keys.items() if key in _PAST_CURVES}
    data = _day_intervals(session, hall, [day, *[p for p in past_days if p not in known]])
    arrivals, waiting = _curve(first, n, *data[day], until=now)
    sums_a, sums_w, used = [0.0] * n, [0.0] * n, []
    for past in past_days:
        if past in known:
            curve = known[past]
        else:
            issued, waits = data[past]
            shift = dt.datetime.combine(past, first.timetz().replace(tzinfo=None), first.tzinfo)
            curve = _curve(shift, n, issued, waits, None) if issued else None
            with _PAST_LOCK:  # a week or more ago: those days no longer change
                if len(_PAST_CURVES) >= _PAST_MAX:
                    _PAST_CURVES.pop(next(iter(_PAST_CURVES)))
                _PAST_CURVES[keys[past]] = curve
        if curve is None:
            continue
        a, w = curve
        sums_a = [s + x for s, x in zip(sums_a, a)]
        sums_w = [s + x for s, x in zip(sums_w, w)]
        used.append(past.isoformat())
    labels = [(first + dt.timedelta(minutes=BUCKET_MIN * i)).strftime("%H:%M") for i in range(n)]
    mean = (lambda xs: [round(x / len(used), 1) for x in xs]) if used else (lambda xs: [None] * n)
    return {"bucket_min": BUCKET_MIN, "labels": labels,
            "arrivals": arrivals, "waiting": waiting,
            "arrivals_before": mean(sums_a), "waiting_before": mean(sums_w), "before_days": used}
