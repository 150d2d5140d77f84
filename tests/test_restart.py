"""Stop the server and start it again: waiting and called tickets are all there, numbering goes on."""
from __future__ import annotations

import signal

import pytest
import requests

from server_process import ServerProcess


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "kill"])
def test_restart_keeps_every_ticket_and_numbering_continues(tmp_path, sig):
    server = ServerProcess(tmp_path / "hall")
    kiosk, manager = server.token("kiosk"), server.token("manager")
    server.start()
    try:
        k = {"Authorization": f"Bearer {kiosk}"}
        m = {"Authorization": f"Bearer {manager}"}
        issued = [requests.post(f"{server.url}/api/v1/halls/XS/tickets", json={"queue": q},
                                headers=k, timeout=10).json() for q in "AAABBA"]
        called = requests.post(f"{server.url}/api/v1/halls/XS/windows/1/call", headers=m,
                               timeout=10).json()["ticket"]
        before = {t["id"]: requests.get(f"{server.url}/api/v1/tickets/{t['id']}", headers=m,
                                        timeout=10).json()["status"] for t in issued}
        server.stop(sig)
        server.start()
        after = {tid: requests.get(f"{server.url}/api/v1/tickets/{tid}", headers=m,
                                   timeout=10).json()["status"] for tid in before}
        assert after == before
        assert after[called["id"]] == "called"
        windows = requests.get(f"{server.url}/api/v1/halls/XS/windows", headers=m, timeout=10).json()
        assert next(w for w in windows["windows"] if w["number"] == 1)["ticket"] == called["number"]
        nxt = requests.post(f"{server.url}/api/v1/halls/XS/tickets", json={"queue": "A"}, headers=k,
                            timeout=10).json()
        assert nxt["number"] == "A005"  # A001–A004 before the restart
        queues = requests.get(f"{server.url}/api/v1/halls/XS/queues", headers=k, timeout=10).json()
        waiting = {q["prefix"]: q["waiting"] for q in queues["queues"]}
        assert (waiting["A"], waiting["B"]) == (4, 2)  # A001 was called; A002–A005 wait
    finally:
        server.stop()
