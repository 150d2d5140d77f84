"""The HTTP API of the public contract: shapes, auth, errors — as a kiosk or a clerk would use it."""
from __future__ import annotations

import pytest


def test_issue_returns_201_with_the_contract_ticket(client, token):
    r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A", "priority": "elderly"},
                    headers=token("kiosk"))
    assert r.status_code == 201
    t = r.get_json()
    assert {"id", "number", "queue", "priority", "status", "ahead", "expected_wait_s", "issued_at",
            "track_url", "window"} <= set(t)
    assert (t["number"], t["queue"], t["priority"], t["status"], t["window"]) == \
        ("A001", "A", "elderly", "waiting", None)
    assert t["issued_at"].endswith("+08:00")


def test_the_clerk_flow_over_http(client, token):
    kiosk, clerk = token("kiosk"), token("clerk", window=1)
    tid = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk).get_json()["id"]
    r = client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    assert r.status_code == 200 and r.get_json()["ticket"]["id"] == tid
    assert r.get_json()["ticket"]["window"] == 1
    assert client.post("/api/v1/halls/T1/windows/1/recall", headers=clerk).status_code == 200
    r = client.post("/api/v1/halls/T1/windows/1/finish", headers=clerk)
    assert r.get_json()["ticket"]["status"] == "done"
    r = client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    assert r.status_code == 200 and r.get_json() == {"ticket": None}
    r = client.post("/api/v1/halls/T1/windows/1/pause", json={"reason": "break"}, headers=clerk)
    assert r.get_json()["window"]["state"] == "paused"
    r = client.post("/api/v1/halls/T1/windows/1/resume", headers=clerk)
    assert r.get_json()["window"]["state"] == "idle"


def test_transfer_and_no_show_over_http(client, token):
    kiosk, clerk = token("kiosk"), token("clerk", window=1)
    client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk)
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    r = client.post("/api/v1/halls/T1/windows/1/transfer", json={"queue": "B"}, headers=clerk)
    assert r.status_code == 200
    assert (r.get_json()["ticket"]["queue"], r.get_json()["ticket"]["status"]) == ("B", "waiting")
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    r = client.post("/api/v1/halls/T1/windows/1/no-show", headers=clerk)
    assert r.get_json()["ticket"]["status"] == "no_show"


def test_a_clerk_token_cannot_act_on_another_window(client, token):
    r = client.post("/api/v1/halls/T1/windows/2/call", headers=token("clerk", window=1))
    assert r.status_code == 403
    assert "window 1" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("role, status", [("kiosk", 403), ("screen", 403), ("pad", 403),
                                          ("manager", 200), ("admin", 200)])
def test_who_may_call_a_window(client, token, role, status):
    window = 1 if role == "pad" else None
    headers = token(role, window=window, hall=None if role == "admin" else "T1")
    assert client.post("/api/v1/halls/T1/windows/1/call", headers=headers).status_code == status


@pytest.mark.parametrize("role, status", [("kiosk", 201), ("manager", 201), ("screen", 403),
                                          ("clerk", 403)])
def test_who_may_issue(client, token, role, status):
    headers = token(role, window=1 if role == "clerk" else None)
    r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
    assert r.status_code == status


def test_missing_and_unknown_tokens_get_401(client):
    assert client.get("/api/v1/halls").status_code == 401
    r = client.get("/api/v1/halls", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.get("/api/v1/halls", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_a_revoked_token_stops_working_at_once(app, client, token):
    from hall import tokens
    from hall.models import ApiToken
    headers = token("kiosk")
    assert client.get("/api/v1/halls", headers=headers).status_code == 200
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        tokens.revoke(session, session.query(ApiToken).one().id, rt.clock.now())
    assert client.get("/api/v1/halls", headers=headers).status_code == 401


def test_get_on_an_action_url_is_405_json(client, token):
    r = client.get("/api/v1/halls/T1/windows/1/call", headers=token("clerk", window=1))
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("body, status, code, field", [
    (b"{not json", 400, "bad_json", None),
    (b"[1, 2]", 400, "bad_json", None),
    (b"", 400, "missing_body", None),
    (b'{"queue": 5}', 422, "invalid_field", "queue"),
    (b'{"queue": "A", "priority": "vip"}', 422, "invalid_field", "priority"),
    (b'{"queue": "A", "prority": "elderly"}', 422, "invalid_field", "prority"),
    (b'{"queue": "Z"}', 404, "unknown_queue", "queue"),
    (b'{"queue": "A", "phone": "123"}', 422, "invalid_phone", "phone"),
])
def test_bad_input_gets_a_clear_error_never_a_500(client, token, body, status, code, field):
    r = client.post("/api/v1/halls/T1/tickets", data=body, headers={**token("kiosk"),
                    "Content-Type": "application/json"})
    assert r.status_code == status
    error = r.get_json()["error"]
    assert error["code"] == code and error.get("field") == field and error["message"]


def test_unknown_hall_window_and_ticket_are_404_json(client, token):
    headers = token("manager")
    assert client.get("/api/v1/halls/ZZ/queues", headers=headers).get_json()["error"]["code"] == "unknown_hall"
    r = client.post("/api/v1/halls/T1/windows/99/call", headers=headers)
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "window"
    assert client.get("/api/v1/tickets/12345", headers=headers).status_code == 404
    assert client.get("/api/v1/nothing").status_code == 404


def test_a_token_of_another_hall_is_403(tmp_path, migrated_template, frozen_clock):
    import shutil
    from support import hall_dict, settings_for
    from hall import tokens
    from hall.app import create_app
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, [hall_dict("T1"), hall_dict("T2")]), clock=frozen_clock)
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T2"], "kiosk", rt.clock.now())
    client = app.test_client()
    r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                    headers={"Authorization": f"Bearer {value}"})
    assert r.status_code == 403
    halls = client.get("/api/v1/halls", headers={"Authorization": f"Bearer {value}"}).get_json()
    assert [h["code"] for h in halls["halls"]] == ["T2"]
    rt.close()


