"""Personal data: a real server at DEBUG gets phones and ID numbers; none is found in clear in its
database, WAL, log or var/. Validation errors do not echo them; retention clears old ones."""
from __future__ import annotations

import datetime as dt
import pathlib

import requests

from server_process import ServerProcess
from hall import retention
from hall.models import Ticket
from factories import make_ticket

ID = "11010519491231002X"
BAD_ID = "110105194912310021"  # wrong check digit
PHONE = "13911112222"


def _found(root: pathlib.Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits


def test_no_phone_or_id_in_clear_anywhere(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    config = server.workdir / "config.toml"
    config.write_text(config.read_text().replace('log_level = "INFO"', 'log_level = "DEBUG"'))
    kiosk = {"Authorization": f"Bearer {server.token('kiosk')}"}
    server.start()
    try:
        url = f"{server.url}/api/v1/halls/XS/tickets"
        for body in ({"queue": "A", "id_number": ID, "phone": PHONE},
                     {"queue": "B", "id_number": ID.lower(), "phone": f"+86 {PHONE}"},
                     {"queue": "A", "phone": "139-1111-2222"}):
            assert requests.post(url, json=body, headers=kiosk, timeout=10).status_code == 201
        for body, field in (({"queue": "A", "id_number": BAD_ID}, "id_number"),
                            ({"queue": "A", "phone": PHONE + "9"}, "phone"),
                            ({"queue": "A", "id_number": ID + "123"}, "id_number"),
                            ({"queue": "A", "phone": PHONE * 2}, "phone"),
                            ({"queue": "A", "id_number": int(ID[:17])}, "id_number")):
            r = requests.post(url, json=body, headers=kiosk, timeout=10)
            assert r.status_code == 422 and r.json()["error"]["field"] == field
            assert ID[:17] not in r.text and PHONE not in r.text
    finally:
        server.stop()
    needles = [v.encode() for v in (ID, ID.lower(), BAD_ID, ID[:17], PHONE, PHONE[:3] + " " + PHONE[3:])]
    needles += [v.encode("utf-16-le") for v in (ID, PHONE)]
    assert (server.workdir / "hall.db").exists() and server.log.stat().st_size > 0
    assert _found(server.workdir, needles) == []  # hall.db, hall.db-wal, server.log, var/


def test_validation_errors_never_echo_personal_fields(client, token):
    for body in ({"queue": "A", "phone": [PHONE]}, {"queue": "A", "id_number": {"n": ID}},
                 {"queue": "A", "id_number": ID + "0000"}):
        r = client.post("/api/v1/halls/T1/tickets", json=body, headers=token("kiosk"))
        assert r.status_code == 422 and ID not in r.get_data(as_text=True)
        assert PHONE not in r.get_data(as_text=True)


def test_retention_clears_old_personal_data_and_keeps_the_statistics(rt, hall, frozen_clock):
    old = make_ticket(rt, hall, "A", id_number=ID, phone=PHONE)
    frozen_clock.advance(dt.timedelta(days=182).total_seconds())
    new = make_ticket(rt, hall, "A", id_number=ID, phone=PHONE)
    with rt.db.write() as session:
        assert retention.purge_personal_data(session, hall, rt.clock.now(), 0) == 0  # 0 = keep
        assert retention.purge_personal_data(session, hall, rt.clock.now(), 180) == 1
    with rt.db.read() as session:
        kept, cleared = session.get(Ticket, new.id), session.get(Ticket, old.id)
        assert kept.id_hash and kept.phone_masked == "139****2222"
        assert (cleared.id_hash, cleared.id_masked, cleared.phone_hash, cleared.phone_masked) == \
            (None, None, None, None)
        assert (cleared.number, cleared.status) == ("A001", old.status)
    assert retention.purge_all(rt) == 0  # idempotent
    assert rt.settings.server.personal_data_days == 180


def test_retention_also_clears_old_appointments(rt, hall, frozen_clock):
    import sqlalchemy as sa
    from hall.appointments import Appointment
    now = rt.clock.now()
    with rt.db.write() as session:
        session.add(Appointment(hall_id=hall.id, queue_id=hall.queue_ids["B"], code="TESTCODE",
                                day=now.date(), slot_start=now, slot_end=now, booked_at=now,
                                id_hash="h" * 64, id_masked="110***********002X",
                                phone_hash="p" * 64, phone_masked="138****5678"))
    frozen_clock.advance(dt.timedelta(days=200).total_seconds())
    with rt.db.write() as session:
        assert retention.purge_personal_data(session, hall, rt.clock.now(), 180) == 1
    with rt.db.read() as session:
        row = session.execute(sa.select(Appointment.id_hash, Appointment.phone_masked)).one()
    assert tuple(row) == (None, None)
