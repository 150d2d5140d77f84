"""The city day's services: a PostgreSQL database, Redis, the tokens, the two server processes, and
the CPU meters read from /proc."""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import resource
import secrets
import shutil
import subprocess
import time

from common import PYTHON, Server, free_port

from .plan import CLOCK_START, DAY, ROOT

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
mono = time.monotonic  # CLOCK_MONOTONIC: one clock for every process of the machine


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
