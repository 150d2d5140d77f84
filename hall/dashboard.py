"""The manager's live dashboard in one read: queues, windows by state, today's figures, curves, alerts.

The database does the counting: today's curves and counts come from two GROUP BY queries, one
over the day's tickets and one over its services, which return a few hundred rows whatever the
number of tickets; the past weeks' curves are counted the same way once and kept; the waiting
per queue is read through the waiting-ticket index; the windows are read once for the list and
the alerts. Figures and the reasoning: docs/benchmarks-dashboard.md.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import alerts, calendar
from hall.directory import HallRef
from hall.models import Queue, Service, Staff, Ticket, TicketStatus, UTCDateTime, Window, WindowQueue

BUCKET_MIN = 15
PAST_WEEKS = 4
WINDOW_STATES = ("serving", "idle", "paused", "closed", "offline")


def dashboard_snapshot(session: so.Session, hall: HallRef, now: dt.datetime,
                       devices: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows; ``devices`` are the device views (``device.changed``), if any."""
    zone = ZoneInfo(hall.timezone)
    day = calendar.business_day(now, hall.timezone)
    loads, open_by_prefix = _queue_loads(session, hall, now)
    queues = [{"prefix": q.prefix, "name": q.name, "waiting": q.waiting,
               "longest_wait_s": q.longest_wait_s, "open": open_by_prefix.get(q.prefix, True)}
              for q in loads]
    windows = _windows(session, hall, now, devices or ())
    infos = [alerts.WindowInfo(w["number"], w["state"], w["kind"], tuple(w["queues"])) for w in windows]
    by_state = {s: 0 for s in WINDOW_STATES}
    for w in windows:
        by_state["offline" if w["device_offline"] else w["state"]] += 1
    first, _ = _slots(hall, day)
    counts = _day_counts(session, hall, day, first, now)
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
        "today": _today(session, hall, day, counts),
        "curves": curves(session, hall, day, now, counts),
        "alerts": alerts.evaluate(hall.settings.alerts, loads, infos),
        "thresholds": {"max_waiting": hall.settings.alerts.max_waiting,
                       "max_wait_minutes": hall.settings.alerts.max_wait_minutes},
    }


def _queue_loads(session: so.Session, hall: HallRef, now: dt.datetime
                 ) -> tuple[list[alerts.QueueLoad], dict[str, bool]]:
    """alerts.queue_loads (waiting and longest current wait per queue) read through
    ix_tickets_waiting (queue, status): the waiting tickets only, whatever the history (a filter
    on the hall reads every ticket the hall ever had unless an index leads with hall and status);
    and whether each queue is open."""
    rows = {qid: (n, oldest) for qid, n, oldest in session.execute(
        sa.select(Ticket.queue_id, sa.func.count(), sa.func.min(Ticket.waiting_since))
        .where(Ticket.queue_id.in_(list(hall.queue_ids.values())), Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id))}
    queues = {qid: (name, is_open) for qid, name, is_open in session.execute(
        sa.select(Queue.id, Queue.name, Queue.open).where(Queue.hall_id == hall.id))}
    loads, open_by_prefix = [], {}
    for prefix, qid in sorted(hall.queue_ids.items()):
        n, oldest = rows.get(qid, (0, None))
        if isinstance(oldest, str):  # SQLite's MIN() returns the stored text, not the column type
            oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.timezone.utc)
        wait = max(0, int((now - oldest).total_seconds())) if oldest is not None else 0
        name, is_open = queues.get(qid, (prefix, True))
        loads.append(alerts.QueueLoad(prefix, name, n, wait))
        open_by_prefix[prefix] = is_open
    return loads, open_by_prefix


