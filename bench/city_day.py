"""City day (#9): one day of a 50-hall city replayed at 60× against 2 server processes on PostgreSQL + Redis.

    .venv/bin/python bench/city_day.py [--halls 50] [--speed 60] [--clients 2000] [--minutes M]
        [--workers 2] [--routing hall|spread] [--pg ADMIN_URL | --database URL]
        [--redis URL | --private-redis] [--json FILE] [--keep] [--py-spy DIR]   (more: --help)

The day is ``python3 bench/workloads/make_day.py --halls N`` (a copy of ../shared/workloads) (900 visitors a hall; halls
H01…HNN, queues A–K). The city is ``bench/city_view.py``'s ``tree()`` of config.toml's 52-window
hall (a city hall, districts, streets), its codes renamed to make_day's H01… in tree order
(HB → H01, D1… → H02…, S… → the rest), with one opening session 00:00–23:59 instead of
08:30–12:00 + 13:30–17:30 (the workload has lunch arrivals; the hall clock runs on during setup).

Servers: the README's production command for many live clients, twice: ``gunicorn -k gevent -w 1
--worker-connections 5000 'hall.wsgi:app'`` (bench/common.py ``server_command``) with
``async_mode = "gevent"``, ``message_queue`` and ``rate_limit_storage`` on Redis, a fresh
PostgreSQL database (created, then dropped), the kiosk limit lifted (``without_issue_limit``), the
hall clock started at ``--clock-start`` (07:30) and run ``--speed`` times faster
(``HALL_CLOCK_SPEED``); the replay is stopped before the hall clock reaches 23:50.

Load: each visitor takes a ticket at ``arrive_s / speed`` through one of its hall's 2 kiosks
(POST /tickets with the hall's kiosk token); simulated clerks, one per window with the window's own
clerk token, call (POST …/call) when someone they serve waits, serve ``service_s / speed``, then
call next (the server finishes the previous visitor); a no-show is recalled after 60 s and marked
no-show after 120 s (hall time); a transfer goes to ``transfer_to`` after ``service_s`` and its
second step takes that queue's ``avg_service_s``. Live clients (/live over websocket) are in
``client_mix``'s proportions; mobile tickets open after their ticket is issued and close when it
is done. Requests and in-hall devices of a hall go to one process (nginx ``ip_hash`` on the
hall's network, deploy/nginx-hall.conf), phones, dashboards and city views alternate; ``--routing
spread`` alternates everything. Requests go over kept-alive connections, as nginx keeps them to
its upstream (``keepalive`` in deploy/nginx-hall.conf; ``--no-keepalive``: a new connection per
request, as before that line). The load generator is ``--workers`` processes (asyncio, aiohttp,
a minimal Socket.IO client: one websocket, no polling), each owning whole halls.

``--private-redis`` runs its own redis-server: Redis pub/sub channels are global to a Redis server
and Flask-SocketIO's is always "flask-socketio", so every Hall server on a shared Redis emits every
other one's events into its own rooms; clients set aside (and count) events of halls not theirs.

Measured: issue and call latency (request sent → answer), call → delivery (call sent, and call
answered → ``ticket.called`` received, at every client whose rooms it was for), delivered share
(every event meant for a client's rooms after its snapshot, counted by each hall's ``seq``; the
final seq is read from the database), CPU from /proc of both server process trees, PostgreSQL's
backends of the run's database, Redis, the load generator and the whole machine.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from cityday.evaluate import Figures  # noqa: E402,F401 - importable from here, as before the split
from cityday.plan import CLOCK_START, MAKE_DAY  # noqa: E402
from cityday.run import Options, run_city_day  # noqa: E402
from cityday.services import PG_ADMIN, REDIS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--halls", type=int, default=50, help="halls of the city and of make_day.py (default 50)")
    parser.add_argument("--speed", type=float, default=60.0, help="replay speed and hall clock speed (default 60)")
    parser.add_argument("--clients", type=int, default=2000, help="/live clients: fixed ones plus room for phones")
    parser.add_argument("--minutes", type=float, help="replay only the arrivals of the first M minutes of the day")
    parser.add_argument("--visitors", type=int, default=900, help="visitors per hall (make_day.py --visitors)")
    parser.add_argument("--seed", type=int, default=1, help="make_day.py --seed")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--routing", choices=("hall", "spread"), default="hall",
                        help="hall: a hall's requests and in-hall screens go to one process (nginx ip_hash); "
                        "spread: every request and client alternates")
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL; a fresh database is made and dropped")
    parser.add_argument("--database", help="use this (empty) database instead of making one")
    parser.add_argument("--redis", default=REDIS, help="Redis URL (message queue and rate-limit storage)")
    parser.add_argument("--private-redis", action="store_true",
                        help="start a redis-server of the run's own instead (every Hall server on a shared "
                        "Redis receives every other one's live events: one pub/sub channel per Redis server)")
    parser.add_argument("--mobile-share", type=float, default=0.5,
                        help="share of visitors who open their mobile ticket (default 0.5)")
    parser.add_argument("--max-day", type=float, help="stop the replay after this many seconds")
    parser.add_argument("--clock-start", default=CLOCK_START, help="the hall clock at server start, HH:MM "
                        "(default 07:30); the replay stops before it reaches 23:50")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for late deliveries")
    parser.add_argument("--make-day", type=pathlib.Path, default=MAKE_DAY)
    parser.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                        help="a new connection per request, as nginx without upstream keepalive (the "
                             "first runs); default: kept-alive connections, as deploy/nginx-hall.conf")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (config, server logs)")
    parser.add_argument("--py-spy", metavar="DIR", help="profile both servers during the day with py-spy "
                        "(from PATH or $PY_SPY) into DIR/server1.txt, server2.txt (collapsed stacks)")
    args = parser.parse_args(argv)
    if args.halls < 1 or args.speed <= 0 or args.clients < args.halls or args.workers < 1:
        parser.error("--halls ≥ 1, --speed > 0, --clients ≥ --halls, --workers ≥ 1")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", args.clock_start):
        parser.error("--clock-start is HH:MM, e.g. 07:30")
    opts = Options(halls=args.halls, speed=args.speed, clients=args.clients, minutes=args.minutes,
                   visitors=args.visitors, seed=args.seed, workers=min(args.workers, args.halls),
                   routing=args.routing, pg=args.pg, database=args.database, redis=args.redis,
                   mobile_share=args.mobile_share, drain_s=args.drain, max_day_s=args.max_day,
                   make_day=args.make_day, keep=args.keep, json_out=args.json, py_spy=args.py_spy,
                   clock_start=args.clock_start, private_redis=args.private_redis,
                   keepalive=args.keepalive)
    figures = run_city_day(opts, say=lambda line: print(line, flush=True))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(figures.data, indent=1, default=str), encoding="utf-8")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
