"""A serving process leaves full garbage collections to a daily run at night (hall/gcpolicy.py)."""
from __future__ import annotations

import datetime as dt
import gc

import pytest

from hall import gcpolicy


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_install_freezes_start_up_and_stops_automatic_full_collections(restore_gc, monkeypatch):
    monkeypatch.setattr(gcpolicy, "_daily", lambda at: None)  # no thread waiting for 03:00
    young, middle, _ = gc.get_threshold()
    gcpolicy.install()
    assert gc.get_freeze_count() > 1000  # modules, the app's classes: not walked again
    assert gc.get_threshold() == (young, middle, gcpolicy._NEVER)
    before = [g["collections"] for g in gc.get_stats()]
    for _ in range(200_000):  # cyclic garbage: many young collections, none may become a full one
        cycle: list = []
        cycle.append(cycle)
    after = [g["collections"] for g in gc.get_stats()]
    assert after[0] > before[0] + 100 and after[1] > before[1] + 10
    assert after[2] == before[2]


def test_the_daily_collection_finds_cycles_that_survived_the_day(restore_gc, monkeypatch):
    monkeypatch.setattr(gcpolicy, "_daily", lambda at: None)
    gcpolicy.install()

    class Node:
        pass

    node = Node()
    node.self = node
    gc.collect(1)  # young collections keep it (it is alive), it ages
    del node
    found, took = gcpolicy.collect_full()
    assert found >= 1 and took >= 0
    assert gc.get_freeze_count() > 0  # frozen again afterwards


@pytest.mark.parametrize("now, expected_h", [
    (dt.datetime(2026, 11, 30, 2, 0), 1.0),     # later tonight
    (dt.datetime(2026, 11, 30, 9, 0), 18.0),    # during opening hours: next night
    (dt.datetime(2026, 11, 30, 3, 0), 24.0),    # just ran: tomorrow
])
def test_the_daily_collection_runs_at_night(now, expected_h):
    assert gcpolicy.seconds_until(dt.time(3, 0), now) == expected_h * 3600
