"""A real hall server on a loopback port and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import threading

import pytest
from werkzeug.serving import make_server

from support import MONDAY_9, ROOT, settings_for
from hall import staff, tokens
from hall.app import create_app
from hall.clock import Clock

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_chromium() -> None:
    if not pathlib.Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("HALL_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app behind werkzeug on a fixed port; stop() and start() again simulate a restart."""

    def __init__(self, app, port: int) -> None:
        self.app, self.port, self.url = app, port, f"http://127.0.0.1:{port}"
        self._server = None

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and close every live connection (clients see the transport drop)."""
        self._server.shutdown()
        self._server.server_close()
        # abort, no wait: a long-polling client cannot drain its queue once the listener is gone.
        eio = self.app.extensions["hall.socketio"].server.eio
        for sock in list(eio.sockets.values()):
            sock.close(wait=False, abort=True)


@pytest.fixture
def hall_server(tmp_path, migrated_template):
    _need_chromium()
    if not (ROOT / "hall/static/vendor/socket.io.min.js").exists():
        subprocess.run([str(ROOT / "bin/vendor-assets")], check=True, cwd=ROOT)
    shutil.copy(migrated_template, tmp_path / "hall.db")
    port = _free_port()
    app = create_app(settings_for(tmp_path), database_url=f"sqlite:///{tmp_path}/hall.db",
                     clock=Clock(MONDAY_9), base_url=f"http://127.0.0.1:{port}")
    rt = app.extensions["hall"]
    hall = rt.halls["T1"]
    with rt.db.write() as session:
        made = {role: tokens.create_token(session, hall, role, rt.clock.now())
                for role in ("kiosk", "screen", "manager")}
        staff.set_password(session, hall, "clerk01", "secret-pass-1")
    server = Server(app, port)
    server.start()
    server.tokens = made
    yield server
    try:
        server.stop()
    except Exception:
        pass
    rt.close()


@pytest.fixture
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    return take
