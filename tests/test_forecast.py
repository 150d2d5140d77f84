"""The expected wait printed on tickets (hall/forecast.py): what a visitor in the hall would check.

The test hall T1: queue B (avg_service_s 600) is served by window 2 alone and by window 1 after
queue A (avg 300, also at window 3 by weight). Its accuracy on replayed days: bench/forecast_eval.py.
"""
from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from factories import act, make_ticket, open_window
from hall import calendar, forecast, present
from hall import runtime as runtime_mod
from hall.models import Ticket
from support import MONDAY_9, FrozenClock, settings_for


def _day(rt, hall):
    return calendar.business_day(rt.clock.now(), hall.timezone)


def _shown(rt, hall, tickets) -> list[int]:
    """What each ticket's page shows now (expected_wait_s of the ticket view)."""
    with rt.db.read() as session:
        return [present.ticket_view(session, hall, session.get(Ticket, t.id))["expected_wait_s"]
                for t in tickets]


def _estimate(rt, hall, queue: str, ahead: int, priority: str | None = None) -> int:
    with rt.db.read() as session:
        return forecast.expected_wait_s(session, hall, hall.queue_ids[queue], ahead, _day(rt, hall), priority)


def _queue_b(rt, hall, count: int, frozen_clock, priority: str = "none") -> list[Ticket]:
    made = []
    for _ in range(count):
        made.append(make_ticket(rt, hall, "B", priority))
        frozen_clock.advance(10)
    return made


def test_each_visitor_ahead_adds_the_time_a_window_takes_per_visitor(rt, hall, frozen_clock):
    open_window(rt, hall, 2, "clerk02")  # B's own window, idle; window 1 (A, then B) is closed
    tickets = _queue_b(rt, hall, 5, frozen_clock)
    # The first is called at once by the idle window; then one 10-minute service per visitor ahead.
    assert _shown(rt, hall, tickets) == [0, 600, 1200, 1800, 2400]
    act(rt, hall, "call_next", 2)  # B001 at the window from now
    assert _shown(rt, hall, tickets[1:]) == [600, 1200, 1800, 2400]


def test_the_wait_grows_with_the_people_ahead_and_the_next_visitor_is_never_promised_less(
        rt, hall, frozen_clock):
    for number, login in ((1, "clerk01"), (2, "clerk02")):
        open_window(rt, hall, number, login)
    make_ticket(rt, hall, "A")
    _queue_b(rt, hall, 3, frozen_clock, "elderly")
    act(rt, hall, "call_next", 2)
    act(rt, hall, "call_next", 1)
    frozen_clock.advance(200)
    tickets = _queue_b(rt, hall, 6, frozen_clock)
    shown = _shown(rt, hall, tickets)
    assert shown == sorted(shown) and len(set(shown)) == len(shown), shown
    estimates = [_estimate(rt, hall, "B", ahead) for ahead in range(12)]
    assert estimates == sorted(estimates) and estimates[-1] > estimates[0]


def test_a_queue_whose_windows_are_all_paused_does_not_promise_a_short_wait(rt, hall, frozen_clock):
    open_window(rt, hall, 2, "clerk02")
    act(rt, hall, "pause", 2, "break")
    ticket = make_ticket(rt, hall, "B")
    paused = _shown(rt, hall, [ticket])[0]
    assert paused >= forecast.RESIDUAL_SHARE * forecast.PAUSE_S
    frozen_clock.advance(600)  # ten minutes into the break: back sooner, not never
    make_ticket(rt, hall, "A")  # (the forecast's "now" is the hall's last action)
    assert forecast.RESIDUAL_SHARE * forecast.PAUSE_S <= _shown(rt, hall, [ticket])[0] < paused
    act(rt, hall, "resume", 2)
    assert _shown(rt, hall, [ticket]) == [0]


