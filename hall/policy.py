"""Which waiting ticket a window gets next: its queues in order or by weight, priority with a bound.

Every ticket carries one ordering key, ``sort_key`` = issue time − the boost of its
priority class (config ``policy.priority_boost_s``, 0 for ordinary tickets). Within a
queue the smallest key goes first. Hence:

* first come, first served within a class (same boost, so issue order);
* a priority ticket goes ahead of ordinary tickets issued up to ``boost`` seconds
  before it, never further: an ordinary ticket is overtaken only by tickets issued
  less than the largest boost after it, so nobody is passed over without bound;
* a transferred ticket keeps its key, so it is placed by its original issue time and
  priority and the visitor does not queue again.

A window in ``order`` mode serves the first of its queues that has anyone waiting; in
``weighted`` mode the queue whose head has the largest weight × wait. Tickets
transferred to this very window come before both.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.models import Priority, Ticket, TicketStatus, Window


def sort_key(issued_at: dt.datetime, priority: Priority, policy: Any) -> float:
    boost = 0 if priority is Priority.NONE else policy.boost(priority.value)
    return issued_at.timestamp() - boost


@functools.lru_cache(maxsize=None)
def _heads(queues: int) -> sa.CompoundSelect:
    """One statement for every head a window could call: the first ticket sent to the window
    (rank -1), and the first of each of its ``queues`` queues (rank = position in the window's
    list); each part is a range scan of an index (ix_tickets_targeted, ix_tickets_waiting)."""

    def head(rank: int, *where: Any) -> sa.Select:
        part = (sa.select(Ticket.id, Ticket.sort_key, sa.literal_column(str(rank)).label("rank"))
                .where(Ticket.status == TicketStatus.WAITING, *where)
                .order_by(Ticket.sort_key, Ticket.id).limit(1).subquery(f"h{rank + 1}"))
        return sa.select(part)

    parts = [head(-1, Ticket.target_window_id == sa.bindparam("window"))]
    parts += [head(i, Ticket.queue_id == sa.bindparam(f"q{i}"), Ticket.target_window_id.is_(None))
              for i in range(queues)]
    return sa.union_all(*parts)


def select_next(session: so.Session, window: Window, now: dt.datetime) -> Ticket | None:
    """The ticket ``window`` should call now, or None when nobody it serves is waiting."""
    with session.no_autoflush:  # its queues do not depend on this transaction's pending changes
        serves = list(window.serves)  # ordered by position
    if any(isinstance(o, Ticket) and o.status == TicketStatus.WAITING
           for o in (*session.new, *session.dirty)):
        session.flush()  # a Core statement does not autoflush (a bundle's ticket may just have moved on)
    params: dict[str, int] = {"window": window.id}
    params.update((f"q{i}", served.queue_id) for i, served in enumerate(serves))
    heads = {rank: (ticket_id, key) for ticket_id, key, rank
             in session.connection().execute(_heads(len(serves)), params)}
    if not heads:
        return None
    if -1 in heads:  # transferred to this very window: before both modes
        chosen = heads[-1][0]
    elif window.mode != "weighted":
        chosen = heads[min(heads)][0]
    else:
        def merit(rank: int) -> tuple[float, int]:
            served = serves[rank]
            return served.weight * (now.timestamp() - heads[rank][1]), -served.position
        chosen = heads[max(heads, key=merit)][0]
    with session.no_autoflush:  # the chosen row is as the statement above saw it
        return session.get(Ticket, chosen)


def _ahead_statement(scope: Any) -> sa.Select:
    # Built once: this runs on every issue and every ticket view (hot path).
    # A row-value comparison, not an OR: it stays a range scan of ix_tickets_waiting.
    return sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.status == TicketStatus.WAITING, scope,
        sa.tuple_(Ticket.sort_key, Ticket.id) < sa.tuple_(sa.bindparam("key"), sa.bindparam("id")))


_AHEAD_IN_QUEUE = _ahead_statement(sa.and_(Ticket.queue_id == sa.bindparam("scope"),
                                           Ticket.target_window_id.is_(None)))
_AHEAD_AT_WINDOW = _ahead_statement(Ticket.target_window_id == sa.bindparam("scope"))


def count_ahead(session: so.Session, ticket: Ticket) -> int:
    """Waiting tickets that the policy would call before ``ticket`` in its queue."""
    if ticket.status != TicketStatus.WAITING:
        return 0
    session.flush()  # Core statements below do not autoflush
    if ticket.target_window_id:
        statement, scope = _AHEAD_AT_WINDOW, ticket.target_window_id
    else:
        statement, scope = _AHEAD_IN_QUEUE, ticket.queue_id
    return session.connection().execute(statement, {"scope": scope, "key": ticket.sort_key,
                                       "id": ticket.id}).scalar() or 0
