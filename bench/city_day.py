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
import array
import bisect
import collections
import contextlib
import csv
import dataclasses
import datetime as dt
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import pathlib
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import (PYTHON, Server, free_port, percentile, set_async_mode,  # noqa: E402
                    set_server_key, without_issue_limit)

MAKE_DAY = ROOT / "bench" / "workloads" / "make_day.py"  # ../shared/workloads, copied
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
DAY = "2026-11-30"  # a Monday
CLOCK_START = "07:30"  # the hall clock at server start (setup takes some of it); --clock-start
OPEN_AT = dt.datetime.fromisoformat(f"{DAY}T08:30:00+08:00")  # make_day's arrive_s = 0
HOURS = "00:00-23:59"  # one session all day: lunch arrivals, a slow replay, a --clock-start
LAST_HALL_TIME = dt.datetime.fromisoformat(f"{DAY}T23:50:00+08:00")  # stop before the day ends
RECALL_S, NO_SHOW_S = 60, 120  # hall seconds after the call (as bench/replay.py)
KIOSKS_PER_HALL = 2
NS = "/live"
mono = time.monotonic  # CLOCK_MONOTONIC: one clock for every process of the machine


# ----------------------------------------------------------------------------------------------
# The day and the city

@dataclasses.dataclass(frozen=True, slots=True)
class Visitor:
    index: int
    hall: str
    arrive_s: float
    queue: str
    priority: str
    service_s: float
    no_show: bool
    transfer_to: str
    rating: int | None


def load_day(halls: int, visitors: int = 900, seed: int = 1, minutes: float | None = None,
             make_day: pathlib.Path = MAKE_DAY) -> list[Visitor]:
    """make_day.py's CSV (its own command line), the first ``minutes`` of the day if given."""
    out = subprocess.run(["python3", str(make_day), "--halls", str(halls), "--visitors", str(visitors),
                          "--seed", str(seed)], check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    day = [Visitor(i, r["hall"], float(r["arrive_s"]), r["queue"], r["priority"], float(r["service_s"]),
                   r["no_show"] == "1", r["transfer_to"], int(r["rating"]) if r["rating"] else None)
           for i, r in enumerate(rows)]
    if minutes is not None:
        day = [v for v in day if v.arrive_s < minutes * 60]
    return day


def city_halls(model: dict, n: int) -> list[dict]:
    """bench/city_view.py's tree (HB → D1… → S…), codes renamed H01… in that order as make_day names
    its halls; parents renamed alike; one opening session all day."""
    from city_view import tree
    halls = tree(model, n)
    rename = {h["code"]: f"H{i + 1:02d}" for i, h in enumerate(halls)}
    for h in halls:
        h["original_code"] = h["code"]
        h["code"] = rename[h["code"]]
        if "parent" in h:
            h["parent"] = rename[h["parent"]]
        h["hours"] = {**h.get("hours", {}), "weekdays": [HOURS]}
    return halls


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_city_config(workdir: pathlib.Path, halls: int, redis_url: str) -> tuple[pathlib.Path, list[dict], dict]:
    """config.toml of the city in ``workdir`` (holiday plan beside it); its halls and model hall."""
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    model = data["halls"][0]
    city = city_halls(model, halls)
    lines = ["[server]"] + [f"{_toml_key(k)} = {_toml(v)}" for k, v in data["server"].items()]
    for h in city:
        lines += ["", "[[halls]]"] + [f"{_toml_key(k)} = {_toml(v)}" for k, v in h.items()
                                      if k != "original_code"]
    path = workdir / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(ROOT / "holidays", workdir / "holidays", dirs_exist_ok=True)
    without_issue_limit(path)
    set_async_mode(path, "gevent")
    set_server_key(path, "message_queue", redis_url)
    set_server_key(path, "rate_limit_storage", redis_url)
    set_server_key(path, "log_level", "WARNING")
    return path, city, model


# ----------------------------------------------------------------------------------------------
# Who is connected: the client mix

# Per hall, by level: kiosk pages, hall screens (综合屏), managers' dashboards, window screens (窗口屏
# pages above every window). Streets light their windows with LED strips on RS-485 (the devices
# process, not /live) and have one manager; evaluation pads and call pads are serial devices.
PER_HALL = {"city": (KIOSKS_PER_HALL, 4, 2, 52), "district": (KIOSKS_PER_HALL, 3, 2, 52),
            "street": (KIOSKS_PER_HALL, 2, 1, 0), "community": (1, 1, 1, 0)}
FIXED_SHARE_MAX = 0.45  # when fewer clients are asked for, the fixed ones are scaled to this share


@dataclasses.dataclass
class ClientSpec:
    kind: str  # kiosk | screen | dashboard | window | city
    hall: str  # the hall of its token (a city view: the top hall of what it sees)
    halls: tuple[str, ...]
    window: int | None = None
    server: int = 0


def client_mix(city: list[dict], clients: int) -> tuple[list[ClientSpec], int]:
    """The fixed clients (connected all day) and the room left for mobile tickets (phones)."""
    codes = [h["code"] for h in city]
    children: dict[str, list[str]] = collections.defaultdict(list)
    for h in city:
        if h.get("parent"):
            children[h["parent"]].append(h["code"])

    def below(code: str) -> tuple[str, ...]:
        out, todo = [], [code]
        while todo:
            c = todo.pop(0)
            out.append(c)
            todo += children[c]
        return tuple(out)

    want: dict[str, list[ClientSpec]] = collections.defaultdict(list)
    for h in city:
        kiosks, screens, dashboards, window_screens = PER_HALL[h.get("level", "street")]
        code = h["code"]
        want["screen"] += [ClientSpec("screen", code, (code,)) for _ in range(screens)]
        want["kiosk"] += [ClientSpec("kiosk", code, (code,)) for _ in range(kiosks)]
        want["dashboard"] += [ClientSpec("dashboard", code, (code,)) for _ in range(dashboards)]
        want["window"] += [ClientSpec("window", code, (code,), window=w) for w in range(1, window_screens + 1)]
        if h.get("level") in ("city", "district"):  # the city's and each district's supervision view
            want["city"].append(ClientSpec("city", code, below(code)))
    fixed = sum(len(v) for v in want.values())
    if fixed > FIXED_SHARE_MAX * clients:
        scale = FIXED_SHARE_MAX * clients / fixed
        # every hall keeps one hall screen (the bench also learns each hall's events there)
        firsts = list({spec.hall: spec for spec in reversed(want["screen"])}.values())[::-1]
        others = [spec for spec in want["screen"] if all(spec is not f for f in firsts)]
        kept = {kind: _spread(specs, round(len(specs) * scale)) for kind, specs in want.items() if kind != "screen"}
        kept["screen"] = firsts + _spread(others, round(len(want["screen"]) * scale) - len(firsts))
        if want["city"] and not kept["city"]:
            kept["city"] = want["city"][:1]
        want = kept
    specs = [s for kind in ("screen", "kiosk", "dashboard", "window", "city") for s in want.get(kind, [])]
    assert {s.hall for s in specs if s.kind == "screen"} == set(codes), "a hall without a hall screen"
    return specs, max(0, clients - len(specs))


def _spread(specs: list[ClientSpec], n: int) -> list[ClientSpec]:
    """n of ``specs`` spread evenly over the list (so over the halls)."""
    if n >= len(specs):
        return list(specs)
    if n <= 0:
        return []
    step = len(specs) / n
    return [specs[int(i * step)] for i in range(n)]


def assign_servers(specs: list[ClientSpec], codes: list[str], n_servers: int, routing: str) -> None:
    """In-hall devices to their hall's process (nginx ip_hash of the hall network); the rest alternate."""
    home = {c: i % n_servers for i, c in enumerate(codes)}
    turn = 0
    for spec in specs:
        if routing == "hall" and spec.kind in ("screen", "kiosk", "window"):
            spec.server = home[spec.hall]
        else:
            spec.server = turn % n_servers
            turn += 1


# ----------------------------------------------------------------------------------------------
# Setup: database, tokens, servers

def create_database(admin_url: str) -> str:
    import sqlalchemy as sa
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"hall_cityday_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    import sqlalchemy as sa
    name = sa.make_url(url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


TOKEN_SCRIPT = """
import sys, json
from hall.config import load_config
from hall import runtime, tokens
rt = runtime.start(load_config(sys.argv[1]), database_url=sys.argv[2])
out = []
with rt.db.write() as s:
    for role, hall, window in json.load(sys.stdin):
        out.append(tokens.create_token(s, rt.halls[hall], role, rt.clock.now(), window=window,
                                       label=f"city-day {role} {hall} {window or ''}".strip()))
rt.close()
print(json.dumps(out))
"""


def make_tokens(config: pathlib.Path, database: str, wanted: list[tuple[str, str, int | None]]) -> list[str]:
    """Tokens in one child process (migrates the new database and writes the halls first)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HALL_LOG_LEVEL": "WARNING"}
    result = subprocess.run([PYTHON, "-c", TOKEN_SCRIPT, str(config), database], input=json.dumps(wanted),
                            env=env, cwd=config.parent, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"making the tokens failed: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class CityServer(Server):
    """common.Server with the city's clock (``clock_start``, ``speed`` × faster), its log in a file."""

    def __init__(self, workdir: pathlib.Path, port: int, config: pathlib.Path, database: str,
                 speed: float, name: str, clock_start: str = CLOCK_START) -> None:
        super().__init__(workdir, port, config, database)
        self.speed, self.name, self.clock_start = speed, name, clock_start
        self.log = workdir / f"{name}.log"

    def env(self) -> dict[str, str]:
        return {**super().env(), "HALL_CLOCK": f"{DAY}T{self.clock_start}:00+08:00",
                "HALL_CLOCK_SPEED": repr(self.speed)}

    def launch(self) -> None:
        from common import server_command
        self.kind = "gunicorn-gevent"
        args = server_command(self.kind, self.port, connections=5000, keep_alive=75)  # as deploy/hall@.service
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, env=self.env(), cwd=self.workdir,
                                         stdout=subprocess.DEVNULL, stderr=log)

    def wait_ready(self, timeout: float = 120) -> None:
        import urllib.error
        import urllib.request
        deadline = mono() + timeout
        while mono() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=10) as r:
                    if r.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"server {self.name} did not come up in {timeout:.0f} s")

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.proc.pid, *kids]


