"""A kiosk's ticket over HTTP prints on its printer, and the reply says when that printer cannot."""
from __future__ import annotations

import shutil
import threading
import time

from devices.service import start_devices
from hall import tokens
from hall.app import create_app
from support import hall_dict, settings_for

PRINTER = {"name": "printer-k1", "kind": "printer", "kiosk": "K1"}


def _until(predicate, timeout=5.0):
    tick, deadline = threading.Event(), time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        tick.wait(0.01)


def test_kiosk_ticket_prints_and_a_printer_fault_is_reported(tmp_path, migrated_template, frozen_clock):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, [hall_dict(devices=[PRINTER])]), clock=frozen_clock)
    rt = app.extensions["hall"]
    rt.devices = start_devices(rt)
    try:
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls["T1"], "kiosk", rt.clock.now())
        client, headers = app.test_client(), {"Authorization": f"Bearer {value}"}
        printer = rt.devices.devices[("T1", "printer-k1")].worker
        r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A", "kiosk": "K1"}, headers=headers)
        assert r.status_code == 201 and r.get_json()["printer"]["ok"] is True
        _until(lambda: len(printer.printed) == 1)
        printer.fail()  # paper out
        _until(lambda: rt.devices.printer_status("T1", "K1")["ok"] is False)
        r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A", "kiosk": "K1"}, headers=headers)
        assert r.status_code == 201  # the ticket is issued all the same
        assert r.get_json()["printer"] == {**r.get_json()["printer"], "ok": False, "state": "paper_out"}
        printer.recover()
        _until(lambda: len(printer.printed) == 2)  # the job waited and printed once paper was back
    finally:
        rt.close()
