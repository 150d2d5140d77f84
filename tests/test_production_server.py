"""The production command of the README (gunicorn, threads) serves the API and real websockets."""
from __future__ import annotations

import sys
import threading

import requests
import socketio

from server_process import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from common import hall_server  # noqa: E402


def test_gunicorn_serves_websockets_and_live_events():
    with hall_server(gunicorn=True) as server:
        screen, kiosk, manager = server.token("screen"), server.token("kiosk"), server.token("manager")
        client = socketio.Client(reconnection=False)
        snapshot, called = threading.Event(), threading.Event()
        client.on("snapshot", lambda data: snapshot.set(), namespace="/live")
        client.on("ticket.called", lambda data: called.set(), namespace="/live")
        client.connect(server.url, namespaces=["/live"], auth={"token": screen, "hall": "XS"},
                       transports=["websocket"], wait_timeout=10)
        try:
            assert client.transport() == "websocket"
            assert snapshot.wait(10)
            r = requests.post(f"{server.url}/api/v1/halls/XS/tickets", json={"queue": "A"},
                              headers={"Authorization": f"Bearer {kiosk}"}, timeout=10)
            assert r.status_code == 201
            r = requests.post(f"{server.url}/api/v1/halls/XS/windows/1/call",
                              headers={"Authorization": f"Bearer {manager}"}, timeout=10)
            assert r.json()["ticket"]["number"] == "A001"
            assert called.wait(10)
        finally:
            client.disconnect()
