"""Malformed Socket.IO payloads are refused without harming the connections of others."""
from __future__ import annotations

import pytest

from hall.realtime import NAMESPACE
from test_live_rooms import _events, _issue, live  # noqa: F401  (the fixture)

BAD_AUTH = [
    "T1", ["token", "T1"], 42, {"hall": ["T1"]}, {"hall": {"x": 1}}, {"token": 5, "hall": "T1"},
    {"token": ["a"], "hall": "T1"}, {"ticket": "abc", "secret": "x"}, {"ticket": {"id": 1}},
    {"ticket": None}, {"ticket": 1.5, "secret": ["s"]},
    {"token": "x" * 100_000, "hall": "T1"}, {"hall": "T1", "window": "1"},
]
GARBAGE = [None, "", "x" * 100_000, 12, [1, [2, [3]]], {"a": {"b": None}}, b"\x00\xff", True,
           {"token": "forged", "hall": "T1"}]


def test_bad_auth_shapes_are_refused_and_others_go_on(live):  # noqa: F811
    app, rt, made = live
    socketio = app.extensions["hall.socketio"]
    screen = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"], "hall": "T1"})
    _events(screen)
    for auth in BAD_AUTH:
        bad = socketio.test_client(app, namespace=NAMESPACE, auth=auth)
        assert not bad.is_connected(NAMESPACE), auth
    # A ticket id too large for any database integer is refused like any unknown ticket.
    huge = socketio.test_client(app, namespace=NAMESPACE, auth={"ticket": 10 ** 30, "secret": "x"})
    assert not huge.is_connected(NAMESPACE)
    _issue(app, made["kiosk"])
    rt.bus.wait_idle()
    assert "ticket.issued" in [n for n, _ in _events(screen)]


@pytest.mark.parametrize("clerk_window", [True, False])
def test_garbage_resync_does_not_disturb_anyone(live, clerk_window):  # noqa: F811
    app, rt, made = live
    socketio = app.extensions["hall.socketio"]
    auth = {"token": made["clerk"], "hall": "T1"} if clerk_window else {"token": made["screen"],
                                                                       "hall": "T1"}
    noisy = socketio.test_client(app, namespace=NAMESPACE, auth=auth)
    other = socketio.test_client(app, namespace=NAMESPACE, auth={"token": made["screen"], "hall": "T1"})
    _events(noisy), _events(other)
    for payload in GARBAGE:
        answer = noisy.emit("resync", payload, namespace=NAMESPACE, callback=True)
        assert answer == {"ok": True}  # the payload is ignored: the connection's own credentials count
    noisy.emit("no-such-event", {"x": 1}, namespace=NAMESPACE)
    assert noisy.is_connected(NAMESPACE) and other.is_connected(NAMESPACE)
    _events(noisy), _events(other)
    _issue(app, made["kiosk"])
    rt.bus.wait_idle()
    assert "ticket.issued" in [n for n, _ in _events(other)]