def start_private_redis() -> tuple[str, subprocess.Popen]:
    """A redis-server of the run's own on a free port (no persistence): no other Hall server's
    events on its pub/sub channel, and its CPU is the run's alone."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis
    deadline = mono() + 20
    while True:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1)
            client.ping()
            client.close()
            return url, proc
        except Exception:  # noqa: BLE001 - not up yet
            if mono() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"redis-server ({exe}) did not start on port {port}") from None
            time.sleep(0.1)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the servers and workers inherit it
    return want


TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the machine since boot, from /proc/stat."""
    fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS, sum(fields[:8]) / TICKS


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU of processes that come and go (PostgreSQL backends): the last reading of every pid seen."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def sample(self, pids: list[int]) -> None:
        for pid in pids:
            value = proc_cpu(pid)
            if value is not None:
                self.first.setdefault(pid, value)
                self.last[pid] = value

    def total(self) -> float:
        return sum(self.last.values())


# ----------------------------------------------------------------------------------------------
# The load generator: one process owns whole halls (kiosks, clerks, their clients)

@dataclasses.dataclass
class WorkerPlan:
    index: int
    halls: list[str]
    visitors: list[Visitor]
    specs: list[ClientSpec]
    mobile_cap: int
    mobile_share: float
    seed: int
    urls: list[str]
    home: dict[str, int]
    routing: str
    speed: float
    window_queues: dict[int, tuple[str, ...]]
    avg_service_s: dict[str, float]
    tokens: dict[str, Any]
    connect_concurrency: int
    keepalive: bool = True


class Session:
    """One websocket connection of one client: what it was sent, from its snapshot on."""

    __slots__ = ("kind", "hall", "halls", "window", "ticket", "queue", "server", "snap", "end",
                 "seqs", "times", "extra_halls", "opened", "closed", "error", "snap_at", "snap_t", "top")

    def __init__(self, kind: str, hall: str, halls: tuple[str, ...], server: int, window: int | None = None,
                 ticket: int | None = None) -> None:
        self.kind, self.hall, self.halls, self.server = kind, hall, halls, server
        self.window, self.ticket, self.queue = window, ticket, None
        self.snap: dict[str, int] = {}  # hall → seq its snapshot covers
        self.end: dict[str, int] = {}  # hall → last seq meant for it (mobile: its ticket's last event)
        self.seqs, self.times = array.array("q"), array.array("d")
        self.extra_halls: dict[str, tuple[array.array, array.array]] = {}  # a city view: per hall
        self.opened = self.closed = 0.0
        self.error = ""
        self.snap_at, self.snap_t = "", 0.0
        self.top: dict[str, int] = {}  # hall → highest seq received

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


HEAD = re.compile(r'",\s*\{"seq":\s*(\d+),\s*"at":\s*"[^"]*",\s*"hall":\s*"([^"]*)"')
FINAL = ("done", "no_show", "cancelled")


def compact_event(name: str, message: dict) -> tuple:
    """(name, ticket id, ticket status, window number, queue prefix): which rooms it went to,
    exactly as hall.realtime.deliver decides it."""
    ticket = message.get("ticket")
    window = message.get("window")
    queue = message.get("queue")
    return (name,
            ticket.get("id") if isinstance(ticket, dict) else None,
            ticket.get("status") if isinstance(ticket, dict) else None,
            window.get("number") if isinstance(window, dict) else None,
            queue.get("prefix") if name == "queue.changed" and isinstance(queue, dict) else None)


