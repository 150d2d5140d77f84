"""[server] async_mode: gevent serves websockets (snapshot, then live events) as threading does."""
from __future__ import annotations

import sys
import threading

import pytest
import requests
import socketio

from server_process import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from common import hall_server  # noqa: E402


def _snapshot_and_called(server) -> None:
    screen, kiosk, manager = server.token("screen"), server.token("kiosk"), server.token("manager")
    client = socketio.Client(reconnection=False)
    snapshot, called = threading.Event(), threading.Event()
    got: dict = {}
    client.on("snapshot", lambda data: (got.setdefault("snapshot", data), snapshot.set()),
              namespace="/live")
    client.on("ticket.called", lambda data: (got.setdefault("called", data), called.set()),
              namespace="/live")
    client.connect(server.url, namespaces=["/live"], auth={"token": screen, "hall": "XS"},
                   transports=["websocket"], wait_timeout=10)
    try:
        assert client.transport() == "websocket"
        assert snapshot.wait(10)
        assert got["snapshot"]["hall"] == "XS" and got["snapshot"]["windows"]
        r = requests.post(f"{server.url}/api/v1/halls/XS/tickets", json={"queue": "A"},
                          headers={"Authorization": f"Bearer {kiosk}"}, timeout=10)
        assert r.status_code == 201
        r = requests.post(f"{server.url}/api/v1/halls/XS/windows/1/call",
                          headers={"Authorization": f"Bearer {manager}"}, timeout=10)
        assert r.json()["ticket"]["number"] == "A001"
        assert called.wait(10)
        assert got["called"]["ticket"]["number"] == "A001"
        assert got["called"]["seq"] > got["snapshot"]["seq"]
    finally:
        client.disconnect()


@pytest.mark.parametrize("kind", ["gunicorn-gevent", "runpy-gevent"])
def test_gevent_mode_serves_a_snapshot_and_live_events(kind):
    pytest.importorskip("gevent", reason="gevent mode needs the 'gevent' extra: pip install '.[gevent]'")
    with hall_server(kind=kind) as server:
        _snapshot_and_called(server)


def test_gevent_mode_refuses_an_unpatched_process(tmp_path):
    """A gevent config in a process gevent did not patch fails at start, naming the fix."""
    pytest.importorskip("gevent", reason="gevent mode needs the 'gevent' extra: pip install '.[gevent]'")
    from hall.realtime import check_async_mode, gevent_patched
    if gevent_patched():
        pytest.skip("this test process is gevent-patched")
    with pytest.raises(RuntimeError, match="gunicorn -k gevent"):
        check_async_mode("gevent")
    check_async_mode("threading")
