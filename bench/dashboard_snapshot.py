"""Time hall.dashboard.dashboard_snapshot on the 52-window hall of config.toml with a day of 2,000
tickets (and 4 past Mondays of 2,000 each, for the curves), with baselines measured in the same
run: hall.stats.day_stats, and the old way of the snapshot's curve (today's tickets and services
read as rows and bucketed in Python), whose result must equal the database's counts.

    .venv/bin/python bench/dashboard_snapshot.py [--tickets 2000] [--runs 50] [--weeks 4]
                                                 [--engine sqlite|postgresql]

--engine postgresql makes a scratch database on $HALL_BENCH_PG (default: the local server as user
postgres, trust auth) and drops it afterwards. --weeks 52 shows the history's cost (a year of
Mondays): every read of the snapshot stays on the day's rows or the waiting tickets; the
hall-wide read of alerts.queue_loads grows with it unless an index leads with (hall, status).
Figures and reasoning: docs/benchmarks-dashboard.md.
"""
from __future__ import annotations

import argparse
import bisect
import datetime as dt
import os
import pathlib
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from hall import alerts, dashboard, runtime as runtime_mod, stats  # noqa: E402
from hall.clock import Clock  # noqa: E402
from hall.config import parse_config  # noqa: E402
from hall.config_errors import read_toml  # noqa: E402
from hall.models import Priority, Service, Ticket, TicketStatus, Window, WindowState  # noqa: E402

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=CST)  # a Monday afternoon
PG_ADMIN = os.environ.get("HALL_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fill_day(session, hall, day: dt.date, n: int, now: dt.datetime, rng: random.Random,
             next_id: list[int]) -> None:
    """n tickets from 08:30, each called after 0–40 min at one of the windows serving its queue."""
    start = dt.datetime.combine(day, dt.time(8, 30), CST)
    span = (min(now, dt.datetime.combine(day, dt.time(17, 0), CST)) - start).total_seconds()
    serving = {}
    for w in hall.settings.windows:
        for prefix in w.queues:
            serving.setdefault(prefix, []).append(hall.window_ids[w.number])
    prefixes = sorted(serving)
    seqs: dict[str, int] = {}
    tickets, services = [], []
    for _ in range(n):
        prefix = rng.choice(prefixes)
        seqs[prefix] = seqs.get(prefix, 0) + 1
        issued = start + dt.timedelta(seconds=rng.uniform(0, span))
        called = issued + dt.timedelta(seconds=rng.uniform(0, 2400))
        tid = next_id[0]
        next_id[0] += 1
        qid = hall.queue_ids[prefix]
        row = dict(id=tid, hall_id=hall.id, business_day=day, origin_queue_id=qid, seq=seqs[prefix],
                   number=f"{prefix}{seqs[prefix]:03d}", queue_id=qid, priority=Priority.NONE,
                   channel="kiosk", issued_at=issued, waiting_since=issued,
                   sort_key=issued.timestamp(), secret=f"s{tid}", route=[], matters=[])
        if called >= now:
            tickets.append({**row, "status": TicketStatus.WAITING, "called_at": None, "closed_at": None})
            continue
        ended = called + dt.timedelta(seconds=rng.uniform(180, 900))
        outcome = "no_show" if rng.random() < 0.05 else "done"
        status = TicketStatus.NO_SHOW if outcome == "no_show" else TicketStatus.DONE
        tickets.append({**row, "status": status, "called_at": called, "closed_at": ended,
                        "window_id": rng.choice(serving[prefix])})
        services.append(dict(hall_id=hall.id, business_day=day, ticket_id=tid, queue_id=qid,
                             window_id=tickets[-1]["window_id"], waiting_since=issued, called_at=called,
                             last_called_at=called, ended_at=ended, outcome=outcome, matters=[]))
    for row in tickets:
        row.setdefault("window_id", None)
    session.execute(sa.insert(Ticket), tickets)
    session.execute(sa.insert(Service), services)


# -- the old way, kept here as the baseline: every instant of the day read into Python -------------

def _epoch(session, column):
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)
    return sa.extract("epoch", column)


