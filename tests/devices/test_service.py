"""DeviceService: domain events drive the virtual printer, screens and pads; pads drive windows."""
from __future__ import annotations

import shutil
import threading
import time

import pytest
import sqlalchemy as sa

from devices.health import DeviceState
from devices.ledbus import ScreenContent
from devices.service import DeviceService, screen_content, start_devices
from factories import act, make_ticket, open_window
from hall import runtime as runtime_mod
from hall import tokens
from hall.models import Rating, Ticket, TicketStatus
from support import MONDAY_9, FrozenClock, hall_dict, settings_for

DEVICES = [
    {"name": "printer-k1", "kind": "printer", "kiosk": "K1", "paper_width_mm": 58},
    {"name": "screens", "kind": "led_bus", "windows": [1, 2, 3, 4], "heartbeat_s": 3600},
    {"name": "evalpads", "kind": "evalpad", "windows": [1, 2, 3, 4]},
    {"name": "callpads", "kind": "callpad", "windows": [1, 2, 3, 4], "addresses": [11, 12, 13, 14]},
]


def until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for ``predicate()`` (checked on a short tick), failing after ``timeout``."""
    tick = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tick.wait(0.01)


class Collector:
    """A bus subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events = []

    def __call__(self, event) -> None:
        self.events.append(event)

    def named(self, name: str):
        return [e for e in self.events if e.name == name]


@pytest.fixture
def device_settings(tmp_path):
    return settings_for(tmp_path, [hall_dict(devices=DEVICES)])


@pytest.fixture
def rt(tmp_path, migrated_template, device_settings):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    runtime = runtime_mod.start(device_settings, clock=FrozenClock(MONDAY_9),
                                base_url="http://hall.test")
    yield runtime
    runtime.close()


@pytest.fixture
def svc(rt):
    service = start_devices(rt)
    yield service
    service.stop()


def dev(svc: DeviceService, name: str):
    return svc.devices[("T1", name)].worker


def test_a_kiosk_ticket_prints_a_slip(rt, svc):
    hall = rt.halls["T1"]
    make_ticket(rt, hall, "A")  # no kiosk: nothing printed
    ticket = make_ticket(rt, hall, "A", kiosk="K1")
    with rt.db.read() as session:
        from hall import present
        expected_s = present.ticket_view(session, hall, session.get(Ticket, ticket.id))["expected_wait_s"]
    assert svc.wait_idle()
    printer = dev(svc, "printer-k1")
    [(slip, data)] = list(printer.printed)
    assert slip.number == ticket.number == "A002"
    assert (slip.hall, slip.queue, slip.ahead) == ("测试政务服务中心", "综合受理", 1)
    # The slip shows the ticket's own forecast, in whole minutes rounded up.
    assert slip.wait_min == -(-expected_s // 60) and slip.notice == "请提前准备好身份证件"
    assert slip.url.startswith(f"http://hall.test/t/{ticket.id}?s=")
    assert slip.issued_at.strftime("%H:%M") == "09:00"  # the hall's local time
    assert b"A002" in data
    assert svc.printer_state("T1", "K1") == "online"
    assert svc.printer_state("T1", "K9") is None


def test_screens_are_painted_from_the_database_on_start(rt):
    hall = rt.halls["T1"]
    open_window(rt, hall, 1)
    open_window(rt, hall, 2)
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "pause", 2)
    service = start_devices(rt)
    try:
        assert service.wait_idle()
        screens = dev(service, "screens").screens
        assert screens[1] == ScreenContent.calling(1, "A001")
        assert screens[2] == ScreenContent.paused(2)
        assert screens[3] == ScreenContent.paused(3)  # closed shows 暂停服务 too
    finally:
        service.stop()