def test_ticket_by_secret_without_a_token(client, token):
    t = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=token("kiosk")).get_json()
    secret = t["track_url"].split("s=")[1]
    r = client.get(f"/api/v1/tickets/{t['id']}?s={secret}")
    assert r.status_code == 200 and r.get_json()["number"] == "A001"
    assert client.get(f"/api/v1/tickets/{t['id']}?s=wrong").status_code == 401


def test_queues_list_waiting_and_expected_wait(client, token):
    kiosk = token("kiosk")
    for _ in range(3):
        client.post("/api/v1/halls/T1/tickets", json={"queue": "B"}, headers=kiosk)
    queues = client.get("/api/v1/halls/T1/queues", headers=kiosk).get_json()["queues"]
    b = next(q for q in queues if q["prefix"] == "B")
    assert b["waiting"] == 3 and b["open"] is True and b["expected_wait_s"] > 0
    assert [q["prefix"] for q in queues] == ["A", "B", "C", "K"]


def test_rating_once_per_service_reasons_for_bad_reviews(client, token):
    kiosk, clerk, pad = token("kiosk"), token("clerk", window=1), token("pad", window=1)
    tid = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk).get_json()["id"]
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 5}, headers=pad)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "nothing_to_rate"
    client.post("/api/v1/halls/T1/windows/1/finish", headers=clerk)
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 2}, headers=pad)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reasons"
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 2, "reasons": ["attitude"]},
                    headers=pad)
    assert r.status_code == 201 and r.get_json()["level"] == 2
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 5}, headers=pad)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_rated"
    other_pad = token("pad", window=2)
    r = client.post(f"/api/v1/tickets/{tid}/rating", json={"level": 5}, headers=other_pad)
    assert r.status_code == 409


def test_day_stats_for_a_manager(client, token, frozen_clock):
    kiosk, clerk, pad, manager = token("kiosk"), token("clerk", window=1), token("pad", window=1), \
        token("manager")
    ids = [client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk).get_json()["id"]
           for _ in range(3)]
    frozen_clock.advance(120)
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    frozen_clock.advance(300)
    client.post("/api/v1/halls/T1/windows/1/finish", headers=clerk)
    client.post(f"/api/v1/tickets/{ids[0]}/rating", json={"level": 5}, headers=pad)
    client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
    client.post("/api/v1/halls/T1/windows/1/no-show", headers=clerk)
    assert client.get("/api/v1/halls/T1/stats", headers=kiosk).status_code == 403
    s = client.get("/api/v1/halls/T1/stats", headers=manager).get_json()
    assert (s["issued"], s["served"], s["no_show"], s["services"], s["waiting"]) == (3, 1, 1, 1, 1)
    assert s["avg_service_s"] == 300 and s["max_wait_s"] == 420
    assert (s["evaluation_rate"], s["good_rate"]) == (1.0, 1.0)
    r = client.get("/api/v1/halls/T1/stats?date=yesterday", headers=manager)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "date"


def test_openapi_document_lists_every_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = rule.rule.replace("<code>", "{hall}").replace("<int:number>", "{n}") \
                .replace("<int:ticket_id>", "{id}").replace("<booking>", "{booking}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((path, method))
    assert served <= documented, served - documented


@pytest.mark.parametrize("role, secret_shown", [("screen", False), ("kiosk", False), ("pad", False),
                                                ("manager", True), ("clerk", True)])
def test_a_device_token_reads_a_ticket_without_its_secret_link(client, token, role, secret_shown):
    t = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=token("manager")).get_json()
    headers = token(role, window=1 if role in ("pad", "clerk") else None)
    seen = client.get(f"/api/v1/tickets/{t['id']}", headers=headers).get_json()
    assert seen["number"] == "A001"
    assert (seen["track_url"] == t["track_url"]) is secret_shown
    assert ("s=" in seen["track_url"]) is secret_shown


@pytest.mark.parametrize("path, field", [
    ("/api/v1/halls/T1/stats?date=0001-01-01", "date"),
    ("/api/v1/halls/T1/reports?to=0001-01-01", "to"),
    ("/api/v1/halls/T1/attendance?to=9999-12-31", "to"),
    ("/api/v1/halls/T1/rectifications?from=0001-01-01", "from"),
])
def test_dates_outside_any_hall_s_life_are_a_clear_422(client, token, path, field):
    r = client.get(path, headers=token("manager"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field
