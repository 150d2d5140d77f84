"""Appointments (预约): slots and quotas, the booking window, the rules at their boundaries, check-in, no-shows."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
import sqlalchemy as sa

from hall import appointment_checkin, appointments, runtime as runtime_mod, tokens
from hall.appointments import Appointment, AppointmentStatus
from hall.errors import DomainError
from hall.models import Ticket
from support import MONDAY_9, hall_dict, settings_for

CST = dt.timezone(dt.timedelta(hours=8))
HOLIDAY = dt.date(2026, 12, 3)        # a Thursday
MAKEUP = dt.date(2026, 12, 12)        # a Saturday worked (调休)
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(n: int) -> str:
    body = f"34060219900101{n:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _W)) % 11]


ID1, ID2, PHONE = id_number(1), id_number(2), "13812345678"


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=CST)


def booking_hall() -> dict:
    hall = hall_dict(calendar={"holidays": [HOLIDAY], "workdays": [MAKEUP]})
    hall["queues"][1]["appointments"] = {"slot_minutes": 30, "per_slot": 2}
    return hall


@pytest.fixture
def brt(tmp_path, migrated_template, frozen_clock):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    rt = runtime_mod.start(settings_for(tmp_path, [booking_hall()]), clock=frozen_clock,
                           base_url="http://hall.test")
    yield rt
    rt.close()


def book(rt, day=dt.date(2026, 12, 1), start="09:00", who=ID1, queue="B"):
    with rt.db.write() as session:
        a = appointments.book(session, rt.halls["T1"], queue, day, start, who, PHONE,
                              rt.clock.now(), rt.privacy_key)
        return a.code


def check_in(rt, **kwargs):
    with rt.db.write() as session:
        done = appointment_checkin.check_in(session, rt.halls["T1"], "test", rt.clock.now(),
                                            privacy_key=rt.privacy_key, **kwargs)
        return done.ticket.view, done.late, done.appointment.status


def status(rt, code):
    with rt.db.read() as session:
        return appointments.get_by_code(session, code).status


def refused(rt, fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        fn(rt, *args, **kwargs)
    return err.value


# Slots ---------------------------------------------------------------------------------------

def test_slots_follow_the_opening_sessions(brt):
    hall = brt.halls["T1"]
    slots = appointments.slots_on(hall, "B", dt.date(2026, 12, 1))
    assert [s.label for s in slots][:2] == ["08:30", "09:00"] and len(slots) == 7 + 8
    assert "12:00" not in [s.label for s in slots] and slots[-1].label == "17:00"
    assert appointments.slots_on(hall, "B", HOLIDAY) == []
    assert appointments.slots_on(hall, "B", dt.date(2026, 12, 5)) == []  # a plain Saturday
    assert len(appointments.slots_on(hall, "B", MAKEUP)) == 15
    with pytest.raises(DomainError, match="takes no appointments"):
        appointments.slots_on(hall, "A", dt.date(2026, 12, 1))


def test_booking_window_is_1_to_5_working_days_over_a_weekend_and_a_holiday(brt):
    # Monday 30 Nov: Tue 1, Wed 2, (Thu 3 holiday), Fri 4, (weekend), Mon 7, Tue 8.
    days = appointments.bookable_days(brt.halls["T1"], brt.clock.now())
    assert days == [dt.date(2026, 12, d) for d in (1, 2, 4, 7, 8)]
    assert refused(brt, book, day=dt.date(2026, 11, 30), start="17:00").field == "date"  # today
    err = refused(brt, book, day=dt.date(2026, 12, 9))
    assert err.code == "outside_booking_window" and "2026-12-08" in err.message
    assert "closed" in refused(brt, book, day=HOLIDAY).message
    assert "closed" in refused(brt, book, day=dt.date(2026, 12, 5)).message
    assert book(brt, day=dt.date(2026, 12, 8))
    assert book(brt, day=dt.date(2026, 12, 1), who=ID2)


def test_the_window_moves_at_midnight(brt, frozen_clock):
    frozen_clock.set(at(30, 23, 59, month=11))
    assert appointments.bookable_days(brt.halls["T1"], brt.clock.now())[-1] == dt.date(2026, 12, 8)
    frozen_clock.set(at(1, 0, 0))
    days = appointments.bookable_days(brt.halls["T1"], brt.clock.now())
    assert days[0] == dt.date(2026, 12, 2) and days[-1] == dt.date(2026, 12, 9)


def test_make_up_workday_counts_and_has_slots(brt, frozen_clock):
    frozen_clock.set(at(7, 9))  # Mon 7: Tue 8, Wed 9, Thu 10, Fri 11, Sat 12 (调休)
    assert appointments.bookable_days(brt.halls["T1"], brt.clock.now())[-1] == MAKEUP
    assert book(brt, day=MAKEUP)


def test_quota_full_then_a_cancellation_frees_a_place(brt):
    code = book(brt, who=ID1)
    book(brt, who=ID2)
    err = refused(brt, book, who=id_number(3))
    assert err.code == "slot_full" and err.field == "start" and "08:30" in err.message
    with brt.db.read() as session:
        free = dict((s.label, n) for s, n in appointments.free_places(
            session, brt.halls["T1"], "B", dt.date(2026, 12, 1)))
    assert free["09:00"] == 0 and free["09:30"] == 2
    with brt.db.write() as session:
        appointments.cancel(session, brt.halls["T1"], appointments.get_by_code(session, code),
                            brt.clock.now())
    assert book(brt, who=id_number(3))


def test_one_booking_per_person_per_day(brt):
    book(brt, start="09:00")
    err = refused(brt, book, start="10:00")
    assert err.code == "already_booked" and err.field == "date"
    assert book(brt, day=dt.date(2026, 12, 2))  # another day is fine


def test_unknown_slot_and_bad_personal_data_name_the_field(brt):
    assert refused(brt, book, start="09:10").field == "start"
    assert refused(brt, book, who="123").field == "id_number"


# Cancelling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("minute, ok", [(59, True), (0, True), (1, False)])
def test_cancel_up_to_2_hours_before(brt, frozen_clock, minute, ok):
    code = book(brt, start="11:00")  # Tue 1 Dec 11:00: cancel until 09:00
    frozen_clock.set(at(1, 8, 59) if minute == 59 else at(1, 9, minute))

    def cancel(rt):
        with rt.db.write() as session:
            appointments.cancel(session, rt.halls["T1"], appointments.get_by_code(session, code),
                                rt.clock.now())
    if ok:
        cancel(brt)
        assert status(brt, code) is AppointmentStatus.CANCELLED
        assert refused(brt, cancel).code == "booking_closed"
    else:
        err = refused(brt, cancel)
        assert err.code == "too_late_to_cancel" and "09:00" in err.message


# Check-in -----------------------------------------------------------------------------------

@pytest.mark.parametrize("when, outcome", [
    ((9, 44), "too_early"), ((9, 45), "priority"), ((10, 0), "priority"),
    ((10, 10), "priority"), ((10, 11), "late")])
def test_check_in_window(brt, frozen_clock, when, outcome):
    code = book(brt, start="10:00")
    frozen_clock.set(at(1, *when))
    if outcome == "too_early":
        err = refused(brt, check_in, code=code)
        assert err.code == "too_early" and "09:45" in err.message
        assert status(brt, code) is AppointmentStatus.BOOKED
        return
    ticket, late, state = check_in(brt, code=code)
    assert ticket["queue"] == "B"
    if outcome == "priority":
        assert (ticket["priority"], ticket["channel"], late) == ("appointment", "appointment", False)
        assert state is AppointmentStatus.CHECKED_IN
    else:
        assert (ticket["priority"], late) == ("none", True)
        assert state is AppointmentStatus.NO_SHOW  # it counts as missed


def test_check_in_by_id_number_and_only_once(brt, frozen_clock):
    code = book(brt, start="10:00")
    frozen_clock.set(at(1, 9, 50))
    ticket, late, _ = check_in(brt, id_number=ID1.lower())
    assert ticket["priority"] == "appointment" and not late
    assert refused(brt, check_in, code=code).code == "already_checked_in"
    assert refused(brt, check_in, id_number=ID1).code == "no_appointment"
    assert refused(brt, check_in, code="ZZZZZZZZ").code == "unknown_booking"


def test_check_in_on_another_day_is_refused(brt, frozen_clock):
    code = book(brt, day=dt.date(2026, 12, 2), start="10:00")
    frozen_clock.set(at(1, 10))
    assert refused(brt, check_in, code=code).code == "wrong_day"


# No-shows -----------------------------------------------------------------------------------

def run_job(rt):
    with rt.db.write() as session:
        return appointment_checkin.mark_no_shows(session, rt.halls["T1"], rt.clock.now())


def test_no_show_job_marks_after_10_minutes(brt, frozen_clock):
    code = book(brt, start="10:00")
    frozen_clock.set(at(1, 10, 10))
    assert run_job(brt) == 0 and status(brt, code) is AppointmentStatus.BOOKED
    frozen_clock.set(at(1, 10, 11))
    assert run_job(brt) == 1 and status(brt, code) is AppointmentStatus.NO_SHOW
    assert run_job(brt) == 0
    ticket, late, _ = check_in(brt, code=code)  # still gets an ordinary ticket
    assert late and ticket["priority"] == "none"


def test_two_no_shows_suspend_booking_for_3_months(brt, frozen_clock):
    book(brt, day=dt.date(2026, 12, 1), start="10:00")
    book(brt, day=dt.date(2026, 12, 2), start="10:00")
    frozen_clock.set(at(1, 11))
    run_job(brt)
    frozen_clock.set(at(2, 8))
    assert book(brt, day=dt.date(2026, 12, 4))  # one no-show: still allowed
    frozen_clock.set(at(2, 11))
    run_job(brt)
    frozen_clock.set(at(3, 9))
    err = refused(brt, book, day=dt.date(2026, 12, 7))
    assert err.code == "booking_suspended" and "2027-03-02" in err.message and err.field == "id_number"
    assert book(brt, day=dt.date(2026, 12, 7), who=ID2)  # someone else is not affected
    frozen_clock.set(dt.datetime(2027, 3, 1, 23, 59, tzinfo=CST))
    assert refused(brt, book, day=dt.date(2027, 3, 2)).code == "booking_suspended"
    frozen_clock.set(dt.datetime(2027, 3, 2, 0, 0, tzinfo=CST))
    assert book(brt, day=dt.date(2027, 3, 3))


def test_nothing_personal_in_clear_in_the_database(brt, frozen_clock):
    code = book(brt, start="10:00")
    frozen_clock.set(at(1, 10))
    check_in(brt, id_number=ID1)
    with brt.db.read() as session:
        rows = [tuple(map(str, r)) for r in session.execute(sa.select(Appointment.__table__)).all()]
        rows += [tuple(map(str, r)) for r in session.execute(sa.select(Ticket.__table__)).all()]
    text = repr(rows)
    assert code in text and "340" in text
    assert ID1 not in text and PHONE not in text and ID1[6:14] not in text and "12345678" not in text


# API and page -------------------------------------------------------------------------------

@pytest.fixture
def bapp(tmp_path, migrated_template, frozen_clock):
    from hall.app import create_app
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, [booking_hall()]), clock=frozen_clock,
                     base_url="http://hall.test")
    yield app
    app.extensions["hall"].close()


def auth(app, role, window=None):
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T1"], role, rt.clock.now(), window=window)
    return {"Authorization": f"Bearer {value}"}


def test_api_book_list_cancel_check_in(bapp, frozen_clock):
    client = bapp.test_client()
    slots = client.get("/api/v1/halls/T1/appointments/slots?queue=B&date=2026-12-01")
    assert slots.status_code == 200, slots.get_json()
    body = slots.get_json()
    assert body["bookable"] and body["bookable_dates"][0] == "2026-12-01"
    assert body["slots"][1] == {"start": "09:00", "end": "09:30", "starts_at": "2026-12-01T09:00:00+08:00",
                                "capacity": 2, "free": 2}
    r = client.post("/api/v1/halls/T1/appointments", json={
        "queue": "B", "date": "2026-12-01", "start": "09:00", "id_number": ID1, "phone": PHONE})
    assert r.status_code == 201, r.get_json()
    booked = r.get_json()
    assert len(booked["code"]) == 8 and set(booked["code"]) <= set(appointments.CODE_ALPHABET)
    assert booked["start"] == "2026-12-01T09:00:00+08:00" and booked["id_masked"].startswith("340")
    assert ID1 not in r.get_data(as_text=True)
    free = client.get("/api/v1/halls/T1/appointments/slots?queue=B&date=2026-12-01").get_json()
    assert free["slots"][1]["free"] == 1
    again = client.post("/api/v1/halls/T1/appointments", json={
        "queue": "B", "date": "2026-12-09", "start": "09:00", "id_number": ID2, "phone": PHONE})
    assert again.status_code == 422 and again.get_json()["error"]["field"] == "date"
    assert ID2 not in again.get_data(as_text=True)

    payload = {"code": booked["code"]}
    assert client.post("/api/v1/halls/T1/appointments/check-in", json=payload).status_code == 401
    assert client.post("/api/v1/halls/T1/appointments/check-in", json=payload,
                       headers=auth(bapp, "clerk", 1)).status_code == 403
    frozen_clock.set(at(1, 8, 50))
    r = client.post("/api/v1/halls/T1/appointments/check-in", json=payload, headers=auth(bapp, "kiosk"))
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["late"] is False and out["ticket"]["priority"] == "appointment"
    assert out["appointment"]["status"] == "checked_in" and "code" not in out["appointment"]
    r = client.post("/api/v1/halls/T1/appointments/check-in", json=payload, headers=auth(bapp, "manager"))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_checked_in"


def test_api_cancel_by_code(bapp):
    client = bapp.test_client()
    code = client.post("/api/v1/halls/T1/appointments", json={
        "queue": "B", "date": "2026-12-02", "start": "10:00", "id_number": ID1,
        "phone": PHONE}).get_json()["code"]
    r = client.post(f"/api/v1/appointments/{code.lower()}/cancel")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/appointments/{code}/cancel").status_code == 409
    assert client.post("/api/v1/appointments/NOPE2345/cancel").status_code == 404
    assert client.get(f"/api/v1/appointments/{code}/cancel").status_code == 405
    bad = client.get("/api/v1/halls/T1/appointments/slots?queue=A")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "queue"


def test_book_page_renders(bapp):
    client = bapp.test_client()
    page = client.get("/book/T1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "预约" in html and 'value="B"' in html and "book.js" in html
    english = client.get("/book/T1?lang=en").get_data(as_text=True)
    assert "Book" in english
    assert client.get("/book/NOPE").status_code == 404


def test_config_keys_are_validated_with_a_fix(tmp_path):
    from hall.config_errors import ConfigError
    hall = booking_hall()
    hall["queues"][1]["appointments"] = {"slot_minutes": 0, "per_slot": 2}
    hall["appointments"] = {"min_days_ahead": 6, "max_days_ahead": 5}
    with pytest.raises(ConfigError) as err:
        settings_for(tmp_path, [hall])
    text = str(err.value)
    assert "slot_minutes" in text and "min_days_ahead" in text and "Fix:" in text
    assert settings_for(tmp_path).halls[0].queue("B").appointments is None  # off by default