def run_worker(plan: WorkerPlan, conn: multiprocessing.connection.Connection) -> None:
    import asyncio
    profile = os.environ.get("CITY_DAY_PROFILE")  # a directory: cProfile each worker into it
    try:
        if profile:
            import cProfile
            cProfile.runctx("asyncio.run(Worker(plan, conn).main())", globals(), locals(),
                            f"{profile}/worker{plan.index}.prof")
        else:
            asyncio.run(Worker(plan, conn).main())
    except BaseException as err:  # noqa: BLE001 - the parent must hear of it
        import traceback
        conn.send(("error", f"worker {plan.index}: {err!r}\n{traceback.format_exc()}"))
        raise


class HallSim:
    """A hall's kiosks and clerks as the load generator plays them."""

    def __init__(self, code: str, plan: WorkerPlan) -> None:
        self.code = code
        self.waiting = collections.Counter()  # queue → tickets waiting, as the answers tell it
        self.inflight = collections.Counter()  # queue → calls on their way that counted on it
        self.windows = plan.window_queues
        self.serving: dict[str, list[int]] = collections.defaultdict(list)
        for number in sorted(self.windows):
            for q in self.windows[number]:
                self.serving[q].append(number)
        self.idle = set(self.windows)
        self.visits: dict[int, dict] = {}  # ticket id → {"visitor", "step", "number"}
        self.waiters: dict[int, Any] = {}
        self.kiosks = None  # asyncio.Semaphore, made in the loop
        self.issued = self.arrived = self.refused = 0
        self.last_action = 0.0


