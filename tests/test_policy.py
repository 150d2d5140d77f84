"""Selection policy properties: FIFO within a class, bounded overtaking across classes."""
from __future__ import annotations

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import act, make_ticket
from hall.models import QueueCounter, Service, Ticket, TicketEvent, Window, WindowState

CLASSES = ["none", "none", "none", "elderly", "appointment", "enterprise"]
step = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(CLASSES), st.integers(0, 120)),
    st.tuples(st.just("call"), st.just(""), st.integers(0, 120)),
)


def _reset(rt, hall, clock, start):
    clock.set(start)
    with rt.db.write() as session:
        session.execute(sa.update(Window).values(ticket_id=None, state=WindowState.CLOSED))
        for model in (TicketEvent, Service, Ticket, QueueCounter):
            session.execute(sa.delete(model))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=50))
def test_fifo_within_a_class_and_bounded_overtaking(rt, hall, frozen_clock, steps):
    from support import MONDAY_9
    _reset(rt, hall, frozen_clock, MONDAY_9)
    issued: dict[int, tuple[str, float]] = {}
    served: list[int] = []
    for kind, cls, wait in steps:
        frozen_clock.advance(wait)
        if kind == "arrive":
            t = make_ticket(rt, hall, "B", cls)
            issued[t.id] = (cls, t.issued_at.timestamp())
        else:
            t = act(rt, hall, "call_next", 2)
            if t is not None:
                served.append(t.id)
    # Drain: everyone is eventually served (nobody is passed over for ever).
    while (t := act(rt, hall, "call_next", 2)) is not None:
        served.append(t.id)
    assert sorted(served) == sorted(issued)

    position = {tid: i for i, tid in enumerate(served)}
    max_boost = max(hall.settings.policy.boost(c) for c in CLASSES)
    for x, (cls_x, at_x) in issued.items():
        for y, (cls_y, at_y) in issued.items():
            if x == y or position[y] > position[x]:
                continue
            # y was served before x.
            if cls_x == cls_y:
                assert (at_y, y) < (at_x, x), "FIFO within a class"
            elif at_y > at_x:
                # y overtook x: only possible for tickets issued less than the boost after x.
                assert at_y - at_x < max_boost


def test_priority_ticket_goes_ahead_of_earlier_ordinary_ones(rt, hall, frozen_clock):
    ordinary = make_ticket(rt, hall, "B")
    frozen_clock.advance(300)
    elderly = make_ticket(rt, hall, "B", "elderly")
    assert act(rt, hall, "call_next", 2).id == elderly.id
    assert act(rt, hall, "call_next", 2).id == ordinary.id


def test_priority_cannot_overtake_a_ticket_older_than_the_boost(rt, hall, frozen_clock):
    ordinary = make_ticket(rt, hall, "B")
    frozen_clock.advance(hall.settings.policy.boost("elderly") + 1)
    make_ticket(rt, hall, "B", "elderly")
    assert act(rt, hall, "call_next", 2).id == ordinary.id


def test_ahead_counts_what_the_policy_would_call_first(rt, hall, frozen_clock):
    from hall import policy
    make_ticket(rt, hall, "B")
    frozen_clock.advance(10)
    make_ticket(rt, hall, "B")
    frozen_clock.advance(10)
    elderly = make_ticket(rt, hall, "B", "elderly")
    last = make_ticket(rt, hall, "B")
    with rt.db.read() as session:
        assert policy.count_ahead(session, session.get(Ticket, elderly.id)) == 0
        assert policy.count_ahead(session, session.get(Ticket, last.id)) == 3
