"""Routine jobs: closing a finished day and sweeping forgotten calls — idempotent, clock-driven."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import act, make_ticket, open_window
from hall import daily, scheduler
from hall.models import Ticket, TicketStatus, Window, WindowEvent, WindowState

CST = dt.timezone(dt.timedelta(hours=8))


def statuses(rt):
    with rt.db.read() as session:
        return dict(session.execute(sa.select(Ticket.number, Ticket.status)).all())


def test_close_day_cancels_uncalled_finishes_present_and_closes_windows(rt, hall, frozen_clock):
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "B")
    open_window(rt, hall, 1, "clerk01")
    act(rt, hall, "call_next", 1)  # A001 at window 1
    open_window(rt, hall, 2)
    act(rt, hall, "pause", 2, "lunch")
    frozen_clock.set(dt.datetime(2026, 12, 1, 1, 0, tzinfo=CST))  # Tuesday 01:00
    assert scheduler.close_finished_days(rt) == 1
    assert statuses(rt) == {"A001": TicketStatus.DONE, "A002": TicketStatus.CANCELLED,
                            "B001": TicketStatus.CANCELLED}
    with rt.db.read() as session:
        assert {w.state for w in session.scalars(sa.select(Window))} == {WindowState.CLOSED}
        reasons = session.scalars(sa.select(WindowEvent.reason).where(WindowEvent.kind == "sign_out")).all()
        assert sorted(reasons) == ["end_of_day", "end_of_day"]
        assert session.scalars(sa.select(Ticket.close_reason).where(Ticket.number == "A002")).one() \
            == "end_of_day"
    # Idempotent: a second run finds nothing to do and changes nothing.
    assert scheduler.close_finished_days(rt) == 0
    with rt.db.read() as session:
        assert len(session.scalars(sa.select(WindowEvent)).all()) == 5  # 2 sign-ins, pause, 2 sign-outs


def test_a_day_is_never_closed_while_it_lasts(rt, hall, frozen_clock):
    make_ticket(rt, hall, "A")
    frozen_clock.set(dt.datetime(2026, 11, 30, 18, 30, tzinfo=CST))  # extended hours (延时办)
    assert scheduler.close_finished_days(rt) == 0
    assert statuses(rt) == {"A001": TicketStatus.WAITING}
    with rt.db.write() as session, pytest.raises(ValueError):
        daily.close_day(session, hall, dt.date(2026, 11, 30), rt.clock.now())


def test_no_show_sweep_only_when_enabled_and_after_the_timeout(tmp_path, migrated_template,
                                                              frozen_clock):
    import shutil
    from support import hall_dict, settings_for
    from hall import runtime
    shutil.copy(migrated_template, tmp_path / "hall.db")
    settings = settings_for(tmp_path, [hall_dict(policy={"no_show_timeout_s": 300})])
    rt = runtime.start(settings, clock=frozen_clock)
    hall = rt.halls["T1"]
    try:
        make_ticket(rt, hall, "A")
        make_ticket(rt, hall, "A")
        act(rt, hall, "call_next", 1)
        act(rt, hall, "call_next", 3)
        frozen_clock.advance(200)
        act(rt, hall, "recall", 3)  # window 3 acted: its clock restarts
        frozen_clock.advance(150)
        assert scheduler.sweep_no_shows(rt) == 1
        assert statuses(rt) == {"A001": TicketStatus.NO_SHOW, "A002": TicketStatus.CALLED}
        assert scheduler.sweep_no_shows(rt) == 0
    finally:
        rt.close()


def test_only_one_scheduler_runs_the_jobs(rt, tmp_path):
    first = scheduler.SingleScheduler(rt, tmp_path / "jobs.lock")
    second = scheduler.SingleScheduler(rt, tmp_path / "jobs.lock")
    try:
        assert first.start() is True and first.running
        assert second.start() is False and not second.running
    finally:
        first.stop()
        second.stop()


def test_services_called_after_closing_count_as_extended_hours(rt, hall, frozen_clock):
    from hall import stats
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)  # 09:00, within hours
    frozen_clock.set(dt.datetime(2026, 11, 30, 17, 45, tzinfo=CST))  # after 17:30: 延时办
    act(rt, hall, "call_next", 1)  # finishes the first, calls the second
    act(rt, hall, "finish", 1)
    with rt.db.read() as session:
        figures = stats.day_stats(session, hall, dt.date(2026, 11, 30))
    assert (figures["services"], figures["extended_services"]) == (2, 1)


def test_closing_a_day_keeps_its_figures_once(rt, hall, frozen_clock):
    from hall import rollups, stats
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    frozen_clock.set(dt.datetime(2026, 12, 1, 1, 0, tzinfo=CST))
    assert scheduler.close_finished_days(rt) == 1
    day = dt.date(2026, 11, 30)
    with rt.db.read() as session:
        kept = rollups.get_rollup(session, hall, day)
        assert kept == stats.day_stats(session, hall, day)
    assert (kept["issued"], kept["served"], kept["waiting"]) == (2, 1, 0)  # A002 closed at day end
    with rt.db.write() as session:  # written again: replaced, not doubled
        rollups.write_rollup(session, hall, day, rt.clock.now())
    with rt.db.read() as session:
        assert session.query(rollups.DayRollup).count() == 1


def test_a_tidy_day_gets_its_figures_kept_too(rt, hall, frozen_clock):
    from hall import rollups
    make_ticket(rt, hall, "A")
    open_window(rt, hall, 1, "clerk01")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    act(rt, hall, "sign_out", 1)  # nothing left open at the end of the day
    frozen_clock.set(dt.datetime(2026, 12, 1, 1, 0, tzinfo=CST))
    assert scheduler.close_finished_days(rt) == 1
    assert scheduler.close_finished_days(rt) == 0  # kept once
    with rt.db.read() as session:
        assert rollups.get_rollup(session, hall, dt.date(2026, 11, 30))["served"] == 1
