"""A real hall server in a child process (python run.py) on a loopback port, for end-to-end tests."""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
MONDAY_9 = "2026-11-30T09:00:00+08:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python run.py`` on the reference hall (config.toml) with its own database and port."""

    def __init__(self, workdir: pathlib.Path, database: str | None = None,
                 clock: str = MONDAY_9) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if not (workdir / "config.toml").exists():
            shutil.copy(ROOT / "config.toml", workdir / "config.toml")
            # config.toml names its holiday plan relative to itself.
            shutil.copytree(ROOT / "holidays", workdir / "holidays", dirs_exist_ok=True)
        self.database = database or f"sqlite:///{workdir}/hall.db"
        self.clock = clock
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "server.log"

    def env(self) -> dict[str, str]:
        return {**os.environ, "HALL_CONFIG": str(self.workdir / "config.toml"),
                "HALL_DATABASE_URL": self.database, "PYTHONPATH": str(ROOT)}

    def run_py(self, *args: str) -> str:
        result = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], env=self.env(),
                                cwd=self.workdir, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"run.py {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout

    def token(self, role: str, window: int | None = None, hall: str = "XS") -> str:
        extra = ["--window", str(window)] if window is not None else []
        return self.run_py("token", "create", "--role", role, "--hall", hall, *extra) \
            .strip().splitlines()[-1]

    def start(self, clock: str | None = None) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "--port", str(self.port),
                 "--clock", clock or self.clock], env=self.env(), cwd=self.workdir,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{self.url}/healthz", timeout=5).ok:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within 60 s: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
