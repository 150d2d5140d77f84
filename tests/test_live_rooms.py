"""/live rooms and permissions through socketio.test_client: isolation, seq order, refusals."""
from __future__ import annotations

import shutil

import pytest

from support import MONDAY_9, FrozenClock, settings_for
from hall import tokens
from hall.app import create_app
from hall.realtime import NAMESPACE


@pytest.fixture
def live(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path), database_url=f"sqlite:///{tmp_path}/hall.db",
                     clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]
    hall = rt.halls["T1"]
    made = {}
    with rt.db.write() as session:
        for role, window in (("kiosk", None), ("screen", None), ("clerk", 1), ("manager", None)):
            made[role] = tokens.create_token(session, hall, role, rt.clock.now(), window=window)
    yield app, rt, made
    rt.close()


def _issue(app, token, queue="A"):
    response = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": queue},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    return response.json


def _events(client):
    return [(m["name"], m["args"][0]) for m in client.get_received(NAMESPACE)]


def test_mobile_ticket_hears_only_its_own_ticket(live):
    app, rt, made = live
    socketio = app.extensions["hall.socketio"]
    mine, other = _issue(app, made["kiosk"]), _issue(app, made["kiosk"])
    # The phone opens the page once its ticket is printed: the issue's events are out by then.
    # (Events still on their way when a client connects may reach it before its snapshot;
    # live.js drops any whose seq the snapshot already covers.)
    rt.bus.wait_idle()
    secret = mine["track_url"].split("s=")[1]
    phone = socketio.test_client(app, namespace=NAMESPACE, auth={"ticket": mine["id"], "secret": secret})
    assert phone.is_connected(NAMESPACE)
    snap = _events(phone)
    assert [n for n, _ in snap] == ["snapshot"] and snap[0][1]["ticket"]["id"] == mine["id"]
    headers = {"Authorization": f"Bearer {made['clerk']}"}
    client = app.test_client()
    client.post("/api/v1/halls/T1/windows/1/sign-in", headers=headers)
    client.post("/api/v1/halls/T1/windows/1/call", headers=headers)  # calls mine (issued first)
    client.post("/api/v1/halls/T1/windows/1/call", headers=headers)  # finishes mine, calls other
    rt.bus.wait_idle()
    received = _events(phone)
    assert any(n == "ticket.called" and e["ticket"]["id"] == mine["id"] for n, e in received)
    text = repr(received)
    other_secret = other["track_url"].split("s=")[1]
    assert other_secret not in text
    for name, event in received:
        if isinstance(event.get("ticket"), dict):
            assert event["ticket"]["id"] == mine["id"], name
    # The queue room tells the phone its line moved, with nothing personal in it.
    assert any(n == "queue.changed" for n, _ in received)
    assert "track_url" not in repr([e for n, e in received if n == "queue.changed"])


def test_hall_room_sees_consecutive_seq_and_no_secrets(live):
    app, rt, made = live
    socketio = app.extensions["hall.socketio"]
    screen = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"], "hall": "T1"})
    first = _events(screen)
    assert first[0][0] == "snapshot"
    start = first[0][1]["seq"]
    for queue in ("A", "B", "A"):
        _issue(app, made["kiosk"], queue)
    rt.bus.wait_idle()
    events = _events(screen)
    seqs = [e["seq"] for _, e in events]
    assert seqs == list(range(start + 1, start + 1 + len(seqs))) and len(seqs) >= 6
    assert "track_url" not in repr(events) and "s=" not in repr(events)


def test_screen_token_cannot_act(live):
    app, _rt, made = live
    headers = {"Authorization": f"Bearer {made['screen']}"}
    client = app.test_client()
    assert client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers).status_code == 403
    assert client.post("/api/v1/halls/T1/windows/1/call", headers=headers).status_code == 403
    assert client.put("/api/v1/halls/T1/notices", json={"notices": ["x"]},
                      headers=headers).status_code == 403


@pytest.mark.parametrize("auth", [
    {"token": "hq_wrong", "hall": "T1"},
    {"token": None, "hall": "T1"},
    {"hall": "T1"},
    {"ticket": 1, "secret": "nope"},
    {},
])
def test_wrong_credentials_are_refused(live, auth):
    app, _rt, made = live
    _issue(app, made["kiosk"])
    client = app.extensions["hall.socketio"].test_client(app, namespace=NAMESPACE, auth=auth)
    assert not client.is_connected(NAMESPACE)


def test_clerk_token_only_in_its_window_room(live):
    app, _rt, made = live
    socketio = app.extensions["hall.socketio"]
    wrong = socketio.test_client(app, namespace=NAMESPACE,
                                 auth={"token": made["clerk"], "hall": "T1", "window": 2})
    assert not wrong.is_connected(NAMESPACE)


def test_manager_sets_notices_and_screens_hear_them(live):
    app, rt, made = live
    socketio = app.extensions["hall.socketio"]
    screen = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"], "hall": "T1"})
    assert _events(screen)[0][1]["notices"] == ["请提前准备好身份证件"]
    response = app.test_client().put("/api/v1/halls/T1/notices", json={"notices": ["今天周末办", " "]},
                                     headers={"Authorization": f"Bearer {made['manager']}"})
    assert response.status_code == 200 and response.json == {"notices": ["今天周末办"]}
    rt.bus.wait_idle()
    assert ("notices.changed", ) == tuple(n for n, _ in _events(screen))
    again = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"], "hall": "T1"})
    assert _events(again)[0][1]["notices"] == ["今天周末办"]


def test_each_installation_has_its_own_message_queue_channel(tmp_path):
    """Two installations on one Redis must not hear each other (pub/sub ignores the db number);
    the processes of one installation (one database) must share a channel."""
    from hall.config import ServerSettings
    from hall.realtime import message_channel

    def channel(database, **kw):
        return message_channel(ServerSettings(secret_key_file=tmp_path / "k", **kw), database)

    city = "postgresql+psycopg://hall:secret@db.example/hall_city"
    test = "postgresql+psycopg://hall:secret@db.example/hall_test"
    assert channel(city) == channel(city)
    assert channel(city) != channel(test)
    assert "secret" not in channel(city)
    assert channel("sqlite:///x.db", message_queue_channel="hall-xs") == "hall-xs"
