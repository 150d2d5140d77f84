"""Kiosk abuse: a rate limit per kiosk token (429 rate_limited) and a cap of tickets per ID number (防黄牛)."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from support import MONDAY_9, FrozenClock, hall_dict
from hall import runtime as runtime_mod, tokens
from hall.app import create_app
from hall.config import ConfigError, parse_config
from hall.errors import Conflict
from factories import make_ticket

ID = "11010519491231002X"  # a valid check digit; nobody's number
OTHER_ID = "110105194912310038"


def _settings(tmp_path, server=None, policy=None):
    hall = hall_dict("T1")
    if policy:
        hall["policy"] = policy
    return parse_config({"server": {"database": f"sqlite:///{tmp_path}/hall.db",
                                    "secret_key_file": str(tmp_path / "secret_key"), **(server or {})},
                         "halls": [hall]}, source="test", base_dir=tmp_path)


@pytest.fixture
def limited(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(_settings(tmp_path, {"issue_rate_limit": "3/minute"}),
                     clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]

    def token(role):
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls["T1"], role, rt.clock.now())
        return {"Authorization": f"Bearer {value}"}

    yield app, token
    rt.close()


def test_a_kiosk_token_is_limited_with_a_json_429(limited):
    app, token = limited
    client, kiosk = app.test_client(), token("kiosk")
    for _ in range(3):
        assert client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk).status_code == 201
    r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=kiosk)
    assert r.status_code == 429
    error = r.get_json()["error"]
    assert error["code"] == "rate_limited" and "3 per 1 minute" in error["message"]
    assert "Retry-After" in r.headers
    # Per token: another kiosk goes on; a manager at a counter is not limited.
    assert client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                       headers=token("kiosk")).status_code == 201
    manager = token("manager")
    for _ in range(5):
        assert client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                           headers=manager).status_code == 201
    # Reads are not limited.
    assert client.get("/api/v1/halls/T1/queues", headers=kiosk).status_code == 200


def test_an_unknown_token_is_401_not_counted_against_others(limited):
    app, token = limited
    client = app.test_client()
    for _ in range(5):
        r = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                        headers={"Authorization": "Bearer nope"})
        assert r.status_code in (401, 429)
    assert client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                       headers=token("kiosk")).status_code == 201


def test_the_default_limit_and_a_bad_limit_in_config(tmp_path):
    assert _settings(tmp_path).server.issue_rate_limit == "30/minute"
    assert _settings(tmp_path).server.rate_limit_storage == "memory://"
    with pytest.raises(ConfigError, match="issue_rate_limit"):
        _settings(tmp_path, {"issue_rate_limit": "lots"})


@pytest.fixture
def capped(tmp_path, migrated_template, frozen_clock):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    rt = runtime_mod.start(_settings(tmp_path, policy={"max_tickets_per_id": 2}), clock=frozen_clock)
    yield rt, rt.halls["T1"], frozen_clock
    rt.close()


def test_an_id_number_takes_at_most_the_cap_per_queue_and_day(capped):
    rt, hall, clock = capped
    make_ticket(rt, hall, "A", id_number=ID)
    make_ticket(rt, hall, "A", id_number=ID.lower())  # the same number, typed with a small x
    with pytest.raises(Conflict) as refused:
        make_ticket(rt, hall, "A", id_number=ID)
    assert refused.value.code == "id_cap_reached" and refused.value.field == "id_number"
    assert ID not in refused.value.message
    make_ticket(rt, hall, "B", id_number=ID)  # another queue
    make_ticket(rt, hall, "A", id_number=OTHER_ID)  # another person
    make_ticket(rt, hall, "A")  # no ID given
    clock.advance(dt.timedelta(days=1).total_seconds())
    make_ticket(rt, hall, "A", id_number=ID)  # the next day


def test_the_refusal_writes_nothing_and_keeps_the_number(capped):
    rt, hall, _clock = capped
    first = make_ticket(rt, hall, "A", id_number=ID)
    make_ticket(rt, hall, "A", id_number=ID)
    with pytest.raises(Conflict):
        make_ticket(rt, hall, "A", id_number=ID)
    assert make_ticket(rt, hall, "A").number == "A003"
    assert first.number == "A001"


def test_the_cap_is_off_by_default(rt, hall):
    assert hall.settings.policy.max_tickets_per_id == 0
    for _ in range(4):
        make_ticket(rt, hall, "A", id_number=ID)


def test_the_cap_over_http_is_409(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(_settings(tmp_path, policy={"max_tickets_per_id": 1}),
                     clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T1"], "kiosk", rt.clock.now())
    client, headers = app.test_client(), {"Authorization": f"Bearer {value}"}
    body = {"queue": "A", "id_number": ID}
    assert client.post("/api/v1/halls/T1/tickets", json=body, headers=headers).status_code == 201
    r = client.post("/api/v1/halls/T1/tickets", json=body, headers=headers)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "id_cap_reached"
    rt.close()


def test_the_limit_counts_in_memory_without_a_thread_per_hit(monkeypatch):
    """limits' memory storage starts a timer thread every 10 ms under load; ours does not, and its
    counters still end with their window and are dropped when nobody reads them again."""
    import threading
    from limits import parse, strategies
    from hall.web.limits import QuietMemoryStorage

    store = QuietMemoryStorage()  # limits starts one timer when the storage is made
    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), real_start(self)))
    limiter, item = strategies.FixedWindowRateLimiter(store), parse("3/second")
    clock = [1000.0]
    monkeypatch.setattr("limits.storage.memory.time.time", lambda: clock[0])
    assert [limiter.hit(item, "api.issue", "k1") for _ in range(4)] == [True, True, True, False]
    assert started == []
    clock[0] += 1.5  # the window is over: the counter starts again
    assert limiter.hit(item, "api.issue", "k1")
    limiter.hit(item, "api.issue", "k2")
    clock[0] += 5
    monkeypatch.setattr("hall.web.limits.time.monotonic", lambda: clock[0] + 10_000)  # sweep due
    limiter.hit(item, "api.issue", "k3")
    assert [key for key in store.storage if "k1" in key or "k2" in key] == []  # expired, dropped
    assert started == []
