"""Two server processes on one PostgreSQL and one Redis: a screen on B sees a call made on A."""
from __future__ import annotations

import collections
import concurrent.futures
import threading
import time

import pytest
import requests
import socketio

from server_process import ServerProcess
from services import postgres_database, redis_url
from test_concurrency import _assert_gap_free

pytestmark = pytest.mark.services


@pytest.fixture
def pg_url():
    yield from postgres_database()


def _with_message_queue(server: ServerProcess, url: str) -> None:
    path = server.workdir / "config.toml"
    text = path.read_text()
    marker = '# message_queue = "redis://127.0.0.1:6379/0"'
    assert marker in text
    # One kiosk token issues for the whole test: lift the per-kiosk limit (30/minute).
    text = text.replace('issue_rate_limit = "30/minute"', 'issue_rate_limit = "100000/minute"')
    path.write_text(text.replace(marker, f'message_queue = "{url}"'))


def test_a_screen_on_one_process_sees_a_call_made_on_another(tmp_path, pg_url):
    queue_url = redis_url()
    a = ServerProcess(tmp_path / "a", database=pg_url)
    b = ServerProcess(tmp_path / "b", database=pg_url)
    for server in (a, b):
        _with_message_queue(server, queue_url)
    kiosk, manager, screen = a.token("kiosk"), a.token("manager"), a.token("screen")
    a.start()
    b.start()
    client = socketio.Client(reconnection=False)
    received: dict[str, list[dict]] = collections.defaultdict(list)
    got_call = threading.Event()
    arrived: dict[int, float] = {}

    @client.on("ticket.called", namespace="/live")
    def on_called(data):
        arrived[data["ticket"]["id"]] = time.perf_counter()
        received["ticket.called"].append(data)
        got_call.set()

    @client.on("snapshot", namespace="/live")
    def on_snapshot(data):
        received["snapshot"].append(data)

    try:
        client.connect(b.url, namespaces=["/live"], auth={"token": screen, "hall": "XS"},
                       transports=["websocket"], wait_timeout=10)
        deadline = time.monotonic() + 10
        while not received["snapshot"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received["snapshot"], "no snapshot from process B"
        k, m = {"Authorization": f"Bearer {kiosk}"}, {"Authorization": f"Bearer {manager}"}
        ticket = requests.post(f"{a.url}/api/v1/halls/XS/tickets", json={"queue": "B"}, headers=k,
                               timeout=10).json()
        sent = time.perf_counter()
        called = requests.post(f"{a.url}/api/v1/halls/XS/windows/15/call", headers=m,
                               timeout=10).json()["ticket"]
        assert called["id"] == ticket["id"]
        assert got_call.wait(10), "the screen on process B never heard of the call on process A"
        latency_ms = (arrived[ticket["id"]] - sent) * 1000
        event = received["ticket.called"][0]
        assert event["window"]["number"] == 15 and event["ticket"]["number"] == ticket["number"]
        assert "track_url" not in event["ticket"]  # a hall screen never gets a ticket's secret link
        print(f"call on A → screen on B: {latency_ms:.1f} ms")

        # Kiosks on both processes at once: one numbering, no duplicate, no gap.
        def issue(i: int) -> str:
            server = (a, b)[i % 2]
            return requests.post(f"{server.url}/api/v1/halls/XS/tickets",
                                 json={"queue": "AD"[i % 4 // 2]}, headers=k, timeout=30).json()["number"]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            numbers = list(pool.map(issue, range(200)))
        _assert_gap_free(numbers + [ticket["number"]])
    finally:
        client.disconnect()
        a.stop()
        b.stop()