def test_call_shows_the_number_and_goes_first(rt, svc):
    hall = rt.halls["T1"]
    for n in (1, 2):
        open_window(rt, hall, n)
    make_ticket(rt, hall, "A")
    assert svc.wait_idle()
    bus = dev(svc, "screens")
    assert bus.screens[1] == ScreenContent.idle(1)
    bus.fail()  # frames wait on the bus while it is down
    act(rt, hall, "pause", 2)
    act(rt, hall, "call_next", 1)
    assert rt.bus.wait_idle()
    mark = len(bus.history)
    bus.recover()
    assert bus.wait_idle()
    sent = [content for _, content, _ in list(bus.history)[mark:]]
    assert sent[0] == ScreenContent.calling(1, "A001")  # the called window before the update
    assert ScreenContent.paused(2) in sent[1:]
    assert bus.screens[2].line1 == "暂停服务"


def test_recall_repeats_the_call_and_finish_prompts_the_pad(rt, svc):
    hall = rt.halls["T1"]
    open_window(rt, hall, 3)
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 3)
    assert svc.wait_idle()
    bus, pads = dev(svc, "screens"), dev(svc, "evalpads")
    calls = len(bus.history)
    act(rt, hall, "recall", 3)
    assert svc.wait_idle()
    assert [c for _, c, _ in list(bus.history)[calls:]] == [ScreenContent.calling(3, "A001")]
    act(rt, hall, "finish", 3)
    assert svc.wait_idle()
    assert pads.prompts == [(3, "请评价")]
    assert bus.screens[3] == ScreenContent.idle(3)


def ratings(rt):
    with rt.db.read() as session:
        return session.scalars(sa.select(Rating).order_by(Rating.id)).all()


def test_a_pad_press_rates_the_last_service_of_the_window(rt, svc):
    hall = rt.halls["T1"]
    open_window(rt, hall, 1)
    first = make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    assert svc.wait_idle()
    pads = dev(svc, "evalpads")
    pads.press(1, 5)
    until(lambda: len(ratings(rt)) == 1, what="a rating")
    [rating] = ratings(rt)
    assert (rating.ticket_id, rating.level, rating.channel) == (first.id, 5, "pad")
    until(lambda: (1, "感谢您的评价") in pads.prompts, what="thanks on the pad")
    tasks = svc.tasks[("T1", "evalpads")]
    pads.press(1, 4)  # 一次一评: logged, stored nowhere, the pad worker lives on
    pads.press(2, 3)  # window 2 served nobody
    until(lambda: tasks.completed == 3, what="both presses handled")
    assert len(ratings(rt)) == 1
    second = make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    assert svc.wait_idle()
    pads.press(1, 1)  # a bad rating from hardware is stored with the reason "other"
    until(lambda: len(ratings(rt)) == 2, what="the second rating")
    assert (ratings(rt)[1].ticket_id, ratings(rt)[1].reasons) == (second.id, ["other"])


def test_a_pad_press_after_a_restart_finds_the_service_in_the_database(rt):
    hall = rt.halls["T1"]
    open_window(rt, hall, 4)
    ticket = make_ticket(rt, hall, "K")
    act(rt, hall, "call_next", 4)
    act(rt, hall, "finish", 4)
    service = start_devices(rt)  # started after the finish: nothing tracked in memory
    try:
        dev(service, "evalpads").press(4, 2)
        until(lambda: len(ratings(rt)) == 1, what="a rating")
        assert ratings(rt)[0].ticket_id == ticket.id
    finally:
        service.stop()


