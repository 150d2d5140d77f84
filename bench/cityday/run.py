"""One city day: set up the database, Redis and servers, run the load-generator workers, measure,
tear down, and report."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import multiprocessing
import multiprocessing.connection
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Any

from common import free_port

from .evaluate import Figures
from .load import WorkerPlan, run_worker
from .plan import (CLOCK_START, KIOSKS_PER_HALL, LAST_HALL_TIME, MAKE_DAY, OPEN_AT, assign_servers,
                   client_mix, load_day, write_city_config)
from .report import report
from .services import (PG_ADMIN, REDIS, CityServer, Meter, create_database, drop_database, machine_cpu,
                       make_tokens, mono, raise_fd_limit, self_cpu, start_private_redis)


@dataclasses.dataclass
class Options:
    halls: int = 50
    speed: float = 60.0
    clients: int = 2000
    minutes: float | None = None
    visitors: int = 900
    seed: int = 1
    workers: int = 2
    routing: str = "hall"
    pg: str = PG_ADMIN
    database: str | None = None
    redis: str = REDIS
    mobile_share: float = 0.5
    drain_s: float = 30.0
    max_day_s: float | None = None
    connect_concurrency: int = 16
    make_day: pathlib.Path = MAKE_DAY
    keep: bool = False
    json_out: str | None = None
    private_redis: bool = False
    py_spy: str | None = None
    clock_start: str = CLOCK_START
    keepalive: bool = True


def run_city_day(opts: Options, say=print) -> Figures:
    t_start = mono()
    fd_limit = raise_fd_limit()
    load0 = os.getloadavg()
    visitors = load_day(opts.halls, opts.visitors, opts.seed, opts.minutes, opts.make_day)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="city-day-"))
    redis_proc = None
    own_db = opts.database is None
    database = opts.database
    servers: list[CityServer] = []
    procs: list[multiprocessing.Process] = []
    conns: list = []
    figures = None
    try:
        if opts.private_redis:
            redis_url, redis_proc = start_private_redis()
            opts = dataclasses.replace(opts, redis=redis_url)
        config, city, model = write_city_config(workdir, opts.halls, opts.redis)
        codes = [h["code"] for h in city]
        missing = {v.hall for v in visitors} - set(codes)
        if missing:
            raise SystemExit(f"the workload has halls the city has not: {sorted(missing)}")
        window_queues = {w["number"]: tuple(w["queues"]) for w in model["windows"]}
        avg_service = {q["prefix"]: float(q.get("avg_service_s", 600)) for q in model["queues"]}
        levels = collections.Counter(h.get("level") for h in city)
        specs, mobile_cap = client_mix(city, opts.clients)
        n_servers = 2
        assign_servers(specs, codes, n_servers, opts.routing)
        home = {c: i % n_servers for i, c in enumerate(codes)}
        kinds = collections.Counter(s.kind for s in specs)
        say(f"city day: {len(city)} halls ({', '.join(f'{n} {lv}' for lv, n in levels.items())}; "
            f"{len(window_queues)} windows each), {len(visitors):,} visitors of make_day.py --halls {opts.halls} "
            f"--visitors {opts.visitors} --seed {opts.seed}"
            + (f", first {opts.minutes:g} minutes" if opts.minutes is not None else ", the whole day")
            + f", at {opts.speed:g}×")
        say(f"clients: {len(specs) + mobile_cap:,} = {kinds['kiosk']} kiosk pages + {kinds['screen']} hall screens + "
            f"{kinds['dashboard']} dashboards + {kinds['city']} city views + {kinds['window']} window screens + "
            f"up to {mobile_cap:,} mobile tickets ({opts.mobile_share:.0%} of visitors open theirs while there is room)")
        if own_db:
            database = create_database(opts.pg)
        # tokens: 2 kiosks, a screen, a manager per hall, a clerk per window, a city token per
        # city/district view
        wanted: list[tuple[str, str, int | None]] = []
        for c in codes:
            wanted += [("kiosk", c, None)] * KIOSKS_PER_HALL + [("screen", c, None), ("manager", c, None)]
            wanted += [("clerk", c, n) for n in sorted(window_queues)]
        city_tops = sorted({s.hall for s in specs if s.kind == "city"})
        wanted += [("city", c, None) for c in city_tops]
        t_tokens = mono()
        made = iter(make_tokens(config, database, wanted))
        tokens: dict[str, Any] = {"kiosk": collections.defaultdict(list), "screen": {}, "manager": {},
                                  "clerk": collections.defaultdict(dict), "city": {}}
        for role, hall, window in wanted:
            token = next(made)
            if role == "kiosk":
                tokens["kiosk"][hall].append(token)
            elif role == "clerk":
                tokens["clerk"][hall][window] = token
            else:
                tokens[role][hall] = token
        tokens = {k: dict(v) for k, v in tokens.items()}
        t_tokens = mono() - t_tokens
        t_servers = mono()
        for i in range(n_servers):
            servers.append(CityServer(workdir, free_port(), config, database, opts.speed, f"server{i + 1}",
                                      opts.clock_start))
            servers[-1].launch()
        for server in servers:
            server.wait_ready()
        t_servers = mono() - t_servers
        say(f"servers: {n_servers} × gunicorn -k gevent -w 1 --worker-connections 5000 'hall.wsgi:app' "
            f"(async_mode gevent) on PostgreSQL {database.rsplit('/', 1)[1]}, "
            f"{'a private ' if redis_proc else ''}Redis {opts.redis} "
            f"(message queue, rate-limit storage); requests routed {'by hall (ip_hash)' if opts.routing == 'hall' else 'alternately'}; "
            f"fd limit {fd_limit}")
        # the load generator: whole halls per worker
        plans = []
        by_hall = collections.defaultdict(list)
        for v in visitors:
            by_hall[v.hall].append(v)
        for i in range(opts.workers):
            mine = codes[i::opts.workers]
            mine_set = set(mine)
            hall_specs = [s for s in specs if s.kind != "city" and s.hall in mine_set]
            city_specs = [s for j, s in enumerate(x for x in specs if x.kind == "city") if j % opts.workers == i]
            share = sum(len(by_hall[c]) for c in mine) / max(1, len(visitors))
            plans.append(WorkerPlan(
                index=i, halls=mine, visitors=sorted((v for c in mine for v in by_hall[c]),
                                                     key=lambda v: (v.arrive_s, v.index)),
                specs=hall_specs + city_specs, mobile_cap=round(mobile_cap * share),
                mobile_share=opts.mobile_share, seed=opts.seed, urls=[s.url for s in servers], home=home,
                routing=opts.routing, speed=opts.speed, window_queues=window_queues,
                avg_service_s=avg_service, tokens=tokens, connect_concurrency=opts.connect_concurrency,
                keepalive=opts.keepalive))
        ctx = multiprocessing.get_context("fork")
        for plan in plans:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=run_worker, args=(plan, child), name=f"city-day-{plan.index}", daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        ready = [_expect(conn, "ready", 900) for conn in conns]
        connected = sum(r["connected"] for r in ready)
        t_connect = max(r["seconds"] for r in ready)
        say(f"setup: database and {len(wanted):,} tokens {t_tokens:.1f} s, servers {t_servers:.1f} s, {connected}/{len(specs)} fixed "
            f"clients connected in {t_connect:.1f} s"
            + (f"; connect failures: {[f for r in ready for f in r['failures']][:3]}" if connected < len(specs) else ""))
        # go
        import sqlalchemy as sa
        engine = sa.create_engine(database, pool_size=1, max_overflow=0)
        pg_meter = Meter()
        db_name = sa.make_url(database).database

        def pg_pids() -> list[int]:
            with engine.connect() as c:
                return [r[0] for r in c.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": db_name})]

        redis_cpu0 = _redis_cpu(opts.redis)
        t0 = mono() + 1.0
        server_cpu0 = [s.cpu_seconds() for s in servers]
        pg_meter.sample(pg_pids())
        pg0 = pg_meter.total()
        machine0 = machine_cpu()
        self0 = self_cpu()
        clock = _hall_clock(ready, t0, opts.speed)
        # the hall clock must stay within the day: stop the replay before 23:50 hall time
        limit_s = min(((LAST_HALL_TIME - c).total_seconds() / opts.speed for c in clock.values()),
                      default=3600.0)
        if opts.max_day_s is not None:
            limit_s = min(limit_s, opts.max_day_s)
        spies = []
        if opts.py_spy:  # sample each serving process (gunicorn's worker) during the day
            exe = shutil.which("py-spy") or os.environ.get("PY_SPY") or "py-spy"
            pathlib.Path(opts.py_spy).mkdir(parents=True, exist_ok=True)
            for server in servers:
                spies.append(subprocess.Popen(
                    [exe, "record", "--nonblocking", "--rate", "20", "--format", "raw", "--duration", "3600",
                     "-o", f"{opts.py_spy}/{server.name}.txt", "--pid", str(server.pids()[-1])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for conn in conns:
            conn.send(("go", t0))
        say(f"day: starts with the hall clock at "
            + ", ".join(f"{c.astimezone(OPEN_AT.tzinfo):%H:%M:%S} (server{i + 1})" for i, c in sorted(clock.items()))
            + (f", skew {abs((clock[0] - clock[1]).total_seconds()):.0f} s hall time" if len(clock) == 2 else "")
            + f"; stopped if not over after {limit_s:.0f} s")
        done: dict[int, dict] = {}
        while len(done) < len(conns):
            for conn in multiprocessing.connection.wait(
                    [c for i, c in enumerate(conns) if i not in done], timeout=2.0):
                i = conns.index(conn)
                done[i] = _expect(conn, "done", 0)
            with contextlib.suppress(Exception):
                pg_meter.sample(pg_pids())
            if mono() - t0 > limit_s:
                for i, conn in enumerate(conns):
                    if i not in done:
                        conn.send(("stop",))
                for i, conn in enumerate(conns):
                    if i not in done:
                        done[i] = _expect(conn, "done", 300)
        t_day_end = max(d["t_done"] for d in done.values())
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(60)
        server_cpu_day = [s.cpu_seconds() - c for s, c in zip(servers, server_cpu0)]
        machine_day = machine_cpu()
        pg_meter.sample(pg_pids())
        pg_day = pg_meter.total() - pg0
        redis_cpu_day = _redis_cpu(opts.redis) - redis_cpu0
        with engine.connect() as c:
            final = dict(c.execute(sa.text("SELECT code, event_seq FROM halls")).all())
        for conn in conns:
            conn.send(("final", final, opts.drain_s))
        results = [_expect(conn, "result", opts.drain_s + 300) for conn in conns]
        t_end = mono()
        server_cpu_total = [s.cpu_seconds() for s in servers]
        with engine.connect() as c:
            stats = dict(c.execute(sa.text(
                "SELECT status, count(*) FROM tickets GROUP BY status")).all())
        engine.dispose()
        self_day = self_cpu() - self0
        for proc in procs:
            proc.join(30)
        figures = report(opts, visitors, city, codes, specs, mobile_cap, ready, done, results, final, stats,
                         home, t0, t_day_end, t_end, t_start, server_cpu_day, server_cpu_total, pg_day,
                         redis_cpu_day, machine0, machine_day, self_day, load0, say)
        return figures
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for server in servers:
            server.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                redis_proc.wait(10)
        if own_db and database:
            with contextlib.suppress(Exception):
                drop_database(opts.pg, database)
        if opts.keep:
            say(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _expect(conn, what: str, timeout: float) -> Any:
    if timeout and not conn.poll(timeout):
        raise RuntimeError(f"a load-generator worker sent no {what!r} within {timeout:.0f} s")
    message = conn.recv()
    if message[0] == "error":
        raise RuntimeError(message[1])
    if message[0] != what:
        raise RuntimeError(f"expected {what!r} from a worker, got {message[0]!r}")
    return message[1]


def _redis_cpu(url: str) -> float:
    try:
        import redis
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        info = client.info("cpu")
        client.close()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:  # noqa: BLE001 - a figure, not a requirement
        return float("nan")


def _hall_clock(ready: list[dict], t0: float, speed: float) -> dict[int, dt.datetime]:
    """Each server's hall clock at t0, from the snapshots' ``at`` (the latest estimate of each)."""
    best: dict[int, dt.datetime] = {}
    for r in ready:
        for server, at, t in r["clock"]:
            with contextlib.suppress(ValueError):
                estimate = dt.datetime.fromisoformat(at) + dt.timedelta(seconds=(t0 - t) * speed)
                if server not in best or estimate > best[server]:
                    best[server] = estimate
    return best