class Worker:
    def __init__(self, plan: WorkerPlan, conn) -> None:
        self.plan, self.conn = plan, conn
        self.halls = {c: HallSim(c, plan) for c in plan.halls}
        self.sessions: list[Session] = []
        self.truth: dict[tuple[str, int], tuple] = {}
        self.issues: list[tuple] = []  # (hall, visitor, status, code, t_arrive, t_sent, t_answer, number)
        self.calls: list[tuple] = []  # (hall, window, ticket id | None, t_sent, t_answer, queue, status, server)
        self.actions: collections.Counter = collections.Counter()  # (action, status or error code)
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)  # other actions, s
        self.mobile_live = self.mobile_opened = self.mobile_skipped = self.mobile_peak = 0
        self.connected = self.connected_peak = 0
        self.connected_samples: list[tuple[float, int]] = []
        self.disconnects = self.not_issued = 0
        self.foreign: collections.Counter = collections.Counter()
        self.connect_failures: list[str] = []
        self.loop_lag: list[float] = []
        self.rng = random.Random(plan.seed * 1000 + plan.index)
        self.turn = 0
        self.stopping = False
        self.tasks: set = set()
        self.clients: list = []

    # -- plumbing

    def spawn(self, coro) -> None:
        import asyncio
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.actions[("task-error", repr(task.exception())[:120])] += 1

    def server_of(self, hall: str) -> int:
        if self.plan.routing == "hall":
            return self.plan.home[hall]
        self.turn += 1
        return self.turn % len(self.plan.urls)

    async def post(self, hall: str, path: str, token: str, body: dict | None = None,
                   action: str = "") -> tuple[int, Any, float, float, int]:
        """POST; retried only when it surely changed nothing (503 database_unavailable, refused).
        The time sent is the first attempt's: a retry is part of what the kiosk or clerk waits."""
        import asyncio

        import aiohttp
        t_sent = mono()
        for _attempt in range(4):
            server = self.server_of(hall)
            try:
                async with self.http.post(self.plan.urls[server] + path, json=body,
                                          headers={"Authorization": f"Bearer {token}"}) as r:
                    data = await r.json(content_type=None)
                    status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
                status, data = 0, {"error": {"code": type(err).__name__}}
            t_answer = mono()
            self.halls[hall].last_action = t_answer
            code = None
            if status == 0 or status >= 300:
                error = data.get("error") if isinstance(data, dict) else None
                code = error.get("code") if isinstance(error, dict) else str(data)[:60]
            self.actions[(action, status if code is None else f"{status} {code}")] += 1
            if status == 503 or (status == 0 and code == "ClientConnectorError"):
                await asyncio.sleep(0.5)
                continue
            return status, data, t_sent, t_answer, server
        return status, data, t_sent, t_answer, server

    # -- the day

    async def main(self) -> None:
        import asyncio

        import aiohttp
        for code in self.halls:
            self.halls[code].kiosks = asyncio.Semaphore(KIOSKS_PER_HALL)
        # As nginx talks to its upstream: kept-alive connections (deploy/nginx-hall.conf's
        # `keepalive`), or with --no-keepalive a new connection per request (nginx without it).
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=not self.plan.keepalive),
            timeout=aiohttp.ClientTimeout(total=120))
        self.ws_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             timeout=aiohttp.ClientTimeout(total=None))
        loop = asyncio.get_running_loop()
        try:
            t_connect = mono()
            sem = asyncio.Semaphore(self.plan.connect_concurrency)
            fixed = [LiveClient(self, spec.kind, spec.hall, spec.halls, spec.server, window=spec.window,
                                number=i) for i, spec in enumerate(self.plan.specs)]
            self.clients = fixed
            ready = await asyncio.gather(*(c.start(sem) for c in fixed))
            self.conn.send(("ready", {"connected": sum(ready), "wanted": len(fixed),
                                      "seconds": mono() - t_connect,
                                      "failures": self.connect_failures[:10],
                                      "clock": [(s.server, s.snap_at, s.snap_t) for c in fixed
                                                for s in c.sessions[:1] if s.snap_at]}))
            message = await loop.run_in_executor(None, self.conn.recv)
            if message[0] != "go":
                return
            t0 = message[1]
            cpu0 = self_cpu()
            lag = loop.create_task(self.watch_lag())
            day = loop.create_task(self.day(t0))
            stop = loop.run_in_executor(None, self.conn.recv)  # "stop" (too late) or nothing
            await asyncio.wait([day, stop], return_when=asyncio.FIRST_COMPLETED)
            if not day.done():
                self.stopping = True
                day.cancel()
                await asyncio.sleep(0)  # the kiosk queues see it before anything else is sent
            t_done = max((h.last_action for h in self.halls.values()), default=mono())
            self.conn.send(("done", {"t_done": t_done, "issues": self.issues, "calls": self.calls,
                                     "actions": dict(self.actions), "latencies": dict(self.latencies),
                                     "stopped": self.stopping, "cpu_day": self_cpu() - cpu0,
                                     "arrived": sum(h.arrived for h in self.halls.values()),
                                     "unfinished": self.unfinished()}))
            message = await stop
            if message[0] == "stop":  # the "stop" that ended the day; the final seqs follow
                message = await loop.run_in_executor(None, self.conn.recv)
            final, drain_s = message[1], message[2]
            await self.drain(final, drain_s)
            lag.cancel()
            for client in self.clients:
                await client.close()
            cpu = self_cpu()
            self.conn.send(("result", {
                "sessions": [s.summary() for s in self.sessions],
                "truth": self.truth, "cpu_total": cpu, "cpu_day_and_drain": cpu - cpu0,
                "mobile": {"opened": self.mobile_opened, "skipped": self.mobile_skipped,
                           "peak": self.mobile_peak},
                "connected_peak": self.connected_peak, "connected_samples": self.connected_samples,
                "disconnects": self.disconnects, "connect_failures": self.connect_failures[:20],
                "loop_lag": self.loop_lag, "actions": dict(self.actions), "foreign": dict(self.foreign)}))
        finally:
            await self.http.close()
            await self.ws_http.close()

    async def watch_lag(self) -> None:
        import asyncio
        while True:
            t = mono()
            await asyncio.sleep(0.1)
            self.loop_lag.append(mono() - t - 0.1)
            if len(self.loop_lag) % 10 == 0:
                self.connected_samples.append((mono(), self.connected))

    def unfinished(self) -> int:
        return sum(1 for h in self.halls.values() for v in h.visits.values() if v["step"] != "done")

    async def day(self, t0: float) -> None:
        import asyncio
        speed = self.plan.speed
        for v in self.plan.visitors:  # sorted by arrival
            delay = t0 + v.arrive_s / speed - mono()
            if delay > 0:
                await asyncio.sleep(delay)
            self.halls[v.hall].arrived += 1
            self.spawn(self.arrive(v, t0 + v.arrive_s / speed))
        # The day ends when every visitor was answered at the kiosk, every window is idle and nobody
        # waits. A hall whose counts say someone waits while every window is idle lost an answer:
        # it is dispatched again, and given up after 30 s.
        stuck_since: dict[str, float] = {}
        given_up: set[str] = set()
        while True:
            await asyncio.sleep(0.2)
            busy = False
            for hall in self.halls.values():
                if hall.issued + hall.refused < hall.arrived or len(hall.idle) < len(hall.windows):
                    busy = True
                    stuck_since.pop(hall.code, None)
                    continue
                waiting = [q for q, n in hall.waiting.items() if n > 0]
                if not waiting:
                    continue
                since = stuck_since.setdefault(hall.code, mono())
                if mono() - since < 30:
                    busy = True
                    for q in waiting:
                        self.dispatch(hall, q)
                elif hall.code not in given_up:
                    given_up.add(hall.code)
                    self.actions[("stuck", f"{hall.code} counts {dict(hall.waiting)} waiting, all idle")] += 1
            if not busy:
                return

    async def arrive(self, v: Visitor, due: float) -> None:
        hall = self.halls[v.hall]
        token = self.plan.tokens["kiosk"][v.hall][v.index % KIOSKS_PER_HALL]
        body = {"queue": v.queue, "priority": v.priority, "channel": "kiosk",
                "kiosk": f"K{v.index % KIOSKS_PER_HALL + 1}"}
        async with hall.kiosks:
            if self.stopping:  # the replay was stopped: whoever still queues at the kiosk goes home
                self.not_issued += 1
                return
            status, data, t_sent, t_answer, _ = await self.post(v.hall, f"/api/v1/halls/{v.hall}/tickets",
                                                                token, body, "issue")
        number = data.get("number") if status == 201 and isinstance(data, dict) else None
        self.issues.append((v.hall, v.index, status, None if number else str(data)[:200], due, t_sent,
                            t_answer, number))
        if status != 201 or not number:
            hall.refused += 1
            return
        hall.issued += 1
        tid = data["id"]
        hall.visits[tid] = {"visitor": v, "step": 1, "number": number}
        waiter = hall.waiters.pop(tid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        hall.waiting[data["queue"]] += 1
        self.dispatch(hall, data["queue"])
        if self.rng.random() < self.plan.mobile_share:
            if self.mobile_live < self.plan.mobile_cap and not self.stopping:
                secret = data["track_url"].split("s=", 1)[1].split("&", 1)[0]
                self.mobile_live += 1
                self.mobile_opened += 1
                self.mobile_peak = max(self.mobile_peak, self.mobile_live)
                self.turn += 1
                server = (self.turn % len(self.plan.urls))
                client = LiveClient(self, "mobile", v.hall, (v.hall,), server, ticket=tid, secret=secret)
                self.clients.append(client)
                self.spawn(client.start(None))
            else:
                self.mobile_skipped += 1

    def reserve(self, hall: HallSim, number: int) -> str | None:
        for q in self.windows_queues(number):
            if hall.waiting[q] - hall.inflight[q] > 0:
                hall.inflight[q] += 1
                return q
        return None

    def windows_queues(self, number: int) -> tuple[str, ...]:
        return self.plan.window_queues[number]

    def dispatch(self, hall: HallSim, queue: str) -> None:
        """Idle windows serving ``queue``, in number order, call while someone is left for them."""
        if self.stopping:
            return
        for number in hall.serving[queue]:
            if hall.waiting[queue] - hall.inflight[queue] <= 0:
                return
            if number in hall.idle:
                hall.idle.discard(number)
                hall.inflight[queue] += 1
                self.spawn(self.clerk(hall, number, queue))

    async def call(self, hall: HallSim, number: int, reserved: str | None) -> dict | None:
        token = self.plan.tokens["clerk"][hall.code][number]
        status, data, t_sent, t_answer, server = await self.post(
            hall.code, f"/api/v1/halls/{hall.code}/windows/{number}/call", token, None, "call")
        if reserved is not None:
            hall.inflight[reserved] -= 1
        ticket = data.get("ticket") if status == 200 and isinstance(data, dict) else None
        self.calls.append((hall.code, number, ticket["id"] if ticket else None, t_sent, t_answer,
                           ticket["queue"] if ticket else None, status, server))
        if ticket:
            hall.waiting[ticket["queue"]] -= 1
        return ticket

    async def act(self, hall: HallSim, number: int, verb: str, body: dict | None = None) -> dict | None:
        token = self.plan.tokens["clerk"][hall.code][number]
        status, data, t_sent, t_answer, _ = await self.post(
            hall.code, f"/api/v1/halls/{hall.code}/windows/{number}/{verb}", token, body, verb)
        self.latencies[verb].append(t_answer - t_sent)
        return data.get("ticket") if status == 200 and isinstance(data, dict) else None

    async def visit(self, hall: HallSim, ticket_id: int) -> dict | None:
        """The visit of a called ticket (its issue answer may still be on its way)."""
        import asyncio
        if ticket_id in hall.visits:
            return hall.visits[ticket_id]
        waiter = hall.waiters.setdefault(ticket_id, asyncio.get_running_loop().create_future())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), 30)
        return hall.visits.get(ticket_id)

    async def clerk(self, hall: HallSim, number: int, reserved: str | None) -> None:
        """A window from its first call until it goes idle: serve, call next (which finishes the visitor)."""
        import asyncio
        speed = self.plan.speed
        ticket = await self.call(hall, number, reserved)
        while ticket is not None and not self.stopping:
            visit = await self.visit(hall, ticket["id"])
            at = mono()
            v: Visitor | None = visit["visitor"] if visit else None
            finishes_by_call = True
            if visit is None:  # unknown visitor: serve as its queue usually takes
                await asyncio.sleep(self.plan.avg_service_s[ticket["queue"]] / speed)
            elif visit["step"] == 2:  # the second step of a transfer
                await asyncio.sleep(max(0.0, at + self.plan.avg_service_s[ticket["queue"]] / speed - mono()))
            elif v.no_show:
                await asyncio.sleep(max(0.0, at + RECALL_S / speed - mono()))
                await self.act(hall, number, "recall")
                await asyncio.sleep(max(0.0, at + NO_SHOW_S / speed - mono()))
                await self.act(hall, number, "no-show")
                visit["step"] = "done"
                finishes_by_call = False
            elif v.transfer_to:
                await asyncio.sleep(max(0.0, at + v.service_s / speed - mono()))
                moved = await self.act(hall, number, "transfer", {"queue": v.transfer_to})
                visit["step"] = 2
                if moved is not None:
                    hall.waiting[moved["queue"]] += 1
                    self.dispatch(hall, moved["queue"])
                finishes_by_call = False
            else:
                await asyncio.sleep(max(0.0, at + v.service_s / speed - mono()))
            if self.stopping:
                break
            reserved = self.reserve(hall, number)
            if finishes_by_call or reserved is not None:
                ticket = await self.call(hall, number, reserved)  # 下一位: finishes the visitor first
                if finishes_by_call and visit is not None:
                    visit["step"] = "done"
                if ticket is None and reserved is not None:
                    await asyncio.sleep(0.2)  # someone counted on was taken by a call on its way
            else:
                ticket = None
        hall.idle.add(number)
        # something may have come for this window while its last call was on its way
        for q in self.windows_queues(number):
            if hall.waiting[q] - hall.inflight[q] > 0:
                self.dispatch(hall, q)
                break

    async def drain(self, final: dict[str, int], drain_s: float) -> None:
        """Wait until every hall-room client still connected has its halls' last event (≤ ``drain_s``),
        then a moment for the window and ticket rooms, which are sent the same stream."""
        import asyncio
        deadline = mono() + drain_s
        while mono() < deadline:
            behind = 0
            for client in self.clients:
                s = client.current
                if s is None or client.done or s.kind in ("mobile", "window") or not s.snap:
                    continue
                behind += sum(1 for hall in s.halls if s.top.get(hall, s.snap.get(hall, 0)) < final.get(hall, 0))
            if not behind:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)


