"""The manager's dashboard: snapshot figures and curves, alerts once per crossing, switching a window's queues."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from hall import alerts, dashboard, events, runtime as runtime_mod, stats, switching, tickets, windows
from hall.audit import AuditEntry
from hall.errors import DomainError
from hall.models import WindowEvent
from support import MONDAY_9, FrozenClock, hall_dict, settings_for

CST = MONDAY_9.tzinfo


def at(day: dt.date, hhmm: str) -> dt.datetime:
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=CST)


def issue(rt, hall, prefix: str, when: dt.datetime) -> int:
    rt.clock.set(when)
    with rt.db.write() as session:
        return tickets.issue_ticket(session, hall, tickets.IssueRequest(queue=prefix), "test",
                                    rt.clock.now()).ticket.id


def act(rt, hall, verb, number: int, when: dt.datetime, *args):
    rt.clock.set(when)
    with rt.db.write() as session:
        result = verb(session, hall, number, "test", rt.clock.now(), *args)
        return getattr(result, "number", None)


TODAY = MONDAY_9.date()
WEEK1, WEEK2 = TODAY - dt.timedelta(weeks=1), TODAY - dt.timedelta(weeks=2)


@pytest.fixture
def day(rt, hall):
    """Two past Mondays (two more without a ticket) and this morning, up to 09:40."""
    issue(rt, hall, "A", at(WEEK1, "09:00"))
    issue(rt, hall, "A", at(WEEK1, "09:20"))
    act(rt, hall, windows.call_next, 1, at(WEEK1, "09:10"))
    act(rt, hall, windows.finish, 1, at(WEEK1, "09:25"))
    act(rt, hall, windows.call_next, 1, at(WEEK1, "09:35"))
    act(rt, hall, windows.finish, 1, at(WEEK1, "09:40"))
    issue(rt, hall, "A", at(WEEK2, "09:00"))
    act(rt, hall, windows.call_next, 1, at(WEEK2, "09:50"))
    act(rt, hall, windows.finish, 1, at(WEEK2, "10:00"))
    for prefix, hhmm in (("A", "09:00"), ("A", "09:05"), ("A", "09:10"), ("B", "09:12")):
        issue(rt, hall, prefix, at(TODAY, hhmm))
    assert act(rt, hall, windows.call_next, 1, at(TODAY, "09:20")) == "A001"
    act(rt, hall, windows.call_next, 1, at(TODAY, "09:30"))  # finishes A001, calls A002
    act(rt, hall, windows.no_show, 1, at(TODAY, "09:35"))
    act(rt, hall, windows.sign_in, 3, at(TODAY, "09:36"))
    act(rt, hall, windows.pause, 3, at(TODAY, "09:37"), "meeting")
    rt.clock.set(at(TODAY, "09:40"))
    return rt


def test_snapshot_figures_of_a_hand_made_day(day, hall):
    with day.db.read() as session:
        snap = dashboard.dashboard_snapshot(session, hall, day.clock.now(), devices=[
            {"name": "led", "kind": "led_bus", "state": "failed", "ok": False, "windows": [2]}])
        kpis = stats.day_stats(session, hall, TODAY)
    queues = {q["prefix"]: q for q in snap["queues"]}
    assert (queues["A"]["waiting"], queues["B"]["waiting"], queues["C"]["waiting"]) == (1, 1, 0)
    assert queues["A"]["longest_wait_s"] == 30 * 60 and queues["B"]["longest_wait_s"] == 28 * 60
    assert snap["waiting"] == 2 and snap["longest_wait_s"] == 1800
    assert snap["today"] == {"issued": 4, "served": 1, "no_show": 1}
    assert (snap["today"]["served"], snap["today"]["no_show"]) == (kpis["served"], kpis["no_show"])
    by_number = {w["number"]: w for w in snap["windows"]}
    assert by_number[1]["state"] == "idle" and by_number[3]["state"] == "paused"
    assert by_number[3]["pause_reason"] == "meeting" and by_number[2]["device_offline"] == ["led"]
    assert snap["windows_by_state"] == {"serving": 0, "idle": 1, "paused": 1, "closed": 1, "offline": 1}
    c = snap["curves"]
    i = c["labels"].index("09:00")
    assert c["labels"][0] == "08:00" and c["bucket_min"] == 15
    assert c["arrivals"][i:i + 4] == [4, 0, 0, None]
    # waiting at 09:15, 09:30 (A002 called at 09:30 no longer waits), now (09:40), then the future
    assert c["waiting"][i:i + 4] == [4, 2, 2, None]
    assert c["before_days"] == [WEEK1.isoformat(), WEEK2.isoformat()]
    assert c["arrivals_before"][i:i + 3] == [1.0, 0.5, 0.0]
    assert c["waiting_before"][i:i + 4] == [0.5, 1.0, 0.5, 0.0]


def test_alert_check_is_pure_once_per_crossing():
    long_a = [{"kind": "queue_long", "queue": "A"}]
    active, raised = alerts.check(frozenset(), long_a)
    assert raised == long_a
    active, raised = alerts.check(active, long_a)
    assert raised == []
    active, raised = alerts.check(active, [])
    assert active == frozenset()
    assert alerts.check(active, long_a)[1] == long_a


def test_helpers_are_idle_multi_queue_windows_serving_it_or_switchable():
    infos = [alerts.WindowInfo(1, "idle", "comprehensive", ("A", "B")),
             alerts.WindowInfo(2, "idle", "dedicated", ("A",)),
             alerts.WindowInfo(3, "serving", "comprehensive", ("A", "C")),
             alerts.WindowInfo(4, "idle", "dedicated", ("K",)),
             alerts.WindowInfo(5, "closed", "dedicated", ("K",))]
    assert alerts.helpers("A", infos) == [1]
    assert alerts.helpers("A", infos, switchable=[4, 5]) == [1, 4]


@pytest.fixture
def alert_rt(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    settings = settings_for(tmp_path, [hall_dict(alerts={"max_waiting": 2, "max_wait_minutes": 30,
                                                         "switch_windows": [4]})])
    runtime = runtime_mod.start(settings, clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    yield runtime
    runtime.close()


def test_alerts_raised_once_per_crossing_reset_and_helpers(alert_rt):
    rt, hall = alert_rt, alert_rt.halls["T1"]
    seen = []
    rt.bus.subscribe(seen.append, events.ALERT)
    watcher = alerts.AlertWatcher(rt)
    for number in (1, 3, 4):
        act(rt, hall, windows.sign_in, number, MONDAY_9)
    for _ in range(3):
        issue(rt, hall, "A", MONDAY_9)
    raised = watcher.check_hall("T1")
    assert [(a["kind"], a["queue"], a["waiting"]) for a in raised] == [("queue_long", "A", 3)]
    assert raised[0]["message"] == "A 综合受理 等候 3 人，超过 2 人"
    assert raised[0]["helpers"] == [1, 3, 4]
    issue(rt, hall, "A", MONDAY_9)
    assert watcher.check_hall("T1") == []  # still above: not again
    for _ in range(3):
        act(rt, hall, windows.call_next, 1, MONDAY_9)  # 4 → 1 waiting (each call finishes the last)
    assert watcher.check_hall("T1") == []
    issue(rt, hall, "A", MONDAY_9)
    issue(rt, hall, "A", MONDAY_9)
    assert [a["kind"] for a in watcher.check_hall("T1")] == ["queue_long"]  # a new crossing
    rt.clock.set(MONDAY_9 + dt.timedelta(minutes=31))
    wait = watcher.check_hall("T1")
    assert [(a["kind"], a["longest_wait_s"]) for a in wait] == [("wait_long", 31 * 60)]
    assert "超过 30 分钟" in wait[0]["message"]
    assert watcher.check_hall("T1") == []
    assert rt.bus.wait_idle()
    assert [e.payload["alert"]["kind"] for e in seen] == ["queue_long", "queue_long", "wait_long"]
    assert all(e.seq for e in seen)


def test_the_bus_subscriber_checks_after_an_issue(alert_rt):
    rt, hall = alert_rt, alert_rt.halls["T1"]
    seen = []
    rt.bus.subscribe(seen.append, events.ALERT)
    alerts.start(rt)
    for _ in range(3):
        issue(rt, hall, "B", MONDAY_9)
    for _ in range(3):
        assert rt.bus.wait_idle()
    assert [(e.payload["alert"]["queue"], e.payload["alert"]["waiting"]) for e in seen] == [("B", 3)]
    assert alerts.check_long_waits(rt) == 0


def test_switch_queues_is_validated_logged_and_serves_the_next_call(rt, hall):
    issue(rt, hall, "A", MONDAY_9)
    with rt.db.write() as session:
        for bad, code in (([], "invalid_queues"), (["Z"], "unknown_queue"), (["A", "A"], "invalid_queues")):
            with pytest.raises(DomainError) as err:
                switching.switch_queues(session, hall, 2, bad, "staff:boss", rt.clock.now())
            assert err.value.code == code
        with pytest.raises(DomainError):
            switching.switch_queues(session, hall, 2, ["A"], "boss", rt.clock.now(), "weighted", {"B": 2})
    assert act(rt, hall, windows.call_next, 2, MONDAY_9) is None  # window 2 serves only B
    with rt.db.write() as session:
        window = switching.switch_queues(session, hall, 2, ["A", "B"], "staff:boss", rt.clock.now(),
                                         "weighted", {"A": 3})
        assert [(s.queue_id, s.weight) for s in window.serves] == [(hall.queue_ids["A"], 3),
                                                                   (hall.queue_ids["B"], 1)]
    assert act(rt, hall, windows.call_next, 2, MONDAY_9) == "A001"
    with rt.db.read() as session:
        logged = session.query(WindowEvent).filter_by(kind="queues").one()
        audit = session.query(AuditEntry).filter_by(action="window.queues").one()
    assert logged.reason == "weighted: A,B" and audit.after["queues"] == ["A", "B"]
    assert audit.before["queues"] == ["B"]


def test_dashboard_and_switch_routes_need_a_manager(app, client, token):
    manager = token("manager")
    got = client.get("/api/v1/halls/T1/dashboard", headers=manager)
    assert got.status_code == 200 and got.get_json()["hall"] == "T1"
    for role, window in (("clerk", 2), ("kiosk", None), ("screen", None)):
        headers = token(role, window=window)
        assert client.get("/api/v1/halls/T1/dashboard", headers=headers).status_code == 403
        assert client.put("/api/v1/halls/T1/windows/2/queues", json={"queues": ["A"]},
                          headers=headers).status_code == 403
    assert client.get("/api/v1/halls/T1/dashboard").status_code == 401
    put = client.put("/api/v1/halls/T1/windows/2/queues", json={"queues": ["A", "B"]}, headers=manager)
    assert put.status_code == 200 and put.get_json()["window"]["queues"] == ["A", "B"]
    bad = client.put("/api/v1/halls/T1/windows/2/queues", json={"queues": ["Z"]}, headers=manager)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "queues"
    empty = client.put("/api/v1/halls/T1/windows/2/queues", json={"queues": []}, headers=manager)
    assert empty.status_code == 422
    assert client.put("/api/v1/halls/T1/windows/99/queues", json={"queues": ["A"]},
                      headers=manager).status_code == 404
    issued = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=token("kiosk"))
    assert issued.status_code == 201
    called = client.post("/api/v1/halls/T1/windows/2/call", headers=token("clerk", window=2))
    assert called.get_json()["ticket"]["queue"] == "A"


def test_manage_page_renders_for_a_manager_session_and_refuses_a_clerk(app, client):
    with client.session_transaction() as s:
        s["staff"] = {"id": 1, "login": "clerk01", "name": "王芳", "hall": "T1", "role": "clerk"}
        s["seen"] = 10**12
    assert client.get("/manage/T1").status_code == 403
    with client.session_transaction() as s:
        s["staff"] = {"id": 3, "login": "boss", "name": "赵敏", "hall": "T1", "role": "manager"}
    page = client.get("/manage/T1")
    assert page.status_code == 200 and "实时监控" in page.get_data(as_text=True)
    assert "echarts.min.js" in page.get_data(as_text=True)
