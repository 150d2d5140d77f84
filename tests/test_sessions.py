"""Staff login sessions end after server.session_idle_minutes without activity; activity renews them."""
from __future__ import annotations

import time

import pytest

from hall import staff


@pytest.fixture
def signed_in(app):
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        staff.set_password(session, rt.halls["T1"], "boss", "manager-pass-1")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    r = client.post("/login", data={"hall": "T1", "login": "boss", "password": "manager-pass-1",
                                    "csrf_token": csrf})
    assert r.status_code == 302
    page = client.get("/counter/T1/1").get_data(as_text=True)  # the login made a new CSRF secret
    return client, page.split('name="csrf-token" content="')[1].split('"')[0]


def _age(client, seconds: float) -> None:
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - seconds


def test_the_default_idle_time_is_30_minutes(app):
    assert app.extensions["hall"].settings.server.session_idle_minutes == 30


def test_an_idle_session_expires(signed_in):
    client, _csrf = signed_in
    assert client.get("/api/v1/halls").status_code == 200
    _age(client, 31 * 60)
    r = client.get("/api/v1/halls")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    with client.session_transaction() as sess:
        assert "staff" not in sess  # cleared, not only refused
    assert client.get("/counter/T1").status_code == 302  # back to the login page


def test_activity_renews_the_session(signed_in):
    client, csrf = signed_in
    _age(client, 29 * 60)
    assert client.put("/api/v1/halls/T1/notices", json={"notices": ["a"]},
                      headers={"X-CSRFToken": csrf}).status_code == 200
    with client.session_transaction() as sess:
        assert time.time() - sess["seen"] < 5
    _age(client, 29 * 60)
    assert client.get("/api/v1/halls").status_code == 200


def test_the_workstation_poll_is_not_activity(signed_in):
    client, _csrf = signed_in
    _age(client, 10 * 60)
    assert client.get("/counter/T1/1/state").status_code == 200
    with client.session_transaction() as sess:
        assert time.time() - sess["seen"] > 9 * 60


def test_a_session_without_a_timestamp_is_not_accepted(signed_in):
    client, _csrf = signed_in
    with client.session_transaction() as sess:
        del sess["seen"]
    assert client.get("/api/v1/halls").status_code == 401


def test_live_refuses_an_expired_session(app, signed_in):
    from hall.realtime import NAMESPACE
    client, _csrf = signed_in
    socketio = app.extensions["hall.socketio"]
    live = socketio.test_client(app, namespace=NAMESPACE, auth={"hall": "T1"}, flask_test_client=client)
    assert live.is_connected(NAMESPACE)
    live.disconnect(NAMESPACE)
    _age(client, 31 * 60)
    late = socketio.test_client(app, namespace=NAMESPACE, auth={"hall": "T1"}, flask_test_client=client)
    assert not late.is_connected(NAMESPACE)
