"""Helpers of the benchmarks: a real server on a loopback port with a fresh database, and tokens."""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MONDAY_9 = "2026-11-30T09:00:00+08:00"


def without_issue_limit(config: pathlib.Path) -> None:
    """Lift the per-kiosk issue limit (30/minute by default) in a bench's copy of config.toml: a
    bench replays a whole hall's kiosks through one token and measures the server, not the limit."""
    text = config.read_text(encoding="utf-8")
    marker = 'issue_rate_limit = "30/minute"'
    if marker in text:
        config.write_text(text.replace(marker, 'issue_rate_limit = "1000000/minute"'), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# How a bench or test serves: run.py (Werkzeug, or gevent's server when the config asks for it),
# or gunicorn with one worker, threads (the README's command before gevent) or gevent.
SERVERS = ("runpy", "runpy-gevent", "gunicorn-threads", "gunicorn-gevent")


def set_server_key(config: pathlib.Path, key: str, value: str) -> None:
    """Write ``[server] key = "value"`` into a copy of config.toml (the first such line, or a new one)."""
    text = config.read_text(encoding="utf-8")
    line = f'{key} = "{value}"'
    text, found = re.subn(rf'(?m)^{key}\s*=.*$', line, text, count=1)
    if not found:
        text = re.sub(r'(?m)^\[server\]\s*$', "[server]\n" + line, text, count=1)
    config.write_text(text, encoding="utf-8")


def set_async_mode(config: pathlib.Path, mode: str) -> None:
    set_server_key(config, "async_mode", mode)


def server_command(kind: str, port: int, threads: int = 32, connections: int = 5000,
                   run_py_args: tuple[str, ...] = (), keep_alive: int | None = None) -> list[str]:
    """The command line of a server of ``kind`` (see SERVERS) on 127.0.0.1:port.

    gunicorn reads HALL_CONFIG, HALL_DATABASE_URL and HALL_CLOCK from the environment; with
    threads every websocket holds one of ``threads`` for its whole life, with gevent a greenlet,
    and ``connections`` bounds the open connections (gunicorn's default of 1,000 is too few).
    run.py gets ``run_py_args`` (--config, --database, --clock…); when the config says gevent, it
    is started under gevent's monkey-patching, as run.py's own top lines do it. ``keep_alive``
    (seconds) is gunicorn's idle timeout of a kept-alive connection, as deploy/hall@.service sets it.
    """
    gunicorn = str(pathlib.Path(PYTHON).parent / "gunicorn")
    common = ["-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
              "--worker-connections", str(connections)]
    if keep_alive is not None:  # behind nginx: longer than its upstream keepalive_timeout
        common += ["--keep-alive", str(keep_alive)]
    if kind == "gunicorn-threads":
        return [gunicorn, *common, "--threads", str(threads), "hall.wsgi:app"]
    if kind == "gunicorn-gevent":
        return [gunicorn, *common, "-k", "gevent", "hall.wsgi:app"]
    if kind == "runpy":
        return [PYTHON, str(ROOT / "run.py"), *run_py_args, "--port", str(port)]
    if kind == "runpy-gevent":  # run.py patched from outside: what a gevent config makes run.py do
        boot = ("from gevent import monkey; monkey.patch_all(); import runpy, sys; "
                f"sys.argv = {[str(ROOT / 'run.py'), *run_py_args, '--port', str(port)]!r}; "
                f"runpy.run_path({str(ROOT / 'run.py')!r}, run_name='__main__')")
        return [PYTHON, "-c", boot]
    raise ValueError(f"unknown server kind {kind!r}; one of {SERVERS}")


class Server:
    """A hall server in a child process: gunicorn (production) or run.py, on its own database."""

    def __init__(self, workdir: pathlib.Path, port: int, config: pathlib.Path, database: str) -> None:
        self.workdir, self.port, self.config, self.database = workdir, port, config, database
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "HALL_CONFIG": str(self.config), "HALL_DATABASE_URL": self.database,
                "HALL_CLOCK": MONDAY_9, "HALL_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}

    def token(self, role: str, window: int | None = None, hall: str = "XS") -> str:
        args = [PYTHON, str(ROOT / "run.py"), "token", "create", "--role", role, "--hall", hall]
        if window is not None:
            args += ["--window", str(window)]
        out = subprocess.run(args, env=self.env(), cwd=self.workdir, check=True,
                             capture_output=True, text=True).stdout
        return out.strip().splitlines()[-1]

    def clerk_tokens(self, windows: range, hall: str = "XS") -> dict[int, str]:
        """A clerk token per window, made in one child process (run.py once per token is slow)."""
        script = (
            "import sys, json\n"
            "from hall.config import load_config\n"
            "from hall import runtime, tokens\n"
            "rt = runtime.start(load_config(sys.argv[1]), database_url=sys.argv[2])\n"
            "out = {}\n"
            "with rt.db.write() as s:\n"
            "    for n in json.loads(sys.argv[4]):\n"
            "        out[n] = tokens.create_token(s, rt.halls[sys.argv[3]], 'clerk', rt.clock.now(), window=n)\n"
            "rt.close()\n"
            "print(json.dumps(out))\n")
        import json
        out = subprocess.run([PYTHON, "-c", script, str(self.config), self.database, hall,
                              json.dumps(list(windows))], env=self.env(), cwd=self.workdir,
                             check=True, capture_output=True, text=True).stdout
        return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}

    def start(self, gunicorn: bool = True, threads: int = 32, kind: str | None = None) -> None:
        """Start ``kind`` (see SERVERS); without it, gunicorn with threads or run.py."""
        kind = kind or ("gunicorn-threads" if gunicorn else "runpy")
        if kind == "runpy" and async_mode_of(self.config) == "gevent":
            kind = "runpy-gevent"
        args = server_command(kind, self.port, threads=threads, run_py_args=("--clock", MONDAY_9))
        self.kind = kind
        self.proc = subprocess.Popen(args, env=self.env(), cwd=self.workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{self.url}/healthz", timeout=10).ok:
                    return
            time.sleep(0.2)
        raise RuntimeError("server did not come up within 60 s")

    def cpu_seconds(self) -> float:
        """CPU time of the server and its workers (gunicorn serves in a child process)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pids = [self.proc.pid]
        children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        for pid in pids:
            with contextlib.suppress(OSError):
                stat = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(stat[11]) + int(stat[12])) / ticks
        return total

    def stop(self) -> None:
        """Stop the server, then any worker that outlived it (by pid, from /proc)."""
        if self.proc and self.proc.poll() is None:
            children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            workers = [int(p) for p in children.read_text().split()] if children.exists() else []
            if getattr(self, "kind", "").startswith("gunicorn"):
                self.proc.send_signal(signal.SIGINT)  # quick shutdown: don't wait for open websockets
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            deadline = time.monotonic() + 5
            for pid in workers:
                while pathlib.Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def async_mode_of(config: pathlib.Path) -> str:
    import tomllib
    with open(config, "rb") as f:
        return tomllib.load(f).get("server", {}).get("async_mode", "threading")


@contextlib.contextmanager
def hall_server(config: pathlib.Path = ROOT / "config.toml", gunicorn: bool = True,
                database: str | None = None, kind: str | None = None) -> Iterator[Server]:
    """A started server on a copy of ``config``; ``kind`` gunicorn-gevent also sets async_mode."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hall-bench-"))
    shutil.copy(config, workdir / "config.toml")
    # config.toml names its holiday plan relative to itself.
    shutil.copytree(pathlib.Path(config).parent / "holidays", workdir / "holidays", dirs_exist_ok=True)
    without_issue_limit(workdir / "config.toml")
    if kind is not None:
        set_async_mode(workdir / "config.toml", "gevent" if kind.endswith("gevent") else "threading")
    server = Server(workdir, free_port(), workdir / "config.toml",
                    database or f"sqlite:///{workdir}/hall.db")
    subprocess.run([PYTHON, str(ROOT / "run.py"), "migrate"], env=server.env(), cwd=workdir,
                   check=True, capture_output=True)
    try:
        server.start(gunicorn=gunicorn, kind=kind)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def database_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL processes (the database's side of the
    requests; includes whatever else asks it at the same time, so measure on an idle database)."""
    import psutil
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] in ("postgres", "postmaster") and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total
