"""Reports from the kept day rollups (hall.rollups.DayRollupPart): the same figures as from the
tickets, for every grouping; today and days without rollups read from the tickets; a changed
service-level target reads the tickets again."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from hall import daily, reports, rollups
from test_reports import MON, TUE, at, build

WED = TUE + dt.timedelta(days=1)


def close(rt, hall, day):
    with rt.db.write() as session:
        daily.close_day(session, hall, day, rt.clock.now())


def both(rt, hall, by, start=MON, end=TUE, now=None):
    with rt.db.read() as session:
        now = now or rt.clock.now()
        return (reports.report(session, hall, start, end, by, now=now),
                reports.report(session, hall, start, end, by, now=now, use_rollups=False))


@pytest.fixture
def closed(rt, hall):
    """The hand-made Monday and Tuesday of test_reports, both closed by the end-of-day job."""
    build(rt, hall)
    rt.clock.set(at(WED, "01:00"))
    close(rt, hall, MON)
    close(rt, hall, TUE)
    return rt


@pytest.fixture
def reads(monkeypatch):
    """The days each report read from the tickets (None: its whole period)."""
    seen: list[list[dt.date] | None] = []
    day_parts = reports.day_parts

    def counting(*args, **kwargs):
        seen.append(kwargs.get("days"))
        return day_parts(*args, **kwargs)

    monkeypatch.setattr(reports, "day_parts", counting)
    return seen


@pytest.mark.parametrize("by", reports.GROUPINGS)
def test_closed_days_come_from_the_rollups_with_the_same_figures(closed, hall, reads, by):
    kept, raw = both(closed, hall, by)
    assert reads == [None]  # only the raw report read the tickets
    assert kept == raw


def test_the_hand_made_figures_hold_from_the_rollups(closed, hall):
    kept, _ = both(closed, hall, "day")
    mon, tue = kept["rows"]
    assert (mon["issued"], mon["served"], mon["no_show"], mon["services"]) == (4, 3, 1, 3)
    assert (mon["avg_wait_s"], mon["max_wait_s"], mon["avg_service_s"]) == (1275.0, 2400.0, 600.0)
    assert mon["service_level"] == 0.5 and mon["extended_services"] == 1
    assert (tue["issued"], tue["served"], tue["services"], tue["avg_wait_s"]) == (1, 1, 2, 300.0)
    assert kept["total"]["daily_avg_issued"] == 2.5
    windows = {r["key"]: r for r in both(closed, hall, "window", MON, MON)[0]["rows"]}
    assert windows[1]["utilisation"] == round(2100 / 9900, 4)


def test_today_and_days_not_closed_are_read_from_the_tickets(rt, hall, reads):
    build(rt, hall)  # the clock is at Tuesday 12:00
    close(rt, hall, MON)
    for by in reports.GROUPINGS:
        reads.clear()
        kept, raw = both(rt, hall, by)
        assert reads[0] == [TUE] and kept == raw, by
    # a period of kept days only reads no ticket
    reads.clear()
    both(rt, hall, "day", MON, MON)
    assert reads == [None]


def test_a_changed_target_reads_the_tickets_again(closed, hall, reads):
    policy = dataclasses.replace(hall, settings=hall.settings.model_copy(update={
        "policy": hall.settings.policy.model_copy(update={"target_wait_s": 600})}))
    kept, raw = both(closed, policy, "day")
    assert reads == [None, None] and kept == raw
    assert kept["total"]["service_level"] == round(3 / 6, 4)  # waits 600, 300, 300 within 600 s


def test_closing_again_replaces_the_parts(closed, hall):
    with closed.db.read() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(rollups.DayRollupPart))
    close(closed, hall, MON)
    with closed.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(rollups.DayRollupPart)) == before
        dims = set(session.scalars(sa.select(rollups.DayRollupPart.dim).distinct()))
    assert dims == {"day", "hour", "queue", "window", "clerk"}


def test_days_without_tickets_are_kept_with_their_window_time(rt, hall, reads):
    from factories import act, make_ticket, open_window
    sat, sun = MON - dt.timedelta(days=2), MON - dt.timedelta(days=1)
    rt.clock.set(at(sat, "09:00"))
    open_window(rt, hall, 1, "clerk01")  # a Saturday clerk, no visitor
    rt.clock.set(at(sat, "11:00"))
    act(rt, hall, "sign_out", 1)
    rt.clock.set(at(MON, "09:00"))
    open_window(rt, hall, 1, "clerk01")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    rt.clock.set(at(MON, "09:20"))
    act(rt, hall, "finish", 1)
    rt.clock.set(at(TUE, "01:00"))
    close(rt, hall, MON)
    P = rollups.DayRollupPart
    with rt.db.read() as session:
        kept = set(session.scalars(sa.select(P.business_day).where(P.dim == "day")))
        (saturday,) = session.execute(sa.select(P.ref, P.open_ms).where(
            P.dim == "window", P.business_day == sat)).all()
    assert {sat, sun, MON} <= kept and len(kept) == rollups.GAP_DAYS + 1
    assert saturday == (hall.window_ids[1], 2 * 3600 * 1000)
    reads.clear()
    kept_report, raw = both(rt, hall, "window", sat, MON)
    assert reads == [None] and kept_report == raw  # nothing read from the tickets but the raw one
    assert kept_report["total"]["utilisation"] == round(1200 / (2 * 3600 + 15 * 3600), 4)