class LiveClient:
    """A /live client over one websocket (Engine.IO 4, Socket.IO 5): auth, snapshot, events, pings.

    Reconnects like the pages do after an unexpected close; a mobile ticket reconnects after its
    ticket was transferred (ticket.js) and closes once the ticket is done.
    """

    def __init__(self, worker: Worker, kind: str, hall: str, halls: tuple[str, ...], server: int,
                 window: int | None = None, ticket: int | None = None, secret: str | None = None,
                 number: int = 0) -> None:
        self.worker, self.kind, self.hall, self.halls, self.server = worker, kind, hall, halls, server
        self.number = number
        self.window, self.ticket, self.secret = window, ticket, secret
        self.sessions: list[Session] = []
        self.current: Session | None = None
        self.ws = None
        self.done = False
        self.reader = None

    def auth(self) -> dict:
        t = self.worker.plan.tokens
        if self.kind == "mobile":
            return {"ticket": self.ticket, "secret": self.secret}
        if self.kind == "city":
            return {"token": t["city"][self.hall], "city": True}
        if self.kind == "kiosk":
            token = t["kiosk"][self.hall][self.number % KIOSKS_PER_HALL]
        elif self.kind == "dashboard":
            token = t["manager"][self.hall]
        else:  # hall screens and window screens
            token = t["screen"][self.hall]
        auth = {"token": token, "hall": self.hall}
        if self.window is not None:
            auth["window"] = self.window
        return auth

    async def start(self, sem) -> bool:
        import asyncio
        import contextlib as cl

        import aiohttp
        w = self.worker
        session = Session(self.kind, self.hall, self.halls, self.server, self.window, self.ticket)
        snapshot = asyncio.get_running_loop().create_future()
        snapshot.add_done_callback(lambda f: f.cancelled() or f.exception())  # a late failure is no news
        url = w.plan.urls[self.server].replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ctx = sem if sem is not None else cl.nullcontext()
        try:
            async with ctx:
                self.ws = await asyncio.wait_for(w.ws_http.ws_connect(
                    url, autoping=True, max_msg_size=0, compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10)), 60)
                opening = await asyncio.wait_for(self.ws.receive(), 60)
                if not isinstance(opening.data, str) or not opening.data.startswith("0"):
                    raise ConnectionError(f"no Engine.IO open packet: {opening.data!r}"[:200])
                await self.ws.send_str(f"40{NS}," + json.dumps(self.auth()))
                session.opened = mono()
                self.current = session
                self.sessions.append(session)
                w.sessions.append(session)
                self.reader = asyncio.get_running_loop().create_task(self.read(session, snapshot))
                await asyncio.wait_for(asyncio.shield(snapshot), 60)
        except Exception as err:  # noqa: BLE001 - counted and reported
            w.connect_failures.append(f"{self.kind} {self.hall}: {err!r}"[:300])
            session.error = "connect failed: " + repr(err)[:200]  # not evaluated, even if a snapshot came late
            if self.ws is not None:
                await self.ws.close()
            self.done = True
            if self.kind == "mobile":
                w.mobile_live -= 1
            return False
        w.connected += 1
        w.connected_peak = max(w.connected_peak, w.connected)
        return True

    async def read(self, s: Session, snapshot) -> None:
        import aiohttp
        w = self.worker
        truth = w.truth
        seqs_append, times_append = s.seqs.append, s.times.append
        mobile = self.kind == "mobile"
        city = self.kind == "city"
        ws = self.ws
        top = s.top
        halls = set(self.halls)
        ended = "closed"
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                d = msg.data
                if d == "2":
                    await ws.send_str("3")
                    continue
                if not d.startswith('42/live,["'):
                    if d.startswith("44/live"):
                        s.error = d[:200]
                        if not snapshot.done():
                            snapshot.set_exception(ConnectionError(d[:200]))
                        ended = "refused"
                        break
                    continue
                t = mono()
                j = d.index('"', 10)
                name = d[10:j]
                if name == "snapshot":
                    self.on_snapshot(s, json.loads(d[8:])[1], t)
                    if not snapshot.done():
                        snapshot.set_result(None)
                    if mobile and s.end:
                        ended = "final"
                        break
                    continue
                m = HEAD.match(d, j)
                if m is None:
                    message = json.loads(d[8:])[1]
                    seq, hall = message["seq"], message["hall"]
                else:
                    seq, hall, message = int(m.group(1)), m.group(2), None
                if hall not in halls:
                    # Another installation's event: Redis pub/sub channels are global to the Redis
                    # server (not per db) and Flask-SocketIO's is always "flask-socketio", so every
                    # Hall server on this Redis emits everyone's events into its own rooms.
                    w.foreign[(self.kind, hall, name)] += 1
                    continue
                if seq > top.get(hall, 0):
                    top[hall] = seq
                key = (hall, seq)
                if key not in truth or mobile:
                    message = message or json.loads(d[8:])[1]
                    truth.setdefault(key, compact_event(name, message))
                if city:
                    arrays = s.extra_halls.get(hall)
                    if arrays is None:
                        arrays = s.extra_halls[hall] = (array.array("q"), array.array("d"))
                    arrays[0].append(seq)
                    arrays[1].append(t)
                    continue
                seqs_append(seq)
                times_append(t)
                if mobile:
                    ticket = message.get("ticket") if isinstance(message, dict) else None
                    if not isinstance(ticket, dict) or ticket.get("id") != self.ticket:
                        continue
                    status = ticket.get("status")
                    if (name in ("ticket.finished", "ticket.no_show", "ticket.cancelled")
                            and status in FINAL):
                        s.end[hall] = seq
                        ended = "final"
                        break
                    if name == "ticket.transferred" or (name == "ticket.finished" and status == "waiting"):
                        s.end[hall] = seq
                        ended = "moved"
                        break
        except Exception as err:  # noqa: BLE001
            s.error = repr(err)[:200]
            ended = "error"
        s.closed = mono()
        if self.current is s:
            self.current = None
        w.connected -= 1 if s.snap else 0
        if not snapshot.done():
            snapshot.set_exception(ConnectionError(s.error or "closed before the snapshot"))
        if self.done:
            return
        if ended in ("final", "moved"):
            await ws.close()
            if ended == "final":
                self.done = True
                w.mobile_live -= 1
                return
            w.spawn(self.start(None))  # ticket.js: reconnect to hear the new queue
            return
        if ended in ("closed", "error", "refused"):
            # closed by the server or the network: nothing after its last event is owed to it
            # (the page reconnects and gets a new snapshot; the disconnect is counted)
            s.end = {hall: max(s.top.get(hall, 0), s.snap.get(hall, 0)) for hall in s.snap}
            w.disconnects += 1
            await ws.close()
            if not w.stopping:
                w.spawn(self.start(None))

    def on_snapshot(self, s: Session, snap: dict, t: float) -> None:
        if self.kind == "city":
            for row in snap.get("halls", []):
                s.snap[row["code"]] = row.get("seq") or 0
            s.halls = tuple(s.snap)
        else:
            s.snap[snap["hall"]] = snap["seq"]
            s.snap_at, s.snap_t = snap.get("at", ""), t
            ticket = snap.get("ticket")
            if self.kind == "mobile" and isinstance(ticket, dict):
                s.queue = ticket.get("queue")
                if ticket.get("status") in FINAL:
                    s.end[snap["hall"]] = snap["seq"]

    async def close(self) -> None:
        self.done = True
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await self.reader


