"""The city view and the city role: a tree of halls HB → XS → JD (plus OT outside it), read-only city tokens."""
from __future__ import annotations

import shutil

import pytest

from support import MONDAY_9, FrozenClock, hall_dict, settings_for
from hall import calendar, stats, tokens
from hall.app import create_app
from hall.errors import DomainError
from hall.realtime import NAMESPACE


def _tree(tmp_path):
    return settings_for(tmp_path, [
        hall_dict("HB", level="city"),
        hall_dict("XS", level="district", parent="HB"),
        hall_dict("JD", level="street", parent="XS"),
        hall_dict("OT", level="district"),
    ])


@pytest.fixture
def city(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(_tree(tmp_path), clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]

    def make(role, hall=None, window=None):
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls[hall] if hall else None, role,
                                        rt.clock.now(), window=window)
        return {"Authorization": f"Bearer {value}"}

    yield app, rt, make
    rt.close()


def _codes(response):
    assert response.status_code == 200, response.json
    return [h["code"] for h in response.json["halls"]]


def test_a_city_token_reads_every_hall_of_its_tree_and_changes_nothing(city):
    app, rt, make = city
    client, head = app.test_client(), make("city", "HB")
    assert _codes(client.get("/api/v1/city", headers=head)) == ["HB", "XS", "JD"]
    assert sorted(_codes(client.get("/api/v1/halls", headers=head))) == ["HB", "JD", "XS"]
    for code in ("HB", "XS", "JD"):
        for path in ("queues", "windows", "stats", "dashboard", "notices", "evaluation"):
            r = client.get(f"/api/v1/halls/{code}/{path}", headers=head)
            assert r.status_code == 200, (code, path, r.json)
    assert client.get("/api/v1/halls/OT/queues", headers=head).status_code == 403
    assert client.get("/api/v1/city?hall=OT", headers=head).status_code == 403
    assert _codes(client.get("/api/v1/city?hall=JD", headers=head)) == ["JD"]
    assert client.post("/api/v1/halls/XS/tickets", json={"queue": "A"}, headers=head).status_code == 403
    assert client.post("/api/v1/halls/HB/windows/1/call", headers=head).status_code == 403
    assert client.put("/api/v1/halls/XS/notices", json={"notices": ["x"]}, headers=head).status_code == 403
    assert client.put("/api/v1/halls/XS/windows/1/queues", json={"queues": ["A"]},
                      headers=head).status_code == 403


def test_a_city_token_without_a_hall_reads_all_and_needs_no_window(city):
    app, rt, make = city
    assert _codes(app.test_client().get("/api/v1/city", headers=make("city"))) == ["HB", "OT", "XS", "JD"]
    with rt.db.write() as session, pytest.raises(DomainError) as err:
        tokens.create_token(session, rt.halls["HB"], "city", rt.clock.now(), window=1)
    assert err.value.code == "window_not_allowed"


def test_a_hall_manager_sees_only_its_hall(city):
    app, rt, make = city
    client, manager = app.test_client(), make("manager", "XS")
    assert client.get("/api/v1/city", headers=manager).status_code == 403
    assert _codes(client.get("/api/v1/halls", headers=manager)) == ["XS"]
    assert client.get("/api/v1/halls/XS/stats", headers=manager).status_code == 200
    assert client.get("/api/v1/halls/JD/stats", headers=manager).status_code == 403
    assert client.get("/api/v1/halls/HB/stats", headers=manager).status_code == 403


def test_a_city_halls_manager_reads_below_and_changes_only_its_own_hall(city):
    app, rt, make = city
    client, manager = app.test_client(), make("manager", "HB")
    assert _codes(client.get("/api/v1/city", headers=manager)) == ["HB", "XS", "JD"]
    assert client.get("/api/v1/halls/JD/stats", headers=manager).status_code == 200
    assert client.post("/api/v1/halls/JD/tickets", json={"queue": "A"}, headers=manager).status_code == 403
    assert client.post("/api/v1/halls/HB/tickets", json={"queue": "A"}, headers=manager).status_code == 201