def test_call_pad_keys_drive_the_window(rt, svc):
    hall = rt.halls["T1"]
    pads = dev(svc, "callpads")
    pads.press(11, "call")  # address 11 is window 1; a closed window opens on call
    until(lambda: pads.texts, what="pad feedback")
    assert pads.texts[-1] == (11, "无等候")
    make_ticket(rt, hall, "A")
    pads.press(11, "call")
    until(lambda: len(pads.texts) == 2, what="pad feedback")
    assert pads.texts[-1] == (11, "A001 → 1号")
    with rt.db.read() as session:
        ticket = session.scalars(sa.select(Ticket)).one()
        assert ticket.status == TicketStatus.CALLED
    assert svc.wait_idle()
    assert dev(svc, "screens").screens[1] == ScreenContent.calling(1, "A001")
    for key, text in [("pause", "请先办结当前号"), ("recall", "A001 重呼"), ("finish", "A001 办结"),
                      ("recall", "无当前号"), ("pause", "暂停中"), ("call", "暂停中"),
                      ("resume", "恢复服务")]:
        count = len(pads.texts)
        pads.press(11, key)
        until(lambda: len(pads.texts) > count, what=f"feedback for {key}")
        assert pads.texts[-1] == (11, text), key
    make_ticket(rt, hall, "B")
    pads.press(11, "call")
    until(lambda: pads.texts[-1] == (11, "B001 → 1号"), what="B001 called")
    pads.press(11, "transfer", 2)
    until(lambda: pads.texts[-1] == (11, "B001 转2号"), what="B001 transferred")
    pads.press(11, "transfer", 99)
    until(lambda: pads.texts[-1] == (11, "无此窗口"), what="unknown window refused")


def test_a_failed_printer_alerts_keeps_issuing_and_prints_after_recovery(
        tmp_path, migrated_template, device_settings):
    from hall.app import create_app
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(device_settings, clock=FrozenClock(MONDAY_9), base_url="http://hall.test",
                     realtime=False)
    rt = app.extensions["hall"]
    seen = Collector()
    rt.bus.subscribe(seen)
    svc = start_devices(rt)
    try:
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls["T1"], "kiosk", rt.clock.now())
        printer = dev(svc, "printer-k1")
        printer.fail(DeviceState.PAPER_OUT)
        until(lambda: seen.named("alert"), what="an alert")
        assert svc.wait_idle()
        [changed] = seen.named("device.changed")
        assert changed.payload["device"] == {"name": "printer-k1", "kind": "printer",
                                             "driver": "virtual", "state": "paper_out",
                                             "ok": False, "kiosk": "K1"}
        alert = seen.named("alert")[0].payload["alert"]
        assert alert["kind"] == "device" and alert["device"] == "printer-k1"
        assert alert["state"] == "paper_out" and alert["message"] == "取号机K1打印机缺纸"
        assert changed.seq > 0 and seen.named("alert")[0].seq == changed.seq + 1
        assert svc.printer_state("T1", "K1") == "paper_out"

        response = app.test_client().post("/api/v1/halls/T1/tickets",
                                          json={"queue": "A", "kiosk": "K1"},
                                          headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 201
        number = response.get_json()["number"]
        assert rt.bus.wait_idle()
        assert printer.pending() == 1 and not printer.printed

        printer.recover()
        assert printer.wait_idle()
        assert [slip.number for slip, _ in printer.printed] == [number]
        until(lambda: len(seen.named("device.changed")) == 2, what="back online")
        assert seen.named("device.changed")[-1].payload["device"]["ok"] is True
        assert len(seen.named("alert")) == 1
    finally:
        svc.stop()
        rt.close()


def test_screen_content_for_each_state():
    assert screen_content({"number": 5, "state": "serving", "ticket": "A023"}).line1 == "请 A023 号"
    assert screen_content({"number": 5, "state": "idle", "ticket": None}) == ScreenContent.idle(5)
    assert screen_content({"number": 5, "state": "paused", "ticket": None}).line1 == "暂停服务"
    assert screen_content({"number": 5, "state": "closed", "ticket": None}).line1 == "暂停服务"


def test_device_views_and_stop_is_idempotent(rt):
    service = DeviceService(rt).start()
    views = {v["name"]: v for v in service.device_views("T1")}
    assert set(views) == {"printer-k1", "screens", "evalpads", "callpads"}
    assert views["screens"]["windows"] == [1, 2, 3, 4] and views["screens"]["ok"] is True
    service.stop()
    service.stop()