def test_a_window_busy_with_an_earlier_queue_is_not_counted_as_free(rt, hall, frozen_clock):
    open_window(rt, hall, 1, "clerk01")  # serves A first, then B; window 2 closed
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "A")
    ticket = make_ticket(rt, hall, "B")
    # Window 1 calls B once A's two visitors are through: at least their 2 × 300 s ÷ A's 2 windows.
    assert _shown(rt, hall, [ticket])[0] >= 300


def test_priority_tickets_still_to_come_lengthen_only_an_ordinary_ticket_s_wait(rt, hall, frozen_clock):
    open_window(rt, hall, 2, "clerk02")
    _queue_b(rt, hall, 4, frozen_clock, "elderly")  # a quarter of the last half hour's B tickets…
    _queue_b(rt, hall, 12, frozen_clock)
    ordinary, elderly = _estimate(rt, hall, "B", 6), _estimate(rt, hall, "B", 6, "elderly")
    assert elderly == 600 + 5 * 600  # the idle window takes one, then 5 × 600 s; nobody overtakes it
    assert ordinary > elderly  # …will keep coming and go ahead of an ordinary ticket


def _transfer_a_to_b(rt, hall, frozen_clock) -> None:
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    frozen_clock.advance(300)
    act(rt, hall, "transfer", 1, to_queue="B")
    act(rt, hall, "call_next", 2)  # the transferred visitor, called at B's window
    frozen_clock.advance(600)
    act(rt, hall, "finish", 2)


def test_visitors_transferred_in_keep_their_place_and_lengthen_an_ordinary_ticket_s_wait(
        rt, hall, frozen_clock, monkeypatch):
    for number, login in ((1, "clerk01"), (2, "clerk02")):
        open_window(rt, hall, number, login)
    for _ in range(3):
        _transfer_a_to_b(rt, hall, frozen_clock)
    act(rt, hall, "sign_out", 1)
    _queue_b(rt, hall, 4, frozen_clock)
    counted = _estimate(rt, hall, "B", 3)
    monkeypatch.setattr(forecast, "TRANSFER_PRIOR", math.inf)  # as if nobody were ever transferred
    assert counted > _estimate(rt, hall, "B", 3)


def test_the_estimate_follows_today_s_own_services(rt, hall, frozen_clock):
    open_window(rt, hall, 2, "clerk02")
    before = _estimate(rt, hall, "B", 2)  # configured: 600 s per visitor
    for _ in range(8):  # a morning of 20-minute services at B
        make_ticket(rt, hall, "B")
        act(rt, hall, "call_next", 2)
        frozen_clock.advance(1200)
        act(rt, hall, "finish", 2)
    slow = _estimate(rt, hall, "B", 2)
    with rt.db.read() as session:
        per_visitor = forecast.per_person_s(session, hall, hall.queue_ids["B"], _day(rt, hall))
    assert 600 < per_visitor < 1200 and slow > before
    for _ in range(8):  # visitors who left: the clerk recalls and skips them within 2 minutes
        make_ticket(rt, hall, "B")
        act(rt, hall, "call_next", 2)
        frozen_clock.advance(120)
        act(rt, hall, "no_show", 2)
    assert _estimate(rt, hall, "B", 2) < slow


def test_what_the_forecast_learns_is_read_from_the_database_by_any_process(rt, hall, frozen_clock, tmp_path):
    open_window(rt, hall, 2, "clerk02")
    for _ in range(4):
        make_ticket(rt, hall, "B")
        act(rt, hall, "call_next", 2)
        frozen_clock.advance(900)
        act(rt, hall, "finish", 2)
    _queue_b(rt, hall, 3, frozen_clock, "elderly")
    _queue_b(rt, hall, 3, frozen_clock)
    mine = [_estimate(rt, hall, "B", ahead) for ahead in (0, 3, 8)]
    other = runtime_mod.start(settings_for(tmp_path), clock=frozen_clock, base_url="http://hall.test")
    try:  # a second server process, or this one after a restart
        assert [_estimate(other, other.halls["T1"], "B", ahead) for ahead in (0, 3, 8)] == mine
    finally:
        other.close()