def test_an_admin_sees_all(city):
    app, rt, make = city
    assert _codes(app.test_client().get("/api/v1/city", headers=make("admin"))) == ["HB", "OT", "XS", "JD"]


def _activity(client, make, code, tickets, rates):
    kiosk, clerk, pad = make("kiosk", code), make("clerk", code, 1), make("pad", code, 1)
    ids = [client.post(f"/api/v1/halls/{code}/tickets", json={"queue": "A"}, headers=kiosk).json["id"]
           for _ in range(tickets)]
    client.post(f"/api/v1/halls/{code}/windows/1/sign-in", headers=clerk)
    for tid, level in zip(ids, rates):
        assert client.post(f"/api/v1/halls/{code}/windows/1/call", headers=clerk).status_code == 200
        assert client.post(f"/api/v1/halls/{code}/windows/1/finish", headers=clerk).status_code == 200
        if level:
            r = client.post(f"/api/v1/tickets/{tid}/rating", headers=pad,
                            json={"level": level, "reasons": ["attitude"] if level < 3 else []})
            assert r.status_code == 201, r.json


def test_the_figures_equal_each_halls_day_stats(city):
    app, rt, make = city
    client = app.test_client()
    _activity(client, make, "XS", 5, [5, 2, None])
    _activity(client, make, "JD", 3, [4])
    clock = rt.clock
    clock.advance(600)
    view = client.get("/api/v1/city", headers=make("admin")).json
    with rt.db.read() as session:
        for row in view["halls"]:
            hall = rt.halls[row["code"]]
            want = stats.day_stats(session, hall, calendar.business_day(clock.now(), hall.timezone))
            for key in ("issued", "served", "services", "waiting", "ratings",
                        "evaluation_rate", "good_rate"):
                assert row[key] == want[key], (row["code"], key)
    xs = next(r for r in view["halls"] if r["code"] == "XS")
    assert (xs["waiting"], xs["served"], xs["open_windows"], xs["good_rate"]) == (2, 3, 1, 0.5)
    assert xs["longest_wait_s"] == 600
    assert view["totals"]["served"] == 4 and view["totals"]["waiting"] == 4


def test_live_city_connection_hears_its_tree_only(city):
    app, rt, make = city
    socketio = app.extensions["hall.socketio"]
    token = make("city", "XS")["Authorization"].split()[1]
    live = socketio.test_client(app, namespace=NAMESPACE, auth={"token": token, "city": True})
    assert live.is_connected(NAMESPACE)
    first = live.get_received(NAMESPACE)
    assert [m["name"] for m in first] == ["snapshot"]
    snap = first[0]["args"][0]
    assert snap["city"] is True and [h["code"] for h in snap["halls"]] == ["XS", "JD"]
    client = app.test_client()
    for code in ("XS", "JD", "OT", "HB"):
        assert client.post(f"/api/v1/halls/{code}/tickets", json={"queue": "A"},
                           headers=make("kiosk", code)).status_code == 201
    rt.bus.wait_idle()
    heard = {m["args"][0]["hall"] for m in live.get_received(NAMESPACE) if m["name"] == "ticket.issued"}
    assert heard == {"XS", "JD"}
    live.disconnect(NAMESPACE)
    manager = socketio.test_client(app, namespace=NAMESPACE,
                                   auth={"token": make("manager", "XS")["Authorization"].split()[1],
                                         "city": True})
    assert not manager.is_connected(NAMESPACE)


def test_the_city_page_and_openapi(city):
    app, rt, make = city
    client = app.test_client()
    page = client.get("/city")
    assert page.status_code == 200 and "city.js" in page.get_data(as_text=True)
    assert "全市大厅监控" in page.get_data(as_text=True)
    spec = client.get("/api/openapi.json").json
    assert "/api/v1/city" in spec["paths"] and "CityOut" in spec["components"]["schemas"]