def _windows(session: so.Session, hall: HallRef, now: dt.datetime,
             devices: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    offline: dict[int, list[str]] = {}
    for device in devices:
        if not device.get("ok", True):
            for number in device.get("windows") or ():
                offline.setdefault(number, []).append(device.get("name") or device.get("kind") or "?")
    serves: dict[int, list[tuple[int, int]]] = {}
    for window_id, queue_id, weight in session.execute(
            sa.select(WindowQueue.window_id, WindowQueue.queue_id, WindowQueue.weight)
            .join(Window, Window.id == WindowQueue.window_id).where(Window.hall_id == hall.id)
            .order_by(WindowQueue.window_id, WindowQueue.position)):
        serves.setdefault(window_id, []).append((queue_id, weight))
    rows = session.execute(
        sa.select(Window.id, Window.number, Window.name, Window.state, Window.pause_reason,
                  Window.state_since, Window.mode, Staff.name, Ticket.number)
        .outerjoin(Staff, Staff.id == Window.staff_id).outerjoin(Ticket, Ticket.id == Window.ticket_id)
        .where(Window.hall_id == hall.id).order_by(Window.number)).all()
    out = []
    for wid, number, name, state, pause_reason, since, mode, clerk, ticket in rows:
        if number not in hall.window_ids:
            continue
        served = serves.get(wid, [])
        out.append({
            "number": number, "name": name, "kind": hall.settings.window(number).kind,
            "state": state.value, "pause_reason": pause_reason,
            "since_s": int((now - since).total_seconds()) if since else None,
            "clerk": clerk, "ticket": ticket,
            "queues": [hall.queue_prefixes[q] for q, _ in served], "mode": mode,
            "weights": {hall.queue_prefixes[q]: weight for q, weight in served},
            "device_offline": offline.get(number, []),
        })
    return out


def _today(session: so.Session, hall: HallRef, day: dt.date, counts: DayCounts) -> dict[str, int]:
    """issued and no-shows of the day (from ``_day_counts``), and served as hall.stats counts it:
    tickets of the day, done, whose last service of the day ended done. Read from the day's
    rows only (ix_services_hall_day, ix_tickets_hall_day, ix_services_ticket_id): an IN over
    the last service ids let PostgreSQL scan the whole history of both tables."""
    later = so.aliased(Service)
    served = session.scalar(
        sa.select(sa.func.count()).select_from(Service).join(Ticket, Ticket.id == Service.ticket_id)
        .where(Service.hall_id == hall.id, Service.business_day == day, Service.outcome == "done",
               Ticket.hall_id == hall.id, Ticket.business_day == day, Ticket.status == TicketStatus.DONE,
               ~sa.exists().where(later.ticket_id == Service.ticket_id, later.business_day == day,
                                  later.id > Service.id))) or 0
    return {"issued": sum(counts.statuses.values()), "served": served,
            "no_show": counts.statuses.get(TicketStatus.NO_SHOW.value, 0)}


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


_US = 1_000_000
_STEP_US = BUCKET_MIN * 60 * _US


@dataclasses.dataclass
class DayCounts:
    """A day's tickets and waiting intervals counted per 15-minute bucket by the database.

    ``arrivals``: issued tickets per bucket ⌊(issued − first) / 15 min⌋ (unclamped: before the
    first bucket is ≤ 0, after the last ≥ n). ``statuses``: the day's tickets per status.
    ``starts`` / ``ends``: the starts and ends of the waiting intervals (a step from when it
    started waiting to its call, or to its cancellation when never called; no end while it still
    waits) per (bucket, at or before ``now``), the bucket being the first whose end is at or
    after the instant, ⌈(t − first) / 15 min⌉ − 1: "started by the end of bucket i" is "bucket ≤ i".
    """

    arrivals: dict[int, int] = dataclasses.field(default_factory=dict)
    statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    starts: dict[tuple[int, bool], int] = dataclasses.field(default_factory=dict)
    ends: dict[tuple[int, bool], int] = dataclasses.field(default_factory=dict)

    def add(self, into: dict[Any, int], key: Any, n: int) -> None:
        into[key] = into.get(key, 0) + n


def _epoch_us(dialect: str, column: Any) -> Any:
    """The instant as whole microseconds since the epoch, an exact integer computed by the
    database (no float rounding, no datetime built in Python)."""
    if dialect == "sqlite":
        # Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': the whole seconds (strftime of the
        # first 19 characters, exact) and the microseconds (the 6 digits after the dot).
        # julianday() or strftime() of the whole text would round to the millisecond.
        seconds = sa.cast(sa.func.strftime("%s", sa.func.substr(column, 1, 19)), sa.BigInteger)
        micros = sa.cast(sa.func.substr(column, 21, 6), sa.BigInteger)
        return sa.type_coerce(seconds * _US + micros, sa.BigInteger)
    return sa.cast(sa.func.round(sa.extract("epoch", column) * _US), sa.BigInteger)


def _us(instant: dt.datetime) -> int:
    return (instant - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)


@functools.cache
def _count_statements(dialect: str) -> tuple[sa.Select, sa.Select]:
    """The two GROUP BY queries of ``_day_counts``, built once per dialect (parameters: hall,
    day, base — the first bucket's start in epoch µs — and now). Grouped by the output
    columns' names, so that each instant is converted once per row."""
    base, now = sa.bindparam("base", type_=sa.BigInteger), sa.bindparam("now", type_=UTCDateTime())

    # Integer division in SQL truncates towards zero: exact for instants at or after the first
    # bucket; instants before it all land in a bucket ≤ 0 either way, which _curve takes as 0.
    def floor_bucket(column: Any) -> Any:
        return (_epoch_us(dialect, column) - base) // _STEP_US

    def ceil_bucket(column: Any) -> Any:
        return (_epoch_us(dialect, column) - base + (_STEP_US - 1)) // _STEP_US - 1

    def grouped(*cols: Any) -> Any:
        return [sa.literal_column(c.name) for c in cols]

    waits = Ticket.status == TicketStatus.WAITING
    cancelled = sa.and_(Ticket.status == TicketStatus.CANCELLED, Ticket.closed_at.is_not(None),
                        sa.or_(Ticket.called_at.is_(None), Ticket.called_at < Ticket.waiting_since))
    # Only waiting and cancelled-before-call tickets have an interval of their own (the others'
    # are their services'): for every other ticket these columns are NULL and cost nothing.
    # The arrival bucket first: grouped by status first, SQLite (without statistics) prefers
    # an index led by (hall_id, status), for its order, to ix_tickets_hall_day, and reads every
    # ticket the hall ever had (25x slower with a year of history; test_dashboard_counts).
    tcols = (floor_bucket(Ticket.issued_at).label("t_arrival"),
             sa.type_coerce(Ticket.status, sa.String).label("t_status"),
             sa.case((sa.or_(waits, cancelled), ceil_bucket(Ticket.waiting_since))).label("t_since"),
             sa.case((sa.or_(waits, cancelled), Ticket.waiting_since <= now)).label("t_since_now"),
             sa.case((cancelled, ceil_bucket(Ticket.closed_at))).label("t_closed"),
             sa.case((cancelled, Ticket.closed_at <= now)).label("t_closed_now"))
    tickets = (sa.select(*tcols, sa.func.count())
               .where(Ticket.hall_id == sa.bindparam("hall"), Ticket.business_day == sa.bindparam("day"))
               .group_by(*grouped(*tcols)))
    scols = (ceil_bucket(Service.waiting_since).label("s_since"),
             (Service.waiting_since <= now).label("s_since_now"),
             ceil_bucket(Service.called_at).label("s_called"),
             (Service.called_at <= now).label("s_called_now"))
    services = (sa.select(*scols, sa.func.count())
                .where(Service.hall_id == sa.bindparam("hall"), Service.business_day == sa.bindparam("day"))
                .group_by(*grouped(*scols)))
    return tickets, services


def _day_counts(session: so.Session, hall: HallRef, day: dt.date, first: dt.datetime,
                now: dt.datetime) -> DayCounts:
    """Count the day's arrivals and waiting intervals per bucket in SQL: two GROUP BY queries,
    one over the day's tickets and one over its services (ix_tickets_hall_day,
    ix_services_hall_day), each returning a few hundred rows at most, whatever the day's size."""
    tickets, services = _count_statements(session.get_bind().dialect.name)
    params = {"hall": hall.id, "day": day, "base": _us(first), "now": now}
    out = DayCounts()
    conn = session.connection()  # Core rows of plain values: no ORM
    for arrival, status, s, s_now, e, e_now, n in conn.execute(tickets, params):
        out.add(out.statuses, status, n)
        out.add(out.arrivals, int(arrival), n)
        if s is not None:
            out.add(out.starts, (int(s), bool(s_now)), n)
        if e is not None:
            out.add(out.ends, (int(e), bool(e_now)), n)
    for s, s_now, e, e_now, n in conn.execute(services, params):
        out.add(out.starts, (int(s), bool(s_now)), n)
        out.add(out.ends, (int(e), bool(e_now)), n)
    return out


def _curve(first: dt.datetime, n: int, counts: DayCounts, until: dt.datetime | None
           ) -> tuple[list[int | None], list[int | None]]:
    """Arrivals in each bucket, and people waiting at each bucket's end (or ``until``, the present):
    waiting(t) = intervals started by t − intervals ended by t."""
    arrivals = [0] * n
    for bucket, count in counts.arrivals.items():
        arrivals[min(max(bucket, 0), n - 1)] += count
    # per bucket (index n: after the last one), all of them and only those at or before ``until``
    starts, ends = [0] * (n + 1), [0] * (n + 1)
    starts_now, ends_now = [0] * (n + 1), [0] * (n + 1)
    for marks, marks_now, seen in ((starts, starts_now, counts.starts), (ends, ends_now, counts.ends)):
        for (bucket, before_now), count in seen.items():
            i = min(max(bucket, 0), n)
            marks[i] += count
            if before_now:
                marks_now[i] += count
    base = _us(first)
    past = n if until is None else max(0, min(n, (_us(until) - base) // _STEP_US + 1))
    waiting: list[int | None] = []
    started = ended = 0  # by the end of the bucket before
    for i in range(n):
        if i >= past:
            waiting.append(None)
        elif until is not None and base + _STEP_US * (i + 1) > _us(until):
            # The bucket of the present: waiting now, not at the bucket's end. Everything of
            # the buckets before ended before now.
            waiting.append(started + starts_now[i] - ended - ends_now[i])
        else:
            waiting.append(started + starts[i] - ended - ends[i])
        started += starts[i]
        ended += ends[i]
    return [a if i < past else None for i, a in enumerate(arrivals)], waiting


# The curves of past days (a week or more ago) are final: computed once per process and kept,
# bounded. Without this, every snapshot would count four past days again (8 more queries).
_PAST_CURVES: dict[tuple[Any, ...], tuple[list, list] | None] = {}
_PAST_LOCK = threading.Lock()
_PAST_MAX = 512


def curves(session: so.Session, hall: HallRef, day: dt.date, now: dt.datetime,
           counts: DayCounts | None = None) -> dict[str, Any]:
    """Today's arrivals and waiting per 15 minutes, and the mean of the same weekday of the
    previous four weeks (days without any ticket, e.g. holidays, left out of the mean).
    ``counts``: today's ``_day_counts``, when the caller has them already."""
    first, n = _slots(hall, day)
    if counts is None:
        counts = _day_counts(session, hall, day, first, now)
    arrivals, waiting = _curve(first, n, counts, until=now)
    past_days = [day - dt.timedelta(weeks=k) for k in range(1, PAST_WEEKS + 1)]
    engine = str(session.get_bind().url)
    sums_a, sums_w, used = [0.0] * n, [0.0] * n, []
    for past in past_days:
        key = (engine, hall.id, past, first.timetz(), n)
        with _PAST_LOCK:
            known = key in _PAST_CURVES
            curve = _PAST_CURVES.get(key)
        if not known:
            shift = dt.datetime.combine(past, first.timetz().replace(tzinfo=None), first.tzinfo)
            past_counts = _day_counts(session, hall, past, shift, shift)
            curve = _curve(shift, n, past_counts, None) if past_counts.statuses else None
            with _PAST_LOCK:  # a week or more ago: those days no longer change
                if len(_PAST_CURVES) >= _PAST_MAX:
                    _PAST_CURVES.pop(next(iter(_PAST_CURVES)))
                _PAST_CURVES[key] = curve
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
