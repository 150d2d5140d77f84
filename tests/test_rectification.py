"""差评整改: cases opened by bad reviews, their states and log, deadlines, overdue alerts, default
ratings, SMS invitations, and the manager API."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import sqlalchemy as sa

from factories import act, make_ticket, open_window
from hall import evaluation, invitations, ratings_jobs, rectification as rect, runtime as runtime_mod
from hall.errors import Conflict, DomainError
from hall.models import Rating
from hall.notifier import FileNotifier, SendError, WebhookNotifier
from support import MONDAY_9, hall_dict, settings_for

DAY = dt.timedelta(days=1)


@pytest.fixture
def make_rt(tmp_path, migrated_template, frozen_clock):
    """make_rt(**hall overrides) → a runtime whose test hall has those settings."""
    started = []

    def make(**overrides):
        shutil.copy(migrated_template, tmp_path / "hall.db")
        rt = runtime_mod.start(settings_for(tmp_path, [hall_dict(**overrides)]), clock=frozen_clock,
                               base_url="http://hall.test")
        started.append(rt)
        return rt

    yield make
    for rt in started:
        rt.close()


def serve(rt, hall, window=1, login="clerk01", queue="A", **ticket):
    """One visitor served at ``window`` by ``login``; returns the ticket."""
    with rt.db.read() as session:
        from hall.models import Window
        signed = session.scalar(sa.select(Window.staff_id).where(
            Window.id == hall.window_id(window)))
    if signed is None:
        open_window(rt, hall, window, login)
    t = make_ticket(rt, hall, queue, **ticket)
    act(rt, hall, "call_next", window)
    act(rt, hall, "finish", window)
    return t


def rate(rt, hall, ticket, level, reasons=("attitude",), channel="pad", comment=None):
    with rt.db.write() as session:
        rating = evaluation.rate_service(session, hall, ticket.id, level, "pad:1", rt.clock.now(),
                                         reasons if level <= 2 else (), comment, channel)
        return rating.id


def only_case(rt, hall):
    with rt.db.read() as session:
        cases = rect.list_cases(session, hall)
        assert len(cases) == 1
        return cases[0]


def step(rt, hall, action, case_id, actor="staff:boss", **kw):
    with rt.db.write() as session:
        return rect.ACTIONS[action](session, hall, case_id, actor, rt.clock.now(), **kw)


def test_a_bad_review_opens_a_case_with_department_window_clerk_and_working_day_deadline(make_rt):
    rt = make_rt(calendar={"holidays": ["2026-12-02"]})
    hall = rt.halls["T1"]
    ticket = serve(rt, hall, window=2, login="clerk02", queue="B")  # B belongs to 税务局 (SW)
    rate(rt, hall, ticket, 1, comment="态度差")
    case = only_case(rt, hall)
    assert (case.department, case.window_id, case.level) == ("SW", hall.window_id(2), 1)
    assert case.staff_id == hall.staff_ids["clerk02"] and case.state is rect.CaseState.OPEN
    # Mon 30 Nov + 5 working days: Tue 1, (Wed 2 holiday), Thu 3, Fri 4, (weekend), Mon 7, Tue 8.
    assert case.due_on == dt.date(2026, 12, 8)


def test_make_up_workday_counts_and_rectify_days_is_configurable(make_rt):
    rt = make_rt(calendar={"workdays": ["2026-12-05"]}, rating={"rectify_days": 2})
    settings = rt.halls["T1"].settings
    assert rect.add_working_days(settings, dt.date(2026, 12, 4), 1) == dt.date(2026, 12, 5)
    assert rect.add_working_days(settings, dt.date(2026, 12, 4), 2) == dt.date(2026, 12, 7)
    assert rect.add_working_days(settings, dt.date(2026, 11, 30), settings.rating.rectify_days) \
        == dt.date(2026, 12, 2)


def test_a_good_or_middling_review_opens_no_case(rt, hall):
    rate(rt, hall, serve(rt, hall), 3)
    rate(rt, hall, serve(rt, hall), 5)
    with rt.db.read() as session:
        assert rect.list_cases(session, hall) == []


def test_a_second_rating_of_the_same_service_is_refused_and_opens_no_second_case(rt, hall):
    ticket = serve(rt, hall)
    rate(rt, hall, ticket, 2)
    with pytest.raises(Conflict) as err:
        rate(rt, hall, ticket, 1)
    assert err.value.code == "already_rated"
    only_case(rt, hall)


def test_the_whole_path_records_who_and_when(rt, hall, frozen_clock):
    rate(rt, hall, serve(rt, hall), 2)
    case_id = only_case(rt, hall).id
    frozen_clock.advance(3600)
    step(rt, hall, "verify", case_id, "staff:boss", note="查看录像，属实")
    frozen_clock.advance(3600)
    step(rt, hall, "rectify", case_id, "staff:boss", note="窗口人员培训")
    step(rt, hall, "call-back", case_id, "staff:boss", visitor_view="satisfied")
    frozen_clock.advance(60)
    case = step(rt, hall, "close", case_id, "staff:boss")
    assert case.state is rect.CaseState.CLOSED and case.closed_at == frozen_clock.now()
    with rt.db.read() as session:
        log = session.scalars(sa.select(rect.CaseEvent).where(rect.CaseEvent.case_id == case_id)
                              .order_by(rect.CaseEvent.id)).all()
    assert [(e.kind, e.from_state, e.to_state) for e in log] == [
        ("opened", None, "open"), ("verified", "open", "verified"),
        ("rectified", "verified", "rectified"), ("called_back", "rectified", "called_back"),
        ("closed", "called_back", "closed")]
    assert log[0].actor == "pad:1" and {e.actor for e in log[1:]} == {"staff:boss"}
    assert log[1].at == MONDAY_9 + dt.timedelta(hours=1) and log[1].note == "查看录像，属实"
    assert log[3].data == {"visitor_view": "satisfied"}


@pytest.mark.parametrize("path, action, kw, code", [
    ([], "rectify", {"note": "x"}, "invalid_transition"),           # open cannot be rectified yet
    ([], "close", {}, "invalid_transition"),
    ([], "decide", {"decision": "upheld", "reason": "x"}, "invalid_transition"),
    (["verify"], "verify", {}, "invalid_transition"),
    (["verify"], "call-back", {"visitor_view": "satisfied"}, "invalid_transition"),
    (["verify", "rectify"], "appeal", {"kind": "mistaken", "reason": "x"}, "invalid_transition"),
    (["verify", "rectify", "call-back", "close"], "verify", {}, "invalid_transition"),
    (["verify", "rectify", "call-back", "close"], "appeal", {"kind": "malicious", "reason": "x"},
     "invalid_transition"),
])
def test_refused_transitions(rt, hall, path, action, kw, code):
    rate(rt, hall, serve(rt, hall), 1)
    case_id = only_case(rt, hall).id
    bodies = {"verify": {}, "rectify": {"note": "fixed"}, "call-back": {"visitor_view": "satisfied"},
              "close": {}}
    for done in path:
        step(rt, hall, done, case_id, **bodies[done])
    with pytest.raises(Conflict) as err:
        step(rt, hall, action, case_id, **kw)
    assert err.value.code == code


def test_call_back_needs_a_visitor_view_and_rectify_a_note(rt, hall):
    rate(rt, hall, serve(rt, hall), 1)
    case_id = only_case(rt, hall).id
    step(rt, hall, "verify", case_id)
    with pytest.raises(DomainError) as err:
        step(rt, hall, "rectify", case_id, note="  ")
    assert err.value.field == "note"
    step(rt, hall, "rectify", case_id, note="整改")
    for view in (None, "happy"):
        with pytest.raises(DomainError) as err:
            step(rt, hall, "call-back", case_id, visitor_view=view)
        assert err.value.code == "visitor_view_required"
    assert only_case(rt, hall).state is rect.CaseState.RECTIFIED


def test_a_dissatisfied_visitor_needs_another_fix_before_closing(rt, hall):
    rate(rt, hall, serve(rt, hall), 1)
    case_id = only_case(rt, hall).id
    step(rt, hall, "verify", case_id)
    step(rt, hall, "rectify", case_id, note="第一次整改")
    step(rt, hall, "call-back", case_id, visitor_view="dissatisfied")
    with pytest.raises(Conflict) as err:
        step(rt, hall, "close", case_id)
    assert err.value.code == "visitor_dissatisfied"
    step(rt, hall, "rectify", case_id, note="第二次整改")
    step(rt, hall, "call-back", case_id, visitor_view="basically_satisfied")
    assert step(rt, hall, "close", case_id).state is rect.CaseState.CLOSED


def test_appeal_upheld_closes_as_appealed_and_rejected_reopens(rt, hall):
    rate(rt, hall, serve(rt, hall), 1)
    rate(rt, hall, serve(rt, hall), 2)
    with rt.db.read() as session:
        first, second = sorted(c.id for c in rect.list_cases(session, hall))
    with pytest.raises(DomainError) as err:
        step(rt, hall, "appeal", first, kind="mistaken", reason="")
    assert err.value.field == "reason"
    step(rt, hall, "appeal", first, "staff:clerk01", kind="malicious", reason="访客误按")
    with pytest.raises(DomainError) as err:
        step(rt, hall, "decide", first, decision="upheld", reason=None)
    assert err.value.field == "reason"
    case = step(rt, hall, "decide", first, "staff:boss", decision="upheld", reason="录像证实")
    assert (case.state, case.decision, case.appeal_kind) == (rect.CaseState.CLOSED, "upheld",
                                                             "malicious")
    step(rt, hall, "verify", second)
    step(rt, hall, "appeal", second, kind="mistaken", reason="非本窗口业务")
    case = step(rt, hall, "decide", second, decision="rejected", reason="确属本窗口")
    assert case.state is rect.CaseState.OPEN and case.closed_at is None
    with rt.db.read() as session:
        last = session.scalars(sa.select(rect.CaseEvent).where(rect.CaseEvent.case_id == second)
                               .order_by(rect.CaseEvent.id.desc())).first()
    assert (last.kind, last.note, last.data) == ("decided", "确属本窗口", {"decision": "rejected"})


def test_overdue_cases_raise_one_alert_from_the_job(rt, hall, frozen_clock):
    seen = []
    rt.bus.subscribe(seen.append, "alert")
    rate(rt, hall, serve(rt, hall), 1)
    rate(rt, hall, serve(rt, hall, window=2, login="clerk02", queue="B"), 2)
    with rt.db.read() as session:
        closed = max(c.id for c in rect.list_cases(session, hall))
    for action, kw in (("verify", {}), ("rectify", {"note": "ok"}),
                       ("call-back", {"visitor_view": "satisfied"}), ("close", {})):
        step(rt, hall, action, closed, **kw)
    frozen_clock.set(dt.datetime(2026, 12, 7, 17, 0, tzinfo=MONDAY_9.tzinfo))  # the due day itself
    assert ratings_jobs.alert_overdue_cases(rt) == 0
    frozen_clock.set(dt.datetime(2026, 12, 8, 8, 0, tzinfo=MONDAY_9.tzinfo))
    assert ratings_jobs.alert_overdue_cases(rt) == 1
    assert ratings_jobs.alert_overdue_cases(rt) == 0  # once per case
    rt.bus.wait_idle()
    assert len(seen) == 1
    alert = seen[0].payload["alert"]
    assert (alert["kind"], alert["window"], alert["due_on"]) == ("rectification_overdue", 1,
                                                                 "2026-12-07")
    with rt.db.read() as session:
        overdue = rect.list_cases(session, hall, overdue=True, today=dt.date(2026, 12, 8))
    assert [c.id for c in overdue] == [closed - 1]


def test_default_ratings_only_for_services_older_than_n_days(make_rt, frozen_clock):
    rt = make_rt(rating={"default_after_days": 3, "default_level": 5})
    hall = rt.halls["T1"]
    old = serve(rt, hall)
    rated = serve(rt, hall)
    rate(rt, hall, rated, 4)
    frozen_clock.advance(2 * 86400)
    recent = serve(rt, hall)
    frozen_clock.advance(86400 + 60)  # old: 3 days and a minute; recent: 1 day
    assert ratings_jobs.default_unrated_services(rt) == 1
    assert ratings_jobs.default_unrated_services(rt) == 0
    with rt.db.read() as session:
        rows = {r.ticket_id: r for r in session.scalars(sa.select(Rating))}
    assert rows[old.id].defaulted and rows[old.id].level == 5 and rows[old.id].channel == "default"
    assert not rows[rated.id].defaulted and recent.id not in rows
    with rt.db.read() as session:
        assert rect.list_cases(session, hall) == []


def test_default_ratings_are_off_by_default(rt, hall, frozen_clock):
    serve(rt, hall)
    frozen_clock.advance(90 * 86400)
    assert ratings_jobs.default_unrated_services(rt) == 0


def test_invitation_keeps_the_phone_encrypted_and_sends_the_rating_link(make_rt, frozen_clock,
                                                                         tmp_path):
    rt = make_rt(rating={"invite_after_s": 600})
    hall = rt.halls["T1"]
    open_window(rt, hall, 1, "clerk01")
    ticket = make_ticket(rt, hall, "A", phone="13812345678")  # issuing queues the invitation
    with rt.db.read() as session:
        stored = session.scalars(sa.select(invitations.Invitation)).one().phone_token
    assert "13812345678" not in stored
    assert ratings_jobs.send_rating_invitations(rt) == 0  # not served yet
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    frozen_clock.advance(599)
    assert ratings_jobs.send_rating_invitations(rt) == 0
    frozen_clock.advance(1)
    assert ratings_jobs.send_rating_invitations(rt) == 1
    outbox = (tmp_path / "sms-outbox.jsonl").read_text(encoding="utf-8")
    assert "13812345678" not in outbox
    line = json.loads(outbox)
    assert line["to"] == "138****5678" and f"/t/{ticket.id}?s={ticket.secret}" in line["text"]
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(invitations.Invitation)) == 0


def test_invitations_dropped_when_rated_or_after_seven_days(make_rt, frozen_clock):
    rt = make_rt(rating={"invite_after_s": 60})
    hall = rt.halls["T1"]
    rated = serve(rt, hall)
    waiting = make_ticket(rt, hall, "B")
    with rt.db.write() as session:
        for t in (rated, waiting):
            invitations.queue_invitation(session, hall, t, "13912345678", rt.clock.now(),
                                         rt.privacy_key)
    rate(rt, hall, rated, 5)
    sent = []

    class Recorder:
        def send(self, phone, text, meta):
            sent.append(phone)

    frozen_clock.advance(120)
    assert ratings_jobs.send_rating_invitations(rt, {"T1": Recorder()}) == 0
    with rt.db.read() as session:
        left = session.scalars(sa.select(invitations.Invitation.ticket_id)).all()
    assert left == [waiting.id]
    frozen_clock.advance(7 * 86400)
    ratings_jobs.send_rating_invitations(rt, {"T1": Recorder()})
    with rt.db.read() as session:
        assert session.scalars(sa.select(invitations.Invitation)).all() == []
    assert sent == []


def test_invitations_are_not_queued_when_off(rt, hall):
    ticket = make_ticket(rt, hall, "A", phone="13812345678")
    with rt.db.write() as session:
        assert invitations.queue_invitation(session, hall, ticket, "13812345678", rt.clock.now(),
                                            rt.privacy_key) is None


def test_webhook_retries_with_backoff_then_gives_up(monkeypatch):
    import requests
    calls = []

    class Gateway:
        def post(self, url, json, timeout):
            calls.append((url, json["phone"], timeout))
            if sum(1 for c in calls if c[0] == url) < 3:
                raise requests.ConnectionError("down")
            return type("R", (), {"status_code": 200})()

    monkeypatch.setattr("hall.notifier.time.sleep", lambda s: calls.append(("sleep", s)))
    WebhookNotifier("http://sms.test/send", session=Gateway()).send("13812345678", "hi", {})
    assert [c[1] for c in calls if c[0] == "sleep"] == [1.0, 2.0]
    assert calls[0] == ("http://sms.test/send", "13812345678", 5.0)
    calls.clear()

    class Refusing:
        def post(self, url, json, timeout):
            calls.append(1)
            return type("R", (), {"status_code": 400})()

    with pytest.raises(SendError) as err:
        WebhookNotifier("http://sms.test/send", session=Refusing()).send("13812345678", "hi", {})
    assert calls == [1] and "13812345678" not in str(err.value) and "138****5678" in str(err.value)


def test_file_notifier_masks_the_phone(tmp_path):
    FileNotifier(tmp_path / "out.jsonl").send("13812345678", "请评价", {"ticket": "A001"})
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {"to": "138****5678",
                                                                "text": "请评价", "ticket": "A001"}


# The manager API (hall/web/rectify.py).

def bad_review_over_http(client, token):
    kiosk, clerk, pad = token("kiosk"), token("clerk", window=1), token("pad", window=1)
    client.post("/api/v1/halls/T1/windows/1/sign-in", json={"login": "clerk01"}, headers=clerk)
    tid = client.post("/api/v1/halls/T1/tickets", json={"queue": "A", "id_number": "11010519491231002X"},
                      headers=kiosk).get_json()["id"]
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    client.post("/api/v1/halls/T1/windows/1/finish", headers=clerk)
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 1, "reasons": ["attitude"],
                                                          "comment": "等太久"}, headers=pad)
    assert r.status_code == 201
    return tid


def test_case_management_over_http(client, token):
    bad_review_over_http(client, token)
    manager = token("manager")
    cases = client.get("/api/v1/halls/T1/rectifications", headers=manager).get_json()["rectifications"]
    assert len(cases) == 1
    case = cases[0]
    assert (case["state"], case["window"], case["clerk"]["name"], case["reasons"], case["due_on"]) \
        == ("open", 1, "王芳", ["服务态度"], "2026-12-07")
    url = f"/api/v1/halls/T1/rectifications/{case['id']}"
    r = client.post(url + "/close", headers=manager)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"
    assert client.post(url + "/verify", json={"note": "属实"}, headers=manager).status_code == 200
    r = client.post(url + "/rectify", json={}, headers=manager)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "note"
    client.post(url + "/rectify", json={"note": "已培训"}, headers=manager)
    r = client.post(url + "/call-back", json={"visitor_view": "great"}, headers=manager)
    assert r.status_code == 422
    client.post(url + "/call-back", json={"visitor_view": "satisfied"}, headers=manager)
    r = client.post(url + "/close", headers=manager)
    assert r.status_code == 200
    detail = r.get_json()["rectification"]
    assert detail["state"] == "closed" and [s["kind"] for s in detail["log"]] == [
        "opened", "verified", "rectified", "called_back", "closed"]
    assert detail["log"][1]["actor"].startswith("token:") or detail["log"][1]["actor"]
    assert client.get(url, headers=manager).get_json()["rectification"]["log"][2]["note"] == "已培训"
    assert client.get(url + "/verify", headers=manager).status_code == 405
    r = client.get("/api/v1/halls/T1/rectifications?state=closed&window=1&department=nope",
                   headers=manager)
    assert r.get_json()["rectifications"] == []
    r = client.get("/api/v1/halls/T1/rectifications?state=gone", headers=manager)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "state"
    r = client.get("/api/v1/halls/T1/rectifications.csv?state=closed", headers=manager)
    text = r.data.decode("utf-8")
    assert r.mimetype == "text/csv" and text.startswith("\ufeff工单号,状态")
    assert "已办结" in text and "满意" in text


def test_appeal_and_decision_over_http(client, token):
    bad_review_over_http(client, token)
    manager = token("manager")
    case_id = client.get("/api/v1/halls/T1/rectifications", headers=manager).get_json()[
        "rectifications"][0]["id"]
    url = f"/api/v1/halls/T1/rectifications/{case_id}"
    r = client.post(url + "/appeal", json={"kind": "malicious"}, headers=manager)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    client.post(url + "/appeal", json={"kind": "malicious", "reason": "重复差评"}, headers=manager)
    r = client.post(url + "/decide", json={"decision": "upheld", "reason": "录像证实"}, headers=manager)
    body = r.get_json()["rectification"]
    assert (body["state"], body["decision"], body["appeal_kind"]) == ("closed", "upheld", "malicious")


@pytest.mark.parametrize("role, window", [("clerk", 1), ("kiosk", None), ("pad", 1), ("screen", None)])
def test_only_managers_manage_cases(client, token, role, window):
    bad_review_over_http(client, token)
    headers = token(role, window=window)
    for url in ("/api/v1/halls/T1/rectifications", "/api/v1/halls/T1/rectifications.csv",
                "/api/v1/halls/T1/rectifications/1", "/api/v1/halls/T1/evaluation",
                "/api/v1/halls/T1/ratings/export"):
        assert client.get(url, headers=headers).status_code == 403, url
    r = client.post("/api/v1/halls/T1/rectifications/1/verify", json={}, headers=headers)
    assert r.status_code == 403
    assert client.get("/api/v1/halls/T1/rectifications").status_code == 401


def test_a_manager_of_another_hall_gets_403(tmp_path, migrated_template, frozen_clock):
    from hall import tokens
    from hall.app import create_app
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, [hall_dict("T1"), hall_dict("T2")]), clock=frozen_clock)
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T2"], "manager", rt.clock.now())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/v1/halls/T1/rectifications", headers=headers).status_code == 403
    assert client.post("/api/v1/halls/T1/rectifications/1/verify", headers=headers).status_code == 403
    assert client.get("/api/v1/halls/T2/rectifications", headers=headers).status_code == 200
    rt.close()


def login(app, client, name):
    import re
    from hall import staff
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        staff.set_password(session, rt.halls["T1"], name, "secret-pass-1")
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = client.post("/login", data={"hall": "T1", "login": name, "password": "secret-pass-1",
                                    "csrf_token": csrf})
    assert r.status_code == 302
    return csrf


def test_the_cases_page_is_for_signed_in_managers(app, client, token):
    r = client.get("/manage/T1/rectifications")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    login(app, client, "clerk01")
    assert client.get("/manage/T1/rectifications").status_code == 302
    bad_review_over_http(client, token)
    login(app, client, "boss")
    r = client.get("/manage/T1/rectifications")
    assert r.status_code == 200 and "差评整改" in r.get_data(as_text=True)
    import re
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', r.get_data(as_text=True)).group(1)
    assert client.get("/manage/NOPE/rectifications").status_code == 404
    # The page's own calls: the session works, and a POST needs the page's CSRF token.
    assert client.get("/api/v1/halls/T1/rectifications").status_code == 200
    assert client.post("/api/v1/halls/T1/rectifications/1/verify", json={}).status_code == 403
    r = client.post("/api/v1/halls/T1/rectifications/1/verify", json={},
                    headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and r.get_json()["rectification"]["state"] == "verified"
    assert r.get_json()["rectification"]["log"][-1]["actor"] == "staff:boss"
