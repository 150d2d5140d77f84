"""Who may do what: every role × every state-changing action over HTTP and /live, as one table."""
from __future__ import annotations

import shutil

import pytest

from support import MONDAY_9, FrozenClock, hall_dict, settings_for
from hall import tokens
from hall.app import create_app
from hall.models import ApiToken
from hall.realtime import NAMESPACE
from factories import act, make_ticket

ROLES = ("kiosk", "clerk1", "clerk2", "screen", "pad1", "manager", "manager_T2", "admin", "none",
         "revoked")
OK, NO, ANON = "ok", 403, 401  # allowed (2xx) / forbidden / no valid credentials

# action → expected answer per role, in the order of ROLES.
HTTP = {
    #               kiosk clerk1 clerk2 screen pad1 manager mgr_T2 admin none  revoked
    "issue":       (OK,   NO,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "call":        (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "recall":      (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "start":       (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "no-show":     (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "finish":      (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "transfer":    (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "pause":       (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "resume":      (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "sign-in":     (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "sign-out":    (NO,   OK,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
    "rating":      (NO,   NO,    NO,    NO,    OK,  NO,     NO,    NO,   ANON, ANON),
    "notices":     (NO,   NO,    NO,    NO,    NO,  OK,     NO,    OK,   ANON, ANON),
}

# /live: the rooms a connection gets, or None when it is refused.
HALL, W1, W2 = "hall:T1", "window:T1:1", "window:T1:2"
LIVE = {
    #                   kiosk   clerk1 clerk2 screen  pad1  manager mgr_T2 admin   none  revoked
    "hall room":       ({HALL}, {W1},  {W2},  {HALL}, {W1}, {HALL}, None,  {HALL}, None, None),
    "window 1 room":   ({W1},   {W1},  None,  {W1},   {W1}, {W1},   None,  {W1},   None, None),
    # a ticket's room needs its secret; a token alone, of any role, does not open it
    "ticket room":     (None,   None,  None,  None,   None, None,   None,  None,   None, None),
}


@pytest.fixture
def world(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, [hall_dict("T1"), hall_dict("T2")]),
                     clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]
    t1, t2 = rt.halls["T1"], rt.halls["T2"]
    made: dict[str, str | None] = {"none": None}
    with rt.db.write() as session:
        now = rt.clock.now()
        for name, hall, role, window in (
                ("kiosk", t1, "kiosk", None), ("clerk1", t1, "clerk", 1), ("clerk2", t1, "clerk", 2),
                ("screen", t1, "screen", None), ("pad1", t1, "pad", 1),
                ("manager", t1, "manager", None), ("manager_T2", t2, "manager", None),
                ("admin", None, "admin", None), ("revoked", t1, "manager", None)):
            made[name] = tokens.create_token(session, hall, role, now, window=window, label=name)
    with rt.db.write() as session:
        revoked = session.query(ApiToken).filter(ApiToken.label == "revoked").one()
        tokens.revoke(session, revoked.id, rt.clock.now())
    yield app, rt, made
    rt.close()


def _prepare(rt, action: str) -> dict:
    """The state in which ``action`` succeeds for an allowed caller; returns path and body."""
    hall = rt.halls["T1"]
    base = "/api/v1/halls/T1/windows/1/"
    if action == "issue":
        return {"path": "/api/v1/halls/T1/tickets", "json": {"queue": "A"}}
    if action == "notices":
        return {"path": "/api/v1/halls/T1/notices", "json": {"notices": ["x"]}, "method": "put"}
    if action == "sign-in":
        return {"path": base + "sign-in"}
    act(rt, hall, "sign_in", 1)
    if action in ("sign-out", "pause"):
        return {"path": base + action, "json": {"reason": "break"} if action == "pause" else None}
    if action == "resume":
        act(rt, hall, "pause", 1, "break")
        return {"path": base + "resume"}
    ticket = make_ticket(rt, hall, "A")
    if action == "call":
        return {"path": base + "call"}
    act(rt, hall, "call_next", 1)
    if action == "rating":
        act(rt, hall, "finish", 1)
        return {"path": f"/api/v1/tickets/{ticket.id}/rating", "json": {"level": 5}}
    return {"path": base + action, "json": {"queue": "B"} if action == "transfer" else None}


@pytest.mark.parametrize("action", list(HTTP))
@pytest.mark.parametrize("role", ROLES)
def test_http_matrix(world, role, action):
    app, rt, made = world
    expected = HTTP[action][ROLES.index(role)]
    call = _prepare(rt, action)
    headers = {"Authorization": f"Bearer {made[role]}"} if made[role] else {}
    method = getattr(app.test_client(), call.get("method", "post"))
    kwargs = {"json": call["json"]} if call.get("json") is not None else {}
    response = method(call["path"], headers=headers, **kwargs)
    if expected == OK:
        assert 200 <= response.status_code < 300, (response.status_code, response.get_json())
    else:
        assert response.status_code == expected, response.get_json()
        assert response.get_json()["error"]["code"] in ("unauthorized", "forbidden")


def _rooms(socketio, client) -> set[str]:
    rooms = socketio.server.manager.rooms.get(NAMESPACE, {})
    return {room for room, members in rooms.items()
            if isinstance(room, str) and ":" in room and client.eio_sid in members.values()}


@pytest.mark.parametrize("target", list(LIVE))
@pytest.mark.parametrize("role", ROLES)
def test_live_matrix(world, role, target):
    app, rt, made = world
    socketio = app.extensions["hall.socketio"]
    expected = LIVE[target][ROLES.index(role)]
    auth: dict = {"hall": "T1"}
    if made[role]:
        auth["token"] = made[role]
    if target == "window 1 room":
        auth["window"] = 1
    if target == "ticket room":
        auth = {**auth, "ticket": make_ticket(rt, rt.halls["T1"]).id}
        rt.bus.wait_idle()  # the events are out before the phone connects (no late one below)
    client = socketio.test_client(app, namespace=NAMESPACE, auth=auth)
    if expected is None:
        assert not client.is_connected(NAMESPACE)
        return
    assert client.is_connected(NAMESPACE)
    assert _rooms(socketio, client) == expected
    client.get_received(NAMESPACE)
    # A resync gives a new snapshot to whoever may have one.
    assert client.emit("resync", {}, namespace=NAMESPACE, callback=True) == {"ok": True}
    assert [m["name"] for m in client.get_received(NAMESPACE)] == ["snapshot"]
    client.disconnect(NAMESPACE)


def test_ticket_room_with_the_secret_and_resync_after_revocation(world):
    app, rt, made = world
    socketio = app.extensions["hall.socketio"]
    issued = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                                    headers={"Authorization": f"Bearer {made['kiosk']}"}).get_json()
    secret = issued["track_url"].split("s=")[1]
    phone = socketio.test_client(app, namespace=NAMESPACE, auth={"ticket": issued["id"],
                                                                 "secret": secret})
    assert _rooms(socketio, phone) == {f"ticket:{issued['id']}", "queue:T1:A"}
    screen = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"],
                                                                  "hall": "T1"})
    with rt.db.write() as session:
        row = session.query(ApiToken).filter(ApiToken.label == "screen").one()
        tokens.revoke(session, row.id, rt.clock.now())
    screen.get_received(NAMESPACE)
    answer = screen.emit("resync", {}, namespace=NAMESPACE, callback=True)
    assert "error" in answer and screen.get_received(NAMESPACE) == []


def test_session_clerk_acts_only_at_the_window_signed_in_to(world):
    """A clerk logged in through /login acts at the window chosen on the counter page, no other;
    a session call without the page's CSRF token is refused."""
    from hall import staff
    app, rt, _made = world
    with rt.db.write() as session:
        staff.set_password(session, rt.halls["T1"], "clerk01", "secret-pass-1")
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    csrf = login_page.split('name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/login", data={"hall": "T1", "login": "clerk01", "password": "secret-pass-1",
                                       "csrf_token": csrf}).status_code == 302
    page = client.get("/counter/T1/1").get_data(as_text=True)
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/counter/T1/1/sign-in", data={"csrf_token": csrf}).status_code == 302
    headers = {"X-CSRFToken": csrf}
    make_ticket(rt, rt.halls["T1"])
    assert client.post("/api/v1/halls/T1/windows/2/call", headers=headers).status_code == 403
    r = client.post("/api/v1/halls/T1/windows/1/call")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    assert client.post("/api/v1/halls/T1/windows/1/call", headers=headers).status_code == 200
