"""Time hall.dashboard.dashboard_snapshot on the 52-window hall of config.toml with a day of 2,000
tickets (and 4 past Mondays of 2,000 each, for the curves), against hall.stats.day_stats on the same data.

    .venv/bin/python bench/dashboard_snapshot.py [--tickets 2000] [--runs 50]
"""
from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import random
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from hall import dashboard, runtime as runtime_mod, stats  # noqa: E402
from hall.clock import Clock  # noqa: E402
from hall.config import load_config, parse_config  # noqa: E402
from hall.config_errors import read_toml  # noqa: E402
from hall.models import Priority, Service, Ticket, TicketStatus, Window, WindowState  # noqa: E402

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=CST)  # a Monday afternoon


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


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-dash-"))
    data = read_toml(ROOT / "config.toml")
    data["server"] = {**data.get("server", {}), "database": f"sqlite:///{tmp}/hall.db",
                      "secret_key_file": str(tmp / "secret_key")}
    settings = parse_config(data, base_dir=ROOT)
    rt = runtime_mod.start(settings, clock=Clock(NOW))
    hall = next(iter(rt.halls.values()))
    rng = random.Random(6)
    next_id = [1]
    with rt.db.write() as session:
        for weeks in range(4, -1, -1):
            day = NOW.date() - dt.timedelta(weeks=weeks)
            fill_day(session, hall, day, args.tickets, NOW, rng, next_id)
        for w in session.scalars(sa.select(Window).where(Window.hall_id == hall.id)):
            w.state = rng.choice([WindowState.IDLE, WindowState.SERVING, WindowState.PAUSED])
            w.pause_reason = "break" if w.state == WindowState.PAUSED else None
            w.state_since = NOW
    with rt.db.read() as session:
        snap = dashboard.dashboard_snapshot(session, hall, NOW)
        base = stats.day_stats(session, hall, NOW.date())
        dash_med, dash_max = timed(lambda: dashboard.dashboard_snapshot(session, hall, NOW), args.runs)
        stats_med, stats_max = timed(lambda: stats.day_stats(session, hall, NOW.date()), args.runs)
    print(f"hall {hall.code}: {len(hall.window_ids)} windows, {args.tickets} tickets today "
          f"(+4 past Mondays × {args.tickets}), SQLite, {args.runs} runs")
    print(f"  today: issued {snap['today']['issued']}, served {snap['today']['served']} "
          f"(day_stats {base['served']}), waiting {snap['waiting']}")
    print(f"  dashboard_snapshot  median {dash_med:6.1f} ms   max {dash_max:6.1f} ms   (target ≤ 50 ms)")
    print(f"  stats.day_stats     median {stats_med:6.1f} ms   max {stats_max:6.1f} ms   (baseline)")
    rt.close()


if __name__ == "__main__":
    main()