def test_a_queue_s_model_is_read_once_per_transaction_with_indexed_statements(rt, hall, frozen_clock):
    for number, login in ((1, "clerk01"), (2, "clerk02")):
        open_window(rt, hall, number, login)
    _transfer_a_to_b(rt, hall, frozen_clock)
    _queue_b(rt, hall, 3, frozen_clock)
    day, queue = _day(rt, hall), hall.queue_ids["B"]
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    sa.event.listen(rt.db.read_engine, "before_cursor_execute", record)
    try:
        with rt.db.read() as session:
            forecast.expected_wait_s(session, hall, queue, 2, day)
            first = len(seen)
            for ahead in range(10):  # the queue view and every ticket's view: nothing more to read
                forecast.expected_wait_s(session, hall, queue, ahead, day, "elderly")
            forecast.waiting(session, hall, queue, day)
    finally:
        sa.event.remove(rt.db.read_engine, "before_cursor_execute", record)
    # the log's last instant (no action in this transaction), recent services with arrivals (one
    # statement), the windows with the waiting counts (one statement)
    assert first == len(seen) == 3
    with rt.db.read() as session:
        raw = session.connection().connection.driver_connection
        for statement, params in seen:
            for *_, detail in raw.execute("EXPLAIN QUERY PLAN " + statement, params):
                # Tables by index or primary key only; the recent steps' ≤ 40 rows are summed up
                # from a sub-select (a co-routine read once).
                subquery = detail.split()[-1].startswith(("anon_", "recent", "arrivals"))
                compound = detail in ("COMPOUND QUERY", "LEFT-MOST SUBQUERY", "UNION ALL")
                assert detail.startswith("SEARCH") or subquery or compound, (detail, statement)


@pytest.mark.parametrize("priority", [None, "none", "elderly"])
def test_no_open_window_yet_counts_the_configured_ones(rt, hall, priority):
    # B is served by windows 1 and 2 once they open: both take one visitor at once, the third
    # is called when the first of those two services ends (600 s ÷ 2 on average).
    assert [_estimate(rt, hall, "B", ahead, priority) for ahead in range(4)] == [0, 0, 300, 600]


def _scenario(rt, hall, clock) -> list[int]:
    """A morning in a few actions: transfers into B, services, a no-show, priority and ordinary
    tickets, a busy window; then the estimates of A and B for a few people ahead and classes."""
    for number, login in ((1, "clerk01"), (2, "clerk02")):
        open_window(rt, hall, number, login)
    _transfer_a_to_b(rt, hall, clock)
    for seconds in (700, 90, 1000):
        make_ticket(rt, hall, "B")
        act(rt, hall, "call_next", 2)
        clock.advance(seconds)
        act(rt, hall, "no_show" if seconds < 100 else "finish", 2)
    _queue_b(rt, hall, 3, clock, "elderly")
    _queue_b(rt, hall, 5, clock)
    act(rt, hall, "call_next", 2)
    clock.advance(200)
    make_ticket(rt, hall, "A")
    return [_estimate(rt, hall, queue, ahead, priority)
            for queue in "AB" for ahead in (0, 2, 5) for priority in (None, "elderly")]


@pytest.fixture
def pg_url():
    from services import postgres_database
    yield from postgres_database()


def test_postgresql_gives_the_same_estimates_as_sqlite(rt, hall, frozen_clock, tmp_path, pg_url):
    # The seconds between two instants are computed by the database (julianday on SQLite,
    # EXTRACT(EPOCH …) on PostgreSQL): the same morning must give the same estimates.
    on_sqlite = _scenario(rt, hall, frozen_clock)
    clock = FrozenClock(MONDAY_9)
    other = runtime_mod.start(settings_for(tmp_path, database=pg_url), clock=clock,
                              base_url="http://hall.test")
    try:
        on_postgresql = _scenario(other, other.halls["T1"], clock)
    finally:
        other.close()
    assert max(abs(a - b) for a, b in zip(on_sqlite, on_postgresql)) <= 1, (on_sqlite, on_postgresql)
    assert len(set(on_sqlite)) > 4  # the scenario does move the estimates
