"""Helpers of the benchmarks: a real server on a loopback port with a fresh database, and tokens."""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
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

    def start(self, gunicorn: bool = True, threads: int = 32) -> None:
        if gunicorn:
            args = [str(pathlib.Path(PYTHON).parent / "gunicorn"), "-w", "1", "--threads",
                    str(threads), "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                    "hall.wsgi:app"]
        else:
            args = [PYTHON, str(ROOT / "run.py"), "--port", str(self.port), "--clock", MONDAY_9]
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
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextlib.contextmanager
def hall_server(config: pathlib.Path = ROOT / "config.toml", gunicorn: bool = True,
                database: str | None = None) -> Iterator[Server]:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hall-bench-"))
    shutil.copy(config, workdir / "config.toml")
    server = Server(workdir, free_port(), workdir / "config.toml",
                    database or f"sqlite:///{workdir}/hall.db")
    subprocess.run([PYTHON, str(ROOT / "run.py"), "migrate"], env=server.env(), cwd=workdir,
                   check=True, capture_output=True)
    try:
        server.start(gunicorn=gunicorn)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