def rows_curve(session, hall, day: dt.date, now: dt.datetime) -> tuple[list, list]:
    """Today's arrivals and waiting per bucket as hall/dashboard.py computed them before the
    database counted them: ~4,000 rows of epoch seconds, sorted and bisected in Python (plus
    the float() that PostgreSQL's numeric epoch needs, without which the old code failed there)."""
    first, n = dashboard._slots(hall, day)
    issued, waits, inf = [], [], float("inf")
    conn = session.connection()
    for t_issued, status, since, called, closed in conn.execute(
            sa.select(_epoch(session, Ticket.issued_at), sa.type_coerce(Ticket.status, sa.String),
                      _epoch(session, Ticket.waiting_since), _epoch(session, Ticket.called_at),
                      _epoch(session, Ticket.closed_at))
            .where(Ticket.hall_id == hall.id, Ticket.business_day == day)):
        issued.append(float(t_issued))
        if status == TicketStatus.WAITING.value:
            waits.append((float(since), inf))
        elif status == TicketStatus.CANCELLED.value and closed and (called is None or called < since):
            waits.append((float(since), float(closed)))
    for since, called in conn.execute(
            sa.select(_epoch(session, Service.waiting_since), _epoch(session, Service.called_at))
            .where(Service.hall_id == hall.id, Service.business_day == day)):
        waits.append((float(since), float(called)))
    step, base = dashboard.BUCKET_MIN * 60, first.timestamp()
    arrivals = [0] * n
    for t in issued:
        arrivals[min(max(int((t - base) // step), 0), n - 1)] += 1
    cut = now.timestamp()
    marks = [min(base + step * (i + 1), cut) for i in range(n)]
    starts, ends = sorted(a for a, _ in waits), sorted(b for _, b in waits)
    waiting = [bisect.bisect_right(starts, m) - bisect.bisect_right(ends, m) for m in marks]
    past = max(0, min(n, int((cut - base) // step) + 1))
    return ([a if i < past else None for i, a in enumerate(arrivals)],
            [w if i < past else None for i, w in enumerate(waiting)])


def new_curve(session, hall, day: dt.date, now: dt.datetime) -> tuple[list, list]:
    first, n = dashboard._slots(hall, day)
    return dashboard._curve(first, n, dashboard._day_counts(session, hall, day, first, now), now)


def timed(fns: dict, runs: int) -> dict[str, tuple[float, float, float]]:
    """Median and max wall time and median CPU time of this process, in ms, of each function,
    the functions taking turns run after run (so that a burst of load on the shared machine hits
    them alike). The CPU time moves less with the machine's load; on PostgreSQL it leaves out the
    server's work."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    return {name: (statistics.median(ts), max(ts), statistics.median(cpu[name]))
            for name, ts in times.items()}


def cold_snapshot(session, hall):
    """The first snapshot of a process: the past weeks' curves not computed yet."""
    dashboard._PAST_CURVES.clear()
    return dashboard.dashboard_snapshot(session, hall, NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=4, help="past Mondays with tickets (default 4)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    load_before = os.getloadavg()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-dash-"))
    admin, pg_name = None, None
    if args.engine == "postgresql":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        pg_name = f"hall_bench_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{pg_name}"')
        database = sa.make_url(PG_ADMIN).set(database=pg_name).render_as_string(hide_password=False)
    else:
        database = f"sqlite:///{tmp}/hall.db"
    data = read_toml(ROOT / "config.toml")
    data["server"] = {**data.get("server", {}), "database": database,
                      "secret_key_file": str(tmp / "secret_key")}
    settings = parse_config(data, base_dir=ROOT)
    rt = runtime_mod.start(settings, clock=Clock(NOW))
    try:
        hall = next(iter(rt.halls.values()))
        rng = random.Random(6)
        next_id = [1]
        with rt.db.write() as session:
            for weeks in range(args.weeks, -1, -1):
                day = NOW.date() - dt.timedelta(weeks=weeks)
                fill_day(session, hall, day, args.tickets, NOW, rng, next_id)
            for w in session.scalars(sa.select(Window).where(Window.hall_id == hall.id)):
                w.state = rng.choice([WindowState.IDLE, WindowState.SERVING, WindowState.PAUSED])
                w.pause_reason = "break" if w.state == WindowState.PAUSED else None
                w.state_since = NOW
        if args.engine == "postgresql":
            with rt.db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        day = NOW.date()
        with rt.db.read() as session:
            snap = dashboard.dashboard_snapshot(session, hall, NOW)
            base = stats.day_stats(session, hall, day)
            same_curve = new_curve(session, hall, day, NOW) == rows_curve(session, hall, day, NOW)
            same_today = snap["today"] == {k: base[k] for k in ("issued", "served", "no_show")}
            loads = [(q.prefix, q.waiting, q.longest_wait_s) for q in alerts.queue_loads(session, hall, NOW)]
            same_loads = loads == [(q["prefix"], q["waiting"], q["longest_wait_s"]) for q in snap["queues"]]
            t = timed({
                "snapshot": lambda: dashboard.dashboard_snapshot(session, hall, NOW),
                "cold": lambda: cold_snapshot(session, hall),
                "curve_db": lambda: new_curve(session, hall, day, NOW),
                "curve_rows": lambda: rows_curve(session, hall, day, NOW),
                "loads_index": lambda: dashboard._queue_loads(session, hall, NOW),
                "loads_hall": lambda: alerts.queue_loads(session, hall, NOW),
                "day_stats": lambda: stats.day_stats(session, hall, day),
            }, args.runs)
    finally:
        rt.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            admin.dispose()
    load_after = os.getloadavg()

    def line(label: str, key: str, note: str = "") -> None:
        med, top, cpu = t[key]
        print(f"  {label:<44} median {med:6.1f} ms   max {top:6.1f} ms   cpu {cpu:6.1f} ms   {note}")

    print(f"hall {hall.code}: {len(hall.window_ids)} windows, {args.tickets} tickets today "
          f"(+{args.weeks} past Mondays × {args.tickets}), {args.engine}, {args.runs} runs, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"  today: issued {snap['today']['issued']}, served {snap['today']['served']} "
          f"(day_stats {base['served']}), waiting {snap['waiting']}; "
          f"equal to day_stats: {same_today}; curve equal to the old way's: {same_curve}; "
          f"waiting per queue equal to alerts.queue_loads: {same_loads}")
    line("dashboard_snapshot", "snapshot", "(target ≤ 50 ms)")
    line("dashboard_snapshot, past weeks not kept yet", "cold", "(first call of a process)")
    line("today's curve: counted by the database", "curve_db")
    line("today's curve: rows read in Python (old way)", "curve_rows", "(baseline)")
    line("waiting per queue: waiting-ticket index", "loads_index")
    line("waiting per queue: hall-wide (alerts)", "loads_hall", "(baseline)")
    line("stats.day_stats", "day_stats", "(baseline)")


if __name__ == "__main__":
    main()
