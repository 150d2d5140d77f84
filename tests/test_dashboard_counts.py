"""The dashboard's figures counted by the database equal a count made here, row by row, with
exact datetimes — on SQLite and on PostgreSQL, with instants on, just before and just after the
15-minute boundaries and the present (to the microsecond), transfers, cancellations, visitors
still waiting or at a window, tickets before the first bucket and after the last."""
from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest
import sqlalchemy as sa

from hall import alerts, dashboard, runtime as runtime_mod, stats
from hall.models import Priority, Service, Ticket, TicketStatus
from support import MONDAY_9, FrozenClock, settings_for

CST = MONDAY_9.tzinfo
TODAY = MONDAY_9.date()
STEP = dt.timedelta(minutes=dashboard.BUCKET_MIN)
US = dt.timedelta(microseconds=1)


# -- the reference: the curves' definition, from ORM rows and datetimes -------------------------

def reference_curve(session, hall, day: dt.date, first: dt.datetime, n: int,
                    until: dt.datetime | None) -> tuple[list, list]:
    """Arrivals per bucket (clamped to the first and last), and at each bucket's end (or at
    ``until``, for the bucket of the present) the waiting intervals started by then minus those
    ended by then; buckets after the present are None."""
    tickets = session.scalars(sa.select(Ticket).where(Ticket.hall_id == hall.id,
                                                      Ticket.business_day == day)).all()
    services = session.scalars(sa.select(Service).where(Service.hall_id == hall.id,
                                                        Service.business_day == day)).all()
    intervals = [(s.waiting_since, s.called_at) for s in services]
    for t in tickets:
        if t.status == TicketStatus.WAITING:
            intervals.append((t.waiting_since, None))
        elif (t.status == TicketStatus.CANCELLED and t.closed_at is not None
              and (t.called_at is None or t.called_at < t.waiting_since)):
            intervals.append((t.waiting_since, t.closed_at))
    arrivals = [0] * n
    for t in tickets:
        arrivals[min(max((t.issued_at - first) // STEP, 0), n - 1)] += 1
    waiting = []
    for i in range(n):
        if until is not None and first + STEP * i > until:
            waiting.append(None)
            arrivals[i] = None
            continue
        mark = first + STEP * (i + 1)
        if until is not None:
            mark = min(mark, until)
        waiting.append(sum(s <= mark for s, _ in intervals) - sum(e is not None and e <= mark
                                                                  for _, e in intervals))
    return arrivals, waiting


def reference_curves(session, hall, day: dt.date, now: dt.datetime) -> dict:
    first, n = dashboard._slots(hall, day)
    arrivals, waiting = reference_curve(session, hall, day, first, n, now)
    sums_a, sums_w, used = [0] * n, [0] * n, []
    for k in range(1, dashboard.PAST_WEEKS + 1):
        past = day - dt.timedelta(weeks=k)
        shift = dt.datetime.combine(past, first.timetz().replace(tzinfo=None), first.tzinfo)
        if not session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
                Ticket.hall_id == hall.id, Ticket.business_day == past)):
            continue
        a, w = reference_curve(session, hall, past, shift, n, None)
        sums_a = [x + y for x, y in zip(sums_a, a)]
        sums_w = [x + y for x, y in zip(sums_w, w)]
        used.append(past.isoformat())
    mean = (lambda xs: [round(x / len(used), 1) for x in xs]) if used else (lambda xs: [None] * n)
    return {"arrivals": arrivals, "waiting": waiting, "arrivals_before": mean(sums_a),
            "waiting_before": mean(sums_w), "before_days": used}


# -- a day of awkward instants ---------------------------------------------------------------------

EDGES = [dt.timedelta(0), US, -US, dt.timedelta(microseconds=400), -dt.timedelta(microseconds=400),
         dt.timedelta(microseconds=500), -dt.timedelta(microseconds=500),
         dt.timedelta(microseconds=999_999), -dt.timedelta(microseconds=999_999)]


def instant(rng: random.Random, day: dt.date, marks: list[dt.datetime]) -> dt.datetime:
    """Half the time anywhere from 07:30 to 18:30 (to the µs), half on or next to a mark."""
    if rng.random() < 0.5:
        start = dt.datetime.combine(day, dt.time(7, 30), CST)
        return start + dt.timedelta(microseconds=rng.randrange(11 * 3600 * 10**6))
    return rng.choice(marks) + rng.choice(EDGES)


def fill(session, hall, day: dt.date, now: dt.datetime, rng: random.Random, count: int,
         next_id: list[int]) -> None:
    first, n = dashboard._slots(hall, day)
    marks = [first + STEP * i for i in range(n + 2)] + [now]
    later = (lambda t: t + rng.choice([dt.timedelta(0), US, STEP, dt.timedelta(minutes=7),
                                       dt.timedelta(seconds=rng.uniform(0, 3000))]))
    windows = list(hall.window_ids.values())
    seqs: dict[int, int] = {}
    for _ in range(count):
        qid = rng.choice(list(hall.queue_ids.values()))
        seqs[qid] = seqs.get(qid, 0) + 1
        tid = next_id[0]
        next_id[0] += 1
        issued = instant(rng, day, marks)
        kind = rng.choice(["waiting", "served", "served", "transferred", "no_show", "at_window",
                           "cancelled", "cancelled_after_call", "cancelled_no_close"])
        since, services = issued, []
        steps = 1 + (kind == "transferred") * rng.randint(1, 2) if kind not in (
            "waiting", "cancelled", "cancelled_no_close") else 0
        called = ended = None
        for k in range(steps):
            called = later(since)
            last = k == steps - 1
            ended = None if (last and kind == "at_window") else later(called)
            outcome = ("transferred" if not last else {"no_show": "no_show", "at_window": None,
                                                      "cancelled_after_call": "cancelled"}
                       .get(kind, rng.choice(["done", "done", "unresolved"])))
            services.append(dict(hall_id=hall.id, business_day=day, ticket_id=tid, queue_id=qid,
                                 window_id=rng.choice(windows), waiting_since=since, called_at=called,
                                 last_called_at=called, ended_at=ended, outcome=outcome, matters=[]))
            if not last:
                since = ended
        status, closed = {
            "waiting": (TicketStatus.WAITING, None),
            "at_window": (TicketStatus.CALLED, None),
            "no_show": (TicketStatus.NO_SHOW, ended),
            "cancelled": (TicketStatus.CANCELLED, later(since)),
            "cancelled_after_call": (TicketStatus.CANCELLED, ended),
            "cancelled_no_close": (TicketStatus.CANCELLED, None),
        }.get(kind, (TicketStatus.DONE, ended))
        if kind == "waiting" and rng.random() < 0.5:  # back in a queue after a transfer
            called = later(issued)
            since = later(called)
            services.append(dict(hall_id=hall.id, business_day=day, ticket_id=tid, queue_id=qid,
                                 window_id=rng.choice(windows), waiting_since=issued, called_at=called,
                                 last_called_at=called, ended_at=since, outcome="transferred",
                                 matters=[]))
        session.execute(sa.insert(Ticket), [dict(
            id=tid, hall_id=hall.id, business_day=day, origin_queue_id=qid, seq=seqs[qid],
            number=f"X{seqs[qid]:03d}", queue_id=qid, priority=Priority.NONE, channel="kiosk",
            issued_at=issued, waiting_since=since, sort_key=issued.timestamp(), secret=f"s{tid}",
            route=[], matters=[], status=status, called_at=called, closed_at=closed)])
        if services:
            session.execute(sa.insert(Service), services)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def runtime(request, tmp_path, migrated_template):
    if request.param == "sqlite":
        shutil.copy(migrated_template, tmp_path / "hall.db")
        rt = runtime_mod.start(settings_for(tmp_path), clock=FrozenClock(MONDAY_9))
        yield rt
        rt.close()
        return
    from services import postgres_database
    for url in postgres_database():
        rt = runtime_mod.start(settings_for(tmp_path, database=url), clock=FrozenClock(MONDAY_9))
        yield rt
        rt.close()


NOWS = [dt.datetime(2026, 11, 30, 10, 7, 30, 123456, tzinfo=CST),  # inside a bucket
        dt.datetime(2026, 11, 30, 10, 15, tzinfo=CST),  # on a boundary
        dt.datetime(2026, 11, 30, 7, 0, tzinfo=CST),  # before the first bucket
        dt.datetime(2026, 11, 30, 19, 0, tzinfo=CST)]  # after closing


def test_curves_and_counts_equal_a_row_by_row_count(runtime):
    rt, hall = runtime, runtime.halls["T1"]
    rng = random.Random(6)
    next_id = [1]
    with rt.db.write() as session:
        fill(session, hall, TODAY, NOWS[0], rng, 600, next_id)
        for weeks in (1, 3):  # two past Mondays with tickets, two without
            fill(session, hall, TODAY - dt.timedelta(weeks=weeks), NOWS[0], rng, 300, next_id)
    with rt.db.read() as session:
        kpis = stats.day_stats(session, hall, TODAY)
        for now in NOWS:
            want = reference_curves(session, hall, TODAY, now)
            got = dashboard.curves(session, hall, TODAY, now)
            assert {k: got[k] for k in want} == want, now
            snap = dashboard.dashboard_snapshot(session, hall, now)
            assert snap["curves"] == got
            assert snap["today"] == {k: kpis[k] for k in ("issued", "served", "no_show")}
            loads = alerts.queue_loads(session, hall, now)
            assert [(q["prefix"], q["name"], q["waiting"], q["longest_wait_s"]) for q in snap["queues"]] \
                == [(q.prefix, q.name, q.waiting, q.longest_wait_s) for q in loads]
            assert snap["waiting"] == sum(q.waiting for q in loads) > kpis["waiting"] > 0
    assert want["before_days"] == [(TODAY - dt.timedelta(weeks=k)).isoformat() for k in (1, 3)]


def test_an_instant_just_before_a_boundary_is_in_the_bucket_before(rt, hall):
    """To the microsecond: 09:14:59.9996 is in the 09:00 bucket (a count rounded to the
    millisecond, as julianday() gives, would put it in the 09:15 one), and a visitor who started
    waiting 1 µs after 09:15 does not count as waiting at 09:15."""
    nine_15 = dt.datetime(2026, 11, 30, 9, 15, tzinfo=CST)
    late = nine_15 - dt.timedelta(microseconds=400)
    with rt.db.write() as session:
        qid = hall.queue_ids["A"]
        for seq, issued in ((1, late), (2, nine_15 + US)):
            session.execute(sa.insert(Ticket), [dict(
                hall_id=hall.id, business_day=TODAY, origin_queue_id=qid, seq=seq, number=f"A00{seq}",
                queue_id=qid, priority=Priority.NONE, channel="kiosk", issued_at=issued,
                waiting_since=issued, sort_key=issued.timestamp(), secret=f"s{seq}", route=[],
                matters=[], status=TicketStatus.WAITING)])
    with rt.db.read() as session:
        c = dashboard.curves(session, hall, TODAY, dt.datetime(2026, 11, 30, 9, 40, tzinfo=CST))
    i = c["labels"].index("09:00")
    assert c["arrivals"][i:i + 3] == [1, 1, 0]
    assert c["waiting"][i:i + 3] == [1, 2, 2]


def test_every_read_of_tickets_and_services_is_by_day_or_by_waiting_queue(rt, hall):
    """The snapshot and day_stats cost the same with a year of history as on the first day: each
    read of tickets or services goes through the day (ix_*_hall_day), the waiting tickets
    (ix_tickets_waiting), a ticket's services or a primary key — never a scan, nor an index on
    the hall alone, whatever other indexes the migrations add (SQLite has no statistics to
    choose well: a GROUP BY or a filter on status made it walk a (hall_id, status) index)."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    sa.event.listen(rt.db.read_engine, "before_cursor_execute", record)
    try:
        with rt.db.read() as session:
            dashboard._PAST_CURVES.clear()  # the past weeks' queries too
            dashboard.dashboard_snapshot(session, hall, MONDAY_9)
            stats.day_stats(session, hall, TODAY)
    finally:
        sa.event.remove(rt.db.read_engine, "before_cursor_execute", record)
    ok = ("business_day=?", "USING INTEGER PRIMARY KEY", "ix_tickets_waiting (queue_id=? AND status=?)",
          "ix_services_ticket_id (ticket_id=?")
    with rt.db.read() as session:
        raw = session.connection().connection.driver_connection
        checked = 0
        for statement, params in seen:
            for *_, detail in raw.execute("EXPLAIN QUERY PLAN " + statement, params):
                table = detail.split()[1] if len(detail.split()) > 1 else ""
                if table not in ("tickets", "services") and not detail.startswith("SCAN"):
                    continue
                checked += 1
                assert detail.startswith("SEARCH") and any(o in detail for o in ok), (detail, statement)
    assert checked >= 10
