"""The window state machine: sign-in, call, recall, no-show, finish, transfer, pause, attendance."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from factories import act, make_ticket, open_window
from hall import events
from hall.errors import Conflict, DomainError, NotFound
from hall.models import (Service, Ticket, TicketEvent, TicketStatus, Window, WindowEvent,
                         WindowState)


def window_row(rt, hall, number):
    with rt.db.read() as session:
        return session.get(Window, hall.window_ids[number])


def ticket_row(rt, ticket_id):
    with rt.db.read() as session:
        return session.get(Ticket, ticket_id)


def test_call_next_serves_in_issue_order_and_returns_none_when_empty(rt, hall):
    a1, a2 = make_ticket(rt, hall, "A"), make_ticket(rt, hall, "A")
    open_window(rt, hall, 1, "clerk01")
    assert act(rt, hall, "call_next", 1).id == a1.id
    assert window_row(rt, hall, 1).state == WindowState.SERVING
    assert act(rt, hall, "call_next", 1).id == a2.id  # 下一位 finishes A001 first
    assert ticket_row(rt, a1.id).status == TicketStatus.DONE
    assert act(rt, hall, "call_next", 1) is None
    assert window_row(rt, hall, 1).state == WindowState.IDLE


def test_order_mode_serves_the_first_queue_with_anyone_waiting(rt, hall):
    b1 = make_ticket(rt, hall, "B")
    a1 = make_ticket(rt, hall, "A")
    open_window(rt, hall, 1)
    assert act(rt, hall, "call_next", 1).id == a1.id  # window 1 serves A before B
    assert act(rt, hall, "call_next", 1).id == b1.id


def test_weighted_mode_prefers_weight_times_wait(rt, hall, frozen_clock):
    a1 = make_ticket(rt, hall, "A")
    frozen_clock.advance(100)
    c1 = make_ticket(rt, hall, "C")
    frozen_clock.advance(60)
    # A waited 160 s × 1 < C waited 60 s × 3: C goes first at window 3.
    open_window(rt, hall, 3)
    assert act(rt, hall, "call_next", 3).id == c1.id
    assert act(rt, hall, "call_next", 3).id == a1.id


def test_a_ticket_is_called_by_one_window_only(rt, hall):
    make_ticket(rt, hall, "B")
    open_window(rt, hall, 1)
    open_window(rt, hall, 2)
    first = act(rt, hall, "call_next", 2)
    assert first is not None
    assert act(rt, hall, "call_next", 1) is None


def test_calling_at_a_closed_window_opens_it_and_records_the_sign_in(rt, hall):
    make_ticket(rt, hall, "B")
    assert act(rt, hall, "call_next", 2) is not None
    with rt.db.read() as session:
        kinds = session.scalars(sa.select(WindowEvent.kind)).all()
    assert kinds == ["sign_in"]


def test_recall_counts_and_publishes(rt, hall):
    seen = []
    rt.bus.subscribe(seen.append, events.TICKET_RECALLED)
    make_ticket(rt, hall, "A")
    open_window(rt, hall, 1)
    act(rt, hall, "call_next", 1)
    act(rt, hall, "recall", 1)
    act(rt, hall, "recall", 1)
    assert rt.bus.wait_idle()
    assert [e.payload["recalls"] for e in seen] == [1, 2]
    assert seen[0].payload["window"] == {"number": 1, "name": "1号窗口"}
    with rt.db.read() as session:
        assert session.scalars(sa.select(Service.recalls)).one() == 2


def test_no_show_closes_the_ticket_and_frees_the_window(rt, hall):
    t = make_ticket(rt, hall, "A")
    open_window(rt, hall, 1)
    act(rt, hall, "call_next", 1)
    act(rt, hall, "no_show", 1)
    assert ticket_row(rt, t.id).status == TicketStatus.NO_SHOW
    assert window_row(rt, hall, 1).state == WindowState.IDLE
    with pytest.raises(Conflict) as err:
        act(rt, hall, "no_show", 1)
    assert err.value.code == "no_current_ticket"


def test_finish_outcome_is_validated(rt, hall):
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    with pytest.raises(DomainError) as err:
        act(rt, hall, "finish", 1, "maybe")
    assert err.value.field == "outcome"
    assert act(rt, hall, "finish", 1, "unresolved").status == TicketStatus.DONE


def test_transfer_to_a_queue_keeps_the_original_place(rt, hall, frozen_clock):
    a1 = make_ticket(rt, hall, "A")
    frozen_clock.advance(60)
    b1 = make_ticket(rt, hall, "B")
    open_window(rt, hall, 1)
    act(rt, hall, "call_next", 1)  # A001
    frozen_clock.advance(60)
    moved = act(rt, hall, "transfer", 1, to_queue="B")
    assert moved.status == TicketStatus.WAITING and hall.queue_prefixes[moved.queue_id] == "B"
    assert moved.number == "A001"  # the visitor keeps the same ticket
    open_window(rt, hall, 2)
    # A001 was issued before B001, so it goes first in B: no queueing again.
    assert act(rt, hall, "call_next", 2).id == a1.id
    assert act(rt, hall, "call_next", 2).id == b1.id


def test_transfer_to_a_named_window_only_that_window_calls_it(rt, hall):
    make_ticket(rt, hall, "A")
    open_window(rt, hall, 1)
    t = act(rt, hall, "call_next", 1)
    act(rt, hall, "transfer", 1, to_window=3)
    open_window(rt, hall, 2)
    assert act(rt, hall, "call_next", 1) is None  # window 1 no longer has it
    assert act(rt, hall, "call_next", 3).id == t.id


@pytest.mark.parametrize("kwargs, code", [
    ({}, "invalid_transfer"), ({"to_queue": "B", "to_window": 2}, "invalid_transfer"),
    ({"to_window": 1}, "invalid_transfer"), ({"to_queue": "Z"}, "unknown_queue"),
    ({"to_window": 99}, "unknown_window"),
])
def test_bad_transfers_are_refused_and_change_nothing(rt, hall, kwargs, code):
    t = make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    with pytest.raises(DomainError) as err:
        act(rt, hall, "transfer", 1, **kwargs)
    assert err.value.code == code
    assert ticket_row(rt, t.id).status == TicketStatus.CALLED


def test_pause_and_resume_are_recorded_with_reason(rt, hall):
    open_window(rt, hall, 2, "clerk02")
    act(rt, hall, "pause", 2, "meeting")
    w = window_row(rt, hall, 2)
    assert (w.state, w.pause_reason) == (WindowState.PAUSED, "meeting")
    make_ticket(rt, hall, "B")
    with pytest.raises(Conflict) as err:
        act(rt, hall, "call_next", 2)
    assert err.value.code == "window_paused"
    act(rt, hall, "resume", 2)
    assert act(rt, hall, "call_next", 2) is not None
    with rt.db.read() as session:
        rows = session.execute(sa.select(WindowEvent.kind, WindowEvent.reason)
                               .order_by(WindowEvent.id)).all()
    assert rows == [("sign_in", None), ("pause", "meeting"), ("resume", None)]


def test_pause_needs_an_open_window_without_a_visitor(rt, hall):
    with pytest.raises(Conflict):
        act(rt, hall, "pause", 1, "break")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    with pytest.raises(Conflict) as err:
        act(rt, hall, "pause", 1, "break")
    assert err.value.code == "window_busy"


def test_sign_in_checks_staff_and_assignment(rt, hall):
    with pytest.raises(NotFound):
        open_window(rt, hall, 1, "nobody")
    with pytest.raises(Conflict) as err:
        open_window(rt, hall, 1, "clerk02")  # clerk02 works at windows 2 and 3
    assert err.value.code == "window_not_assigned"
    w = open_window(rt, hall, 1, "clerk01")
    assert w.state == WindowState.IDLE
    with rt.db.read() as session:
        from hall import present
        assert present.window_view(session, hall, session.get(Window, w.id))["clerk"] == "王芳"


def test_sign_out_refused_with_a_visitor_then_closes(rt, hall):
    make_ticket(rt, hall, "A")
    open_window(rt, hall, 1, "clerk01")
    act(rt, hall, "call_next", 1)
    with pytest.raises(Conflict):
        act(rt, hall, "sign_out", 1)
    act(rt, hall, "finish", 1)
    assert act(rt, hall, "sign_out", 1).state == WindowState.CLOSED


def test_every_transition_is_in_the_append_only_log(rt, hall):
    t = make_ticket(rt, hall, "A")
    open_window(rt, hall, 1, "clerk01")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "recall", 1)
    act(rt, hall, "transfer", 1, to_queue="B")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    with rt.db.read() as session:
        log = session.execute(sa.select(TicketEvent.kind, TicketEvent.window_id)
                              .where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)).all()
        services = session.scalars(sa.select(Service).order_by(Service.id)).all()
    w1 = hall.window_ids[1]
    assert log == [("issued", None), ("called", w1), ("recalled", w1), ("transferred", w1),
                   ("called", w1), ("finished", w1)]
    assert [s.outcome for s in services] == ["transferred", "done"]


def test_window_events_follow_every_change_with_consecutive_seq(rt, hall):
    seen = []
    rt.bus.subscribe(seen.append)
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "finish", 1)
    assert rt.bus.wait_idle()
    names = [e.name for e in seen]
    # One window.changed per action: opening the closed window is part of the call.
    assert names == ["ticket.issued", "queue.changed", "ticket.called", "window.changed",
                     "queue.changed", "ticket.finished", "window.changed"]
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    called = seen[2].payload
    assert called["ticket"]["status"] == "called" and called["ticket"]["window"] == 1