# ----------------------------------------------------------------------------------------------
# Evaluation: what every client should have got, what it got, how late

@dataclasses.dataclass
class Figures:
    lines: list[str]
    data: dict
    ok: bool


def evaluate(sessions: list[dict], truth: dict, final: dict[str, int], calls: list[tuple],
             home: dict[str, int], routing: str) -> dict:
    # rooms → seqs, per hall, from the events as the clients received them (first copy of each)
    by_window: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    by_ticket: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    by_queue: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    called: dict[str, dict[tuple[int, int], list[int]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for (hall, seq), (name, ticket, _status, window, queue) in sorted(truth.items()):
        if window is not None:
            by_window[(hall, window)].append(seq)
        if ticket is not None:
            by_ticket[(hall, ticket)].append(seq)
        if queue is not None:
            by_queue[(hall, queue)].append(seq)
        if name == "ticket.called":
            called[hall][(ticket, window)].append(seq)
    # each ticket.called event ↔ the call that made it: same hall, ticket and window, in order
    sent: dict[tuple[str, int], tuple[float, float, int]] = {}
    mine: dict[tuple[str, int, int], list[tuple]] = collections.defaultdict(list)
    for c in calls:
        if c[2] is not None:
            mine[(c[0], c[2], c[1])].append(c)
    unmatched = 0
    for hall, keys in called.items():
        for (ticket, window), seqs in keys.items():
            made = sorted(mine.get((hall, ticket, window), []), key=lambda c: c[3])
            unmatched += abs(len(made) - len(seqs))
            for seq, c in zip(seqs, made):
                sent[(hall, seq)] = (c[3], c[4], c[7])
    expected_n = delivered_n = duplicates = misrouted = late_seen = 0
    missing_by_kind: collections.Counter = collections.Counter()
    expected_by_kind: collections.Counter = collections.Counter()
    lat_sent: dict[str, list[float]] = collections.defaultdict(list)
    lat_answer: dict[str, list[float]] = collections.defaultdict(list)
    lat_cross: dict[str, list[float]] = collections.defaultdict(list)
    out_of_order = resyncs = 0
    reordered: set[tuple[str, int]] = set()
    for s in sessions:
        if s["error"].startswith("connect failed") or not s["snap"]:
            continue  # never connected: counted as a connect failure
        kind = s["kind"]
        per_hall = ([(h, *s["extra_halls"][h]) if h in s["extra_halls"] else (h, array.array("q"), array.array("d"))
                     for h in s["halls"]] if kind == "city" else [(s["hall"], s["seqs"], s["times"])])
        for hall, seqs, times in per_hall:
            if hall not in s["snap"]:
                continue
            lo, hi = s["snap"][hall], s["end"].get(hall, final.get(hall, 0))
            got: dict[int, float] = {}
            hall_room = kind in ("screen", "kiosk", "dashboard", "city")
            previous = shown = lo  # shown: the seq a hall page (live.js) is at
            for seq, t in zip(seqs, times):
                if seq in got:
                    duplicates += 1
                    continue
                got[seq] = t
                if lo < seq < previous:
                    out_of_order += 1
                    reordered.add((hall, seq))
                previous = max(previous, seq)
                if hall_room and seq > shown:
                    if seq > shown + 1:  # live.js: a gap → emit("resync"), a new snapshot
                        resyncs += 1
                        shown = max(shown, seq)
                    else:
                        shown = seq
            if kind in ("screen", "kiosk", "dashboard", "city"):
                expected = range(lo + 1, hi + 1)
            elif kind == "window":
                expected = _between(by_window.get((hall, s["window"]), []), lo, hi)
            else:  # mobile: its ticket's room and its queue's room
                expected = sorted(set(_between(by_ticket.get((hall, s["ticket"]), []), lo, hi))
                                  | set(_between(by_queue.get((hall, s["queue"]), []), lo, hi)))
            wanted = set(expected)
            expected_by_kind[kind] += len(wanted)
            for seq in wanted:
                t = got.get(seq)
                if t is None:
                    missing_by_kind[kind] += 1
                    continue
                delivered_n += 1
                call = sent.get((hall, seq))
                if call is not None:
                    ms_sent, ms_answer = (t - call[0]) * 1000, (t - call[1]) * 1000
                    lat_sent[kind].append(ms_sent)
                    lat_answer[kind].append(ms_answer)
                    lat_cross["same process" if s["server"] == call[2] else "other process"].append(ms_sent)
            expected_n += len(wanted)
            misrouted += sum(1 for seq in got if lo < seq <= hi and seq not in wanted)
            late_seen += sum(1 for seq in got if seq > hi)
    return {"expected": expected_n, "delivered": delivered_n, "duplicates": duplicates,
            "misrouted": misrouted, "after_end": late_seen, "out_of_order": out_of_order,
            "reordered_events": len(reordered), "resyncs": resyncs,
            "missing_by_kind": dict(missing_by_kind), "expected_by_kind": dict(expected_by_kind),
            "lat_sent": dict(lat_sent), "lat_answer": dict(lat_answer), "lat_cross": dict(lat_cross),
            "calls_matched": len(sent), "calls_unmatched": unmatched}


def _between(seqs: list[int], lo: int, hi: int) -> list[int]:
    return seqs[bisect.bisect_right(seqs, lo):bisect.bisect_right(seqs, hi)]


# ----------------------------------------------------------------------------------------------
# The run

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


def _ms(values: list[float]) -> str:
    if not values:
        return f"{0:>9} {'–':>9} {'–':>9} {'–':>9}"
    return (f"{len(values):>9,} {percentile(values, 50):>9.1f} {percentile(values, 99):>9.1f} "
            f"{max(values):>9.1f}")


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


def report(opts, visitors, city, codes, specs, mobile_cap, ready, done, results, final, stats, home,
           t0, t_day_end, t_end, t_start, server_cpu_day, server_cpu_total, pg_day, redis_cpu_day,
           machine0, machine_day, self_day, load0, say) -> Figures:
    issues = [i for d in done.values() for i in d["issues"]]
    calls = [c for d in done.values() for c in d["calls"]]
    actions = collections.Counter()
    for d in done.values():
        actions.update({tuple(k) if isinstance(k, list) else k: v for k, v in d["actions"].items()})
    truth: dict = {}
    for r in results:
        for key, value in r["truth"].items():
            truth.setdefault(key, value)
    sessions = [s for r in results for s in r["sessions"]]
    ev = evaluate(sessions, truth, final, calls, home, opts.routing)
    issued = [i for i in issues if i[2] == 201 and i[7]]
    refused = [i for i in issues if not (i[2] == 201 and i[7])]
    numbers = collections.Counter((i[0], i[7]) for i in issued)
    duplicate_numbers = sum(n - 1 for n in numbers.values() if n > 1)
    n_vis = max(1, len(issued))  # CPU per visitor: per visitor who got a ticket
    issue_ms = [(i[6] - i[5]) * 1000 for i in issued]
    kiosk_wait_ms = [(i[5] - i[4]) * 1000 for i in issues]
    call_ms = [(c[4] - c[3]) * 1000 for c in calls if c[6] == 200]
    call_with_ms = [(c[4] - c[3]) * 1000 for c in calls if c[6] == 200 and c[2] is not None]
    other_ms: dict[str, list[float]] = collections.defaultdict(list)
    for d in done.values():
        for verb, values in d["latencies"].items():
            other_ms[verb] += [v * 1000 for v in values]
    day_s = t_day_end - t0
    arrivals_s = max((v.arrive_s for v in visitors), default=0) / opts.speed
    lat_all_sent = [x for v in ev["lat_sent"].values() for x in v]
    lat_all_answer = [x for v in ev["lat_answer"].values() for x in v]
    share = ev["delivered"] / ev["expected"] if ev["expected"] else float("nan")
    mobile = {k: sum(r["mobile"][k] for r in results) for k in ("opened", "skipped", "peak")}
    unfinished = sum(d["unfinished"] for d in done.values())
    arrived = sum(d["arrived"] for d in done.values())
    stopped = any(d["stopped"] for d in done.values())
    worker_cpu_day = sum(d["cpu_day"] for d in done.values())
    worker_cpu_all = sum(r["cpu_day_and_drain"] for r in results)
    lags = sorted(x * 1000 for r in results for x in r["loop_lag"])
    disconnects = sum(r["disconnects"] for r in results)
    foreign: collections.Counter = collections.Counter()
    for r in results:
        foreign.update(r["foreign"])
    failures = [f for r in results for f in r["connect_failures"]]
    # connected at once: per worker samples every second; add up the workers' by time slot
    slots: dict[int, int] = collections.defaultdict(int)
    for r in results:
        per_slot: dict[int, int] = {}
        for t, n in r["connected_samples"]:
            per_slot[int(t - t0)] = n
        for k, n in per_slot.items():
            slots[k] += n
    in_day = [n for k, n in slots.items() if 0 <= k <= day_s]
    busy_day = machine_day[0] - machine0[0]
    wall_day = machine_day[1] - machine0[1]
    server_day = sum(server_cpu_day)
    lines = []
    lines.append(f"day: {day_s:.1f} s wall from the first arrival to the last visitor done "
                 f"(arrivals span {arrivals_s:.1f} s){' — STOPPED before the end' if stopped else ''}; "
                 f"whole run {t_end - t_start:.0f} s")
    lines.append(f"visitors {len(visitors):,}"
                 + (f" ({arrived:,} arrived before the stop, {arrived - len(issues):,} of them still at a kiosk)"
                    if stopped else "")
                 + f": issued {len(issued):,}, refused or failed {len(refused):,}, "
                 f"duplicate numbers {duplicate_numbers}, not finished {unfinished}; tickets in the database: "
                 + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.items())))
    lines.append(f"calls {len(calls):,} ({sum(1 for c in calls if c[2] is not None):,} with a ticket); "
                 f"other clerk actions: " + ", ".join(f"{k} {len(v):,}" for k, v in sorted(other_ms.items())))
    bad = {f"{a} {s}": n for (a, s), n in actions.items() if not (s in (200, 201))}
    if bad:
        lines.append(f"unexpected answers: {bad}")
    lines.append(f"{'latency, ms':<44}{'n':>9} {'p50':>9} {'p99':>9} {'max':>9}")
    lines.append(f"{'issue (POST /tickets, sent → answered)':<44}{_ms(issue_ms)}")
    lines.append(f"{'  kiosk queueing (arrival → sent, 2 kiosks)':<44}{_ms(kiosk_wait_ms)}")
    lines.append(f"{'call (POST …/call, sent → answered)':<44}{_ms(call_ms)}")
    lines.append(f"{'  calls that called a ticket':<44}{_ms(call_with_ms)}")
    for verb in sorted(other_ms):
        lines.append(f"{'  ' + verb:<44}{_ms(other_ms[verb])}")
    lines.append(f"{'call → ticket.called delivered (from sent)':<44}{_ms(lat_all_sent)}")
    lines.append(f"{'call → ticket.called delivered (from answer)':<44}{_ms(lat_all_answer)}")
    for kind in ("screen", "kiosk", "dashboard", "window", "mobile", "city"):
        if ev["lat_sent"].get(kind):
            lines.append(f"{'  at ' + kind + ' clients (from sent)':<44}{_ms(ev['lat_sent'][kind])}")
    if True:
        for where in ("same process", "other process"):
            if ev["lat_cross"].get(where):
                lines.append(f"{'  client on the ' + where + ' as the call':<44}{_ms(ev['lat_cross'][where])}")
    lines.append(f"delivered {ev['delivered']:,}/{ev['expected']:,} ({100 * share:.2f} %); missing by kind "
                 f"{ev['missing_by_kind'] or 0}; duplicates {ev['duplicates']}, misrouted {ev['misrouted']}; "
                 f"arrived after a higher seq {ev['out_of_order']:,} times ({ev['reordered_events']:,} events), "
                 f"so hall pages would have resynced {ev['resyncs']:,} times; calls matched to their event "
                 f"{ev['calls_matched']:,} (unmatched {ev['calls_unmatched']})")
    if foreign:
        by_hall = collections.Counter()
        for (_kind, hall, _name), n in foreign.items():
            by_hall[hall] += n
        lines.append(f"foreign events (another Hall installation on the same Redis: pub/sub channels are "
                     f"per server, not per db): {sum(foreign.values()):,} received and set aside, by hall "
                     f"{dict(by_hall.most_common(5))}")
    lines.append(f"clients: connected at once during the day mean {statistics_mean(in_day):,.0f}, peak "
                 f"{max(in_day, default=0):,}; mobile tickets opened {mobile['opened']:,} (at most "
                 f"{mobile_cap:,} at once; {mobile['skipped']:,} visitors found no room); unexpected "
                 f"disconnects {disconnects}; failed connects {len(failures)}"
                 + (f" e.g. {failures[0]}" if failures else ""))
    lines.append(f"load generator: {len(results)} workers, event-loop lag p50 {percentile(lags, 50):.1f} ms, "
                 f"p99 {percentile(lags, 99):.1f} ms, max {max(lags, default=float('nan')):.1f} ms")
    lines.append(f"{'CPU, seconds (first arrival → last visitor)':<44}{'day':>9} {'ms/visitor':>10}")
    cpu_rows = [("servers (2 gunicorn trees, /proc)", server_day),
                *((f"  server{i + 1}", c) for i, c in enumerate(server_cpu_day)),
                ("PostgreSQL backends of the run's database", pg_day),
                ("Redis (the whole server)", redis_cpu_day),
                ("load generator (workers + main)", worker_cpu_day + self_day),
                ("machine, all processes (/proc/stat)", busy_day)]
    for name, value in cpu_rows:
        lines.append(f"{name:<44}{value:>9.1f} {1000 * value / n_vis:>10.1f}")
    lines.append(f"machine: {busy_day / max(1e-9, wall_day):.0%} of its {os.cpu_count()} cores busy during the day "
                 f"(others' processes: {busy_day - server_day - pg_day - max(0, redis_cpu_day if redis_cpu_day == redis_cpu_day else 0) - worker_cpu_day - self_day:.0f} s); "
                 f"servers since start {sum(server_cpu_total):.0f} s; load average "
                 f"{load0[0]:.2f} → {os.getloadavg()[0]:.2f}")
    p99 = percentile(lat_all_sent, 99)
    targets = [("day ≤ 10 min wall", day_s <= 600 and not stopped,
                f"{day_s:.0f} s" + (", stopped before the day was over" if stopped else "")),
               ("call → delivery p99 ≤ 200 ms", p99 <= 200, f"{p99:.0f} ms"),
               ("100 % delivered", ev["delivered"] == ev["expected"] and ev["expected"] > 0, f"{100 * share:.2f} %")]
    lines.append("targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'} ({value})"
                                         for name, ok, value in targets))
    for line in lines:
        say(line)
    data = {"visitors": len(visitors), "arrived": arrived, "issued": len(issued), "refused": len(refused),
            "duplicate_numbers": duplicate_numbers, "unfinished": unfinished, "stopped": stopped,
            "day_s": day_s, "arrivals_s": arrivals_s, "run_s": t_end - t_start,
            "issue_ms": _pcts(issue_ms), "kiosk_wait_ms": _pcts(kiosk_wait_ms), "call_ms": _pcts(call_ms),
            "call_with_ticket_ms": _pcts(call_with_ms),
            "other_ms": {k: _pcts(v) for k, v in other_ms.items()},
            "delivery_from_sent_ms": _pcts(lat_all_sent), "delivery_from_answer_ms": _pcts(lat_all_answer),
            "delivery_by_kind_ms": {k: _pcts(v) for k, v in ev["lat_sent"].items()},
            "delivery_by_process_ms": {k: _pcts(v) for k, v in ev["lat_cross"].items()},
            "expected": ev["expected"], "delivered": ev["delivered"], "delivered_share": share,
            "missing_by_kind": ev["missing_by_kind"], "expected_by_kind": ev["expected_by_kind"],
            "duplicates": ev["duplicates"], "misrouted": ev["misrouted"], "out_of_order": ev["out_of_order"],
            "reordered_events": ev["reordered_events"], "resyncs": ev["resyncs"],
            "foreign_events": sum(foreign.values()),
            "connected_mean": statistics_mean(in_day), "connected_peak": max(in_day, default=0),
            "mobile": mobile, "mobile_cap": mobile_cap, "disconnects": disconnects,
            "connect_failures": len(failures), "clients_fixed": len(specs),
            "cpu_s": dict(cpu_rows), "machine_busy_share": busy_day / max(1e-9, wall_day),
            "loop_lag_ms": _pcts(lags), "answers": {f"{a} {s}": n for (a, s), n in actions.items()},
            "tickets_by_status": stats, "final_seq_total": sum(final.values()),
            "targets": {name: ok for name, ok, _ in targets}}
    ok = (len(issued) == len(visitors) and not stopped and ev["expected"] > 0
          and ev["delivered"] == ev["expected"] and unfinished == 0)
    return Figures(lines, data, ok)


def statistics_mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _pcts(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values, default=float("nan"))}


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
