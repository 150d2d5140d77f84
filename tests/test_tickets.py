"""Issuing tickets: numbering, caps, hours, validation, the event log and live events."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import make_ticket
from hall import events
from hall.errors import Conflict, DomainError, NotFound
from hall.models import QueueCounter, Ticket, TicketEvent, TicketStatus


def test_numbers_run_per_queue_from_001(rt, hall):
    numbers = [make_ticket(rt, hall, q).number for q in ("A", "A", "B", "A")]
    assert numbers == ["A001", "A002", "B001", "A003"]


def test_numbering_restarts_on_the_next_business_day_without_a_reset(rt, hall, frozen_clock):
    assert make_ticket(rt, hall, "A").number == "A001"
    assert make_ticket(rt, hall, "A").number == "A002"
    frozen_clock.advance(24 * 3600)  # Tuesday 09:00
    assert make_ticket(rt, hall, "A").number == "A001"


def test_issued_ticket_carries_ahead_and_expected_wait(rt, hall):
    make_ticket(rt, hall, "A")
    make_ticket(rt, hall, "A")
    with rt.db.write() as session:
        from hall import tickets
        issued = tickets.issue_ticket(session, hall, tickets.IssueRequest(queue="A"), "t",
                                      rt.clock.now())
    view = issued.view
    assert view["number"] == "A003" and view["ahead"] == 2
    # A is served by windows 1 and 3 (configured, none open yet): each takes one of the 2 ahead,
    # and this ticket is called when the first of those two 300 s services ends: 300 s ÷ 2.
    assert view["expected_wait_s"] == 150
    assert view["status"] == "waiting" and view["window"] is None
    assert view["track_url"].startswith("http://hall.test/t/")


def test_daily_cap_refuses_with_a_clear_error_and_leaves_no_gap(rt, hall):
    for _ in range(3):
        make_ticket(rt, hall, "C")
    with pytest.raises(Conflict) as err:
        make_ticket(rt, hall, "C")
    assert err.value.code == "queue_full" and "3" in err.value.message
    with rt.db.read() as session:
        counter = session.scalars(sa.select(QueueCounter)).all()
        assert {c.last_number for c in counter} == {3}


def test_closed_hall_refuses_and_names_the_next_opening(rt, hall, frozen_clock):
    frozen_clock.set(dt.datetime(2026, 11, 30, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with pytest.raises(Conflict) as err:
        make_ticket(rt, hall, "A")
    assert err.value.code == "hall_closed"
    assert "2026-11-30 13:30" in err.value.message


def test_weekend_refuses_until_monday(rt, hall, frozen_clock):
    frozen_clock.set(dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with pytest.raises(Conflict) as err:
        make_ticket(rt, hall, "A")
    assert "2026-12-07 08:30" in err.value.message


def test_last_ticket_time_closes_one_queue(rt, hall, frozen_clock):
    frozen_clock.set(dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with pytest.raises(Conflict) as err:
        make_ticket(rt, hall, "K")
    assert err.value.code == "queue_closed" and "17:00" in err.value.message
    assert make_ticket(rt, hall, "A").number == "A001"


def test_a_queue_closed_by_a_manager_refuses(rt, hall):
    from hall.models import Queue
    with rt.db.write() as session:
        session.get(Queue, hall.queue_ids["B"]).open = False
    with pytest.raises(Conflict) as err:
        make_ticket(rt, hall, "B")
    assert err.value.code == "queue_closed" and err.value.field == "queue"


@pytest.mark.parametrize("kwargs, code, field", [
    ({"queue": "Z"}, "unknown_queue", "queue"),
    ({"queue": "A", "priority": "vip"}, "invalid_priority", "priority"),
    ({"queue": "A", "channel": "fax"}, "invalid_channel", "channel"),
    ({"queue": "A", "matters": ["M2"]}, "unknown_matter", "matters"),
    ({"queue": "A", "phone": "12345"}, "invalid_phone", "phone"),
    ({"queue": "A", "id_number": "110101199003071234"}, "invalid_id_number", "id_number"),
    ({"queue": None}, "missing_queue", "queue"),
    ({"bundle": "NOPE"}, "unknown_bundle", "bundle"),
])
def test_bad_input_names_the_field_and_changes_nothing(rt, hall, kwargs, code, field):
    from hall import tickets
    with pytest.raises(DomainError) as err:
        with rt.db.write() as session:
            tickets.issue_ticket(session, hall, tickets.IssueRequest(**kwargs), "t", rt.clock.now())
    assert err.value.code == code and err.value.field == field
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_personal_data_is_kept_only_hashed_and_masked(rt, hall):
    ticket = make_ticket(rt, hall, "A", phone="13812345678", id_number="11010519491231002X")
    assert ticket.phone_masked == "138****5678"
    assert ticket.id_masked == "110***********002X"
    assert "13812345678" not in (ticket.phone_hash or "")
    with rt.db.read() as session:
        row = session.get(Ticket, ticket.id)
        assert row.phone_hash and row.id_hash and row.id_hash != row.phone_hash


def test_every_issue_is_logged_and_published_after_commit(rt, hall):
    seen = []
    rt.bus.subscribe(seen.append)
    ticket = make_ticket(rt, hall, "A")
    assert rt.bus.wait_idle()
    assert [e.name for e in seen] == [events.TICKET_ISSUED, events.QUEUE_CHANGED]
    assert [e.seq for e in seen] == [1, 2]
    assert seen[0].payload["ticket"]["number"] == "A001"
    assert seen[1].payload["queue"] == {**seen[1].payload["queue"], "prefix": "A", "waiting": 1}
    with rt.db.read() as session:
        log = session.scalars(sa.select(TicketEvent)).all()
    assert [(e.ticket_id, e.kind, e.actor) for e in log] == [(ticket.id, "issued", "test")]


def test_a_refused_issue_publishes_nothing_and_uses_no_seq(rt, hall):
    seen = []
    rt.bus.subscribe(seen.append)
    with pytest.raises(NotFound):
        make_ticket(rt, hall, "Z")
    make_ticket(rt, hall, "A")
    assert rt.bus.wait_idle()
    assert [e.seq for e in seen] == [1, 2]


def test_cancel_a_waiting_ticket(rt, hall):
    from hall import tickets
    ticket = make_ticket(rt, hall, "A")
    with rt.db.write() as session:
        tickets.cancel_ticket(session, hall, ticket.id, "test", rt.clock.now(), "visitor left")
    with rt.db.read() as session:
        assert session.get(Ticket, ticket.id).status == TicketStatus.CANCELLED
    with pytest.raises(Conflict):
        with rt.db.write() as session:
            tickets.cancel_ticket(session, hall, ticket.id, "test", rt.clock.now())


def test_bundle_is_one_ticket_through_its_queues(rt, hall):
    from factories import act, open_window
    ticket = make_ticket(rt, hall, None, bundle="QY")
    assert ticket.number == "C001"
    open_window(rt, hall, 3)
    assert act(rt, hall, "call_next", 3).id == ticket.id
    after = act(rt, hall, "finish", 3)
    assert after.status == TicketStatus.WAITING and hall.queue_prefixes[after.queue_id] == "B"
    open_window(rt, hall, 2)
    assert act(rt, hall, "call_next", 2).number == "C001"
    assert act(rt, hall, "finish", 2).status == TicketStatus.DONE
