"""A year of a 50-hall city (≈10 M tickets) on SQLite and PostgreSQL: bulk-loaded, days closed as
production closes them (day_rollups), then the manager's monthly report timed from the rollups and,
as the baseline in the same run, from the raw tickets.

    .venv/bin/python bench/city_year.py                       # a quick check: 4 halls × 10 days, SQLite
    nice -n 10 .venv/bin/python bench/city_year.py --halls 50 --days 249 --tickets 800 --engine both

Steps, per engine:

1. A fresh database whose schema comes from the project's Alembic migrations (``runtime.start``),
   the halls of ``config.toml``'s reference hall XS copied into a city tree (``bench/city_view.py``:
   HB → 9 districts → 40 streets; every hall has XS's 52 windows, 10 queues, 2 bundles and
   calendar).
2. ``--days`` opening days from 2025-01-02 (2025 has 249 in that calendar). Each hall-day is a
   discrete-event simulation (``simulate``): about ``--tickets`` tickets a hall-day (the city hall
   larger, streets smaller, Mondays and the days after holidays busier), arrivals by a morning-peak
   profile within the sessions, the queue mix of a district hall, priorities, bundles (一件事一次办),
   as many windows opened per queue as its work needs, each signed in by its clerk, served in the
   window's queue order (FIFO by sort key, priorities first), recalls, no-shows, transfers,
   unresolved services, visitors who give up, a lunch pause, afternoon breaks, extended hours
   (延时办) until the queue is empty, 好差评 ratings of 70 % of the services. Rows of the city's day
   are sorted by time across halls before their ids are given, as production interleaves them.
   Tickets, services, ratings, window events and queue counters are written; the ticket log
   (ticket_events, ≈4 rows a ticket) is not: no report reads it.
   Loading: SQLite — one connection with ``journal_mode=OFF``, ``synchronous=OFF``, a 1 GB cache,
   ``executemany`` of a whole city-day per transaction, WAL mode back afterwards; PostgreSQL —
   ``COPY … FROM STDIN`` through psycopg (the project's driver), sequences set, ``VACUUM ANALYZE``.
3. Every hall-day is closed with ``hall.daily.close_day`` — the end-of-day job of production, which
   cancels what still waits, signs out windows left open and writes the day's rollups
   (``hall.rollups.write_rollup``) — one transaction per hall-day; its cost per hall-day is printed.
4. The reports, as ``hall/web/reports.py`` calls them (``reports.report(…, now=…)``) and through
   the API with a manager's token (``GET …/reports`` and ``…/reports.xlsx`` in the Flask test
   client): one hall's month (by day, and every other grouping), a whole year by month, the whole
   city's month hall by hall (the report of each of its halls) and as the city report
   (``reports.city_report``, GET /api/v1/city/reports: every hall's kept days in one statement) by
   hall, day and month, and the city's year by month; each from the rollups and from the raw
   tickets (``use_rollups=False``), median and max of ``--runs`` runs; the two must be equal.

The SQLite file goes to ``--dir`` (default a temporary directory), the PostgreSQL database is
``--pg-database`` on ``--pg-url``; both are deleted at the end unless ``--keep``; ``--reuse`` times the
reports again on what a ``--keep`` run left, without loading.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from cityyear.engine import PG_URL, run_engine  # noqa: E402
from cityyear.engine import build  # noqa: E402,F401 - importable from here, as before the split
from cityyear.summary import print_summary  # noqa: E402
from cityyear.timings import months_of, report_of  # noqa: E402,F401 - importable from here, as before the split


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--halls", type=int, default=4, help="halls in the city tree (50 for the documented run)")
    parser.add_argument("--days", type=int, default=10, help="opening days from 2025-01-02 (249 = the year 2025)")
    parser.add_argument("--tickets", type=float, default=800, help="mean tickets a hall-day")
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each report (after a first one)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--dir", type=pathlib.Path, help="where the SQLite file goes (default: a temporary directory)")
    parser.add_argument("--pg-url", default=os.environ.get("HALL_BENCH_PG_URL", PG_URL),
                        help="a PostgreSQL server's maintenance database (the bench creates its own)")
    parser.add_argument("--pg-database", default="hall_city_year")
    parser.add_argument("--no-api", dest="api", action="store_false", help="skip the API timings")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", action="store_true",
                        help="time the reports on the databases an earlier --keep run left (same --halls, "
                             "--days and --dir), without loading")
    args = parser.parse_args(argv)
    workdir = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="bench-city-year-"))
    workdir.mkdir(parents=True, exist_ok=True)
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    summaries = []
    try:
        for engine in engines:
            summaries.append(run_engine(engine, args, workdir))
        print_summary(summaries)
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return summaries


if __name__ == "__main__":
    main()
