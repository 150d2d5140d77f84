"""The city year on one engine, end to end: a fresh database built (migrated, loaded, closed) or a
kept one reopened, the reports timed, then the database dropped unless kept."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import statistics
import time
from typing import Any
from zoneinfo import ZoneInfo

from hall import runtime as runtime_mod
from hall.clock import ManualClock

from .city import FIRST_DAY, city_settings, close_all_days, generate, opening_days
from .loaders import PgLoader, SqliteLoader
from .timings import measure

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# -- one engine, end to end -------------------------------------------------------------------


def build(engine: str, url: str, halls: int, n_days: int, tickets: float, seed: int,
          workdir: pathlib.Path, first: dt.date = FIRST_DAY, progress: bool = True
          ) -> tuple[runtime_mod.Runtime, list[dt.date], dt.datetime, dict[str, Any]]:
    """A fresh database of the city at ``url``: migrated, loaded, and every day but the last closed
    by the end-of-day job. The reports are asked at 23:00 of the last day (``now``): that day is over
    but not closed yet (the job runs after midnight), so its month adds kept days and a day of
    tickets. The caller closes the returned runtime."""
    settings = city_settings(halls, url, workdir)
    model = next(iter(settings.halls))
    days = opening_days(model, n_days, first)
    now = dt.datetime.combine(days[-1], dt.time(23, 0), ZoneInfo(model.timezone))
    t0 = time.perf_counter()
    rt = runtime_mod.start(settings, clock=ManualClock(now))  # the schema from the Alembic migrations
    summary: dict[str, Any] = {"engine": engine, "days": (days[0], days[-1], len(days)),
                               "migrate_s": time.perf_counter() - t0}
    rt.close()  # the loader writes alone; the runtime starts again on the loaded database
    t0 = time.perf_counter()
    loader = SqliteLoader(sa_database(url)) if engine == "sqlite" else PgLoader(url)
    summary["load"] = generate(rt, loader, days, tickets, seed, progress)
    summary["load_s"] = time.perf_counter() - t0
    rt = runtime_mod.start(settings, clock=ManualClock(now))
    try:
        summary["size"] = database_size(rt, engine, url)
        load = summary["load"]
        if progress:
            print(f"  loaded {load['tickets']:,} tickets, {load['services']:,} services, {load['ratings']:,} "
                  f"ratings, {load['window_events']:,} window events in {summary['load_s']:.0f} s (simulation "
                  f"{load['simulate_s']:.0f} s, writing {load['write_s']:.0f} s, finishing {load['finish_s']:.0f} s); "
                  f"database {summary['size'] / 2**30:.2f} GiB", flush=True)
        t0 = time.perf_counter()
        close_times = close_all_days(rt, days[:-1], progress)
        summary["close_s"] = time.perf_counter() - t0
        summary["close_ms"] = ((statistics.median(close_times) * 1000, max(close_times) * 1000)
                               if close_times else (0.0, 0.0))
        summary["size_after"] = database_size(rt, engine, url)
        if progress:
            print(f"  end of day (close_day + rollups) for {len(close_times):,} hall-days in "
                  f"{summary['close_s']:.0f} s: median {summary['close_ms'][0]:.1f} ms, max "
                  f"{summary['close_ms'][1]:.1f} ms a hall-day; database {summary['size_after'] / 2**30:.2f} GiB",
                  flush=True)
    except BaseException:
        rt.close()
        raise
    return rt, days, now, summary


def reopen(engine: str, url: str, halls: int, n_days: int, workdir: pathlib.Path
           ) -> tuple[runtime_mod.Runtime, list[dt.date], dt.datetime, dict[str, Any]]:
    """The database a run with ``--keep`` left, with the same ``--halls`` and ``--days``: the reports
    timed again without loading (after a change to the reports, say)."""
    settings = city_settings(halls, url, workdir)
    model = next(iter(settings.halls))
    days = opening_days(model, n_days)
    now = dt.datetime.combine(days[-1], dt.time(23, 0), ZoneInfo(model.timezone))
    rt = runtime_mod.start(settings, clock=ManualClock(now))
    import sqlalchemy as sa
    from hall.models import Ticket
    with rt.db.read() as session:
        tickets = session.scalar(sa.select(sa.func.count()).select_from(Ticket))
    if not tickets:
        rt.close()
        raise SystemExit(f"--reuse: the database {sa.make_url(url).render_as_string()} has no tickets; "
                         "make it first with --keep (same --halls, --days and --dir)")
    print(f"  reusing the kept database: {tickets:,} tickets", flush=True)
    return rt, days, now, {"engine": engine, "reused": True, "load": {"tickets": tickets},
                           "size": database_size(rt, engine, url)}


def run_engine(engine: str, args: argparse.Namespace, workdir: pathlib.Path) -> dict[str, Any]:
    print(f"== {engine}: {args.halls} halls × {args.days} opening days × ~{args.tickets:g} tickets", flush=True)
    rt = None
    if args.reuse:
        url = (f"sqlite:///{workdir / 'city.db'}" if engine == "sqlite"
               else sa_url(args.pg_url, args.pg_database))
    else:
        url = f"sqlite:///{workdir / 'city.db'}" if engine == "sqlite" else _pg_database(args.pg_url, args.pg_database)
    try:
        if args.reuse:
            rt, days, now, summary = reopen(engine, url, args.halls, args.days, workdir)
        else:
            rt, days, now, summary = build(engine, url, args.halls, args.days, args.tickets, args.seed, workdir)
        client, manager = api_client(rt.settings, url, rt.clock) if args.api else (None, None)
        summary["load_average"] = os.getloadavg()
        summary["reports"] = measure(rt, days, now, args.runs, client, manager)
        print(f"  load average before the timings {summary['load_average'][0]:.2f}, after {os.getloadavg()[0]:.2f}")
        if client is not None:
            client.application.extensions["hall"].close()
    finally:
        if rt is not None:
            rt.close()
        if not args.keep and not args.reuse:
            if engine == "sqlite":
                for p in workdir.glob("city.db*"):
                    p.unlink()
            else:
                _drop_pg(args.pg_url, args.pg_database)
    return summary


def sa_database(url: str) -> str:
    import sqlalchemy as sa
    return sa.make_url(url).database or ""


def api_client(settings: Any, url: str, clock: ManualClock) -> tuple[Any, dict[str, str]]:
    from hall import tokens
    from hall.app import create_app
    app = create_app(settings, database_url=url, clock=clock, realtime=False)
    rt = app.extensions["hall"]
    hall = next(iter(rt.halls.values()))
    with rt.db.write() as session:
        value = tokens.create_token(session, hall, "manager", clock.now())
    return app.test_client(), {"Authorization": f"Bearer {value}"}


def database_size(rt: runtime_mod.Runtime, engine: str, url: str) -> int:
    if engine == "sqlite":
        path = pathlib.Path(sa_database(url))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import sqlalchemy as sa
    with rt.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()


def sa_url(url: str, name: str) -> str:
    import sqlalchemy as sa
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _pg_database(url: str, name: str) -> str:
    import sqlalchemy as sa
    _drop_pg(url, name)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_pg(url: str, name: str) -> None:
    import sqlalchemy as sa
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
