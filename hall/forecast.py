"""Expected wait for a ticket: when the windows serving its queue will have called everyone ahead of it."""
# The method and its figures: docs/forecast.md. In short, the queue is played forward cheaply:
# * each open window that would call the queue now (order mode: none of the queues it serves
#   first has anyone waiting; weighted mode: at its weight's share) is free at 0 if idle, else
#   after the rest of its current service (mean − time spent, at least RESIDUAL_SHARE × mean),
#   the busy windows' rests spread as a race (the first of k frees after 1 / Σ 1/rest);
# * the people ahead go one by one to whichever window is free first, each taking the queue's
#   mean service (its last services today, the configured avg_service_s counting as PRIOR_WEIGHT);
# * an ordinary visitor is overtaken by the priority tickets still to come while they wait (up
#   to the boost): the queue's priority arrivals of the last HORIZON_S seconds as a rate.
# "Now" is the instant of the hall's last logged action: inside an action, that action.
from __future__ import annotations

import datetime as dt
import heapq
import math

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.directory import HallRef
from hall.models import (OPEN_WINDOW_STATES, Priority, Service, Ticket, TicketEvent, TicketStatus,
                         Window, WindowQueue, WindowState)

RECENT_SERVICES = 20
PRIOR_WEIGHT = 10      # the configured avg_service_s counts as this many services in the mean
RESIDUAL_SHARE = 0.3   # a service past its mean is expected to need this share of the mean again
HORIZON_S = 1800       # priority arrivals counted over the last 30 minutes
OUTCOMES = ("done", "unresolved", "transferred")
ROUNDS = 4             # fixed-point rounds for the priority tickets still to come

# Built once with bound parameters: the forecast runs on every issue (hot path).
_RECENT = (sa.select(Service.last_called_at, Service.ended_at)  # a range of ix_services_queue_day
           .where(Service.queue_id == sa.bindparam("queue"), Service.business_day == sa.bindparam("day"),
                  Service.outcome.in_(sa.bindparam("outcomes", expanding=True)))
           .order_by(Service.ended_at.desc()).limit(RECENT_SERVICES))
_OPEN_SERVING = (sa.select(Window.id, WindowQueue.queue_id)
                 .join(WindowQueue, WindowQueue.window_id == Window.id)
                 .where(Window.hall_id == sa.bindparam("hall"), Window.state.in_(OPEN_WINDOW_STATES),
                        Window.id.in_(sa.select(WindowQueue.window_id)
                                      .where(WindowQueue.queue_id == sa.bindparam("queue")))))
_BUSY_QUEUES = (sa.select(Ticket.queue_id).where(Ticket.hall_id == sa.bindparam("hall"),
                                                 Ticket.status == TicketStatus.WAITING).distinct())
_WINDOWS = (sa.select(Window.id, Window.state, Service.queue_id, Service.last_called_at)
            .outerjoin(Service, sa.and_(Service.ticket_id == Window.ticket_id, Service.ended_at.is_(None)))
            .where(Window.id.in_(sa.bindparam("ids", expanding=True))))
_WAITING = (sa.select(Ticket.queue_id, sa.func.count())
            .where(Ticket.queue_id.in_(sa.bindparam("queues", expanding=True)),
                   Ticket.status == TicketStatus.WAITING).group_by(Ticket.queue_id))
_NOW = sa.select(sa.func.max(TicketEvent.at)).where(TicketEvent.hall_id == sa.bindparam("hall"))
# Priority tickets of the queue issued lately: those still to come go ahead of an ordinary visitor.
# (origin_queue_id, business_day) leads the numbering's unique index: a range of today's tickets
# of the queue, not of the whole hall.
_PRIORITY_ARRIVALS = (sa.select(sa.func.count()).select_from(Ticket)
                      .where(Ticket.origin_queue_id == sa.bindparam("queue"),
                             Ticket.business_day == sa.bindparam("day"),
                             Ticket.priority != Priority.NONE, Ticket.issued_at >= sa.bindparam("since")))


def mean_service_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    """Mean of the queue's last services today, the configured ``avg_service_s`` counting as
    ``PRIOR_WEIGHT`` of them (a few long services do not swing the estimate)."""
    durations = session.connection().execute(_RECENT, {"day": day, "queue": queue_id,
                                                       "outcomes": OUTCOMES}).all()
    configured = float(hall.queue_settings(queue_id).avg_service_s)
    total = sum((end - start).total_seconds() for start, end in durations)
    return (PRIOR_WEIGHT * configured + total) / (PRIOR_WEIGHT + len(durations))


def servers(session: so.Session, hall: HallRef, queue_id: int) -> float:
    """Windows working on ``queue_id`` now, shared among the busy queues each one serves
    (the first estimator's count; kept for comparison and for callers)."""
    rows = session.connection().execute(_OPEN_SERVING, {"hall": hall.id, "queue": queue_id}).all()
    if not rows:
        configured = sum(1 for w in hall.settings.windows
                         if hall.queue_prefixes[queue_id] in w.queues)
        return float(max(configured, 1))
    busy = set(session.connection().execute(_BUSY_QUEUES, {"hall": hall.id}).scalars())
    busy.add(queue_id)
    per_window: dict[int, int] = {}
    for window_id, served in rows:
        if served in busy:
            per_window[window_id] = per_window.get(window_id, 0) + 1
    return sum(1 / k for k in per_window.values()) or 1.0


def _free_windows(session: so.Session, hall: HallRef, queue_id: int, service_s: float,
                  now: dt.datetime | None) -> tuple[list[tuple[float, float]], dict[int, int]]:
    """(free in s, seconds per visitor of this queue) of each window that would call the queue,
    and the people waiting in each queue those windows serve (this one included)."""
    prefix = hall.queue_prefixes[queue_id]
    serving = [w for w in hall.settings.windows if prefix in w.queues and w.number in hall.window_ids]
    conn = session.connection()
    ids = [hall.window_ids[w.number] for w in serving]
    states = {wid: (state, queue, since) for wid, state, queue, since
              in conn.execute(_WINDOWS, {"ids": ids}).all()} if ids else {}
    others = sorted({hall.queue_ids[p] for w in serving for p in w.queues} | {queue_id})
    waiting = dict(conn.execute(_WAITING, {"queues": others}).all()) if others else {}
    opened, free = [], []
    for w, wid in zip(serving, ids):
        state, current, since = states.get(wid, (WindowState.CLOSED, None, None))
        if state not in OPEN_WINDOW_STATES:
            continue
        opened.append(w)
        if state == WindowState.PAUSED:
            continue
        if w.mode == "weighted":
            busy = [p for p in w.queues if p == prefix or waiting.get(hall.queue_ids[p])]
            share = w.weight(prefix) / sum(w.weight(p) for p in busy)
        else:
            before = w.queues[:w.queues.index(prefix)]
            if any(waiting.get(hall.queue_ids[p]) for p in before):
                continue
            share = 1.0
        rest = 0.0
        if current is not None and since is not None and now is not None:
            mean = service_s if current == queue_id else float(hall.queue_settings(current).avg_service_s)
            rest = max(mean - (now - since).total_seconds(), RESIDUAL_SHARE * mean)
        free.append((rest, service_s / share))
    free = _race(free)
    if not free:  # nobody would call it now: every window that serves it, as if free
        count = len(opened) or len(serving) or 1
        free = [(0.0, service_s)] * count
    return free, waiting


def _race(free: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Spread the busy windows' expected rests as a race: the first of k busy windows is free,
    on average, after 1 / Σ 1/rest (memoryless rests), not after the smallest expected rest."""
    idle = [w for w in free if w[0] <= 0]
    busy = sorted(w for w in free if w[0] > 0)
    out, at = list(idle), 0.0
    for i, (rest, per) in enumerate(busy):
        at += 1 / sum(1 / r for r, _ in busy[i:])
        out.append((at, per))
    return out


class _CallTimes:
    """When the next waiting visitors are called, in order (each free window takes the next),
    played forward once per model and extended on demand: a long queue's view, its tickets and
    the fixed-point rounds all read the same list instead of replaying it each time."""

    def __init__(self, free: list[tuple[float, float]]) -> None:
        self._heap = list(free)
        heapq.heapify(self._heap)
        self.times: list[float] = []

    def upto(self, count: int) -> list[float]:
        heap, times = self._heap, self.times
        while len(times) < count:
            at, per = heap[0]
            times.append(at)
            heapq.heapreplace(heap, (at + per, per))
        return times


_MEMO = "hall.forecast"
_ACTION_AT = "hall.action_at"


def note_action(session: so.Session, at: dt.datetime) -> None:
    """An action logged at ``at`` in this transaction: the forecast's "now" without asking the log."""
    known = session.info.get(_ACTION_AT)
    if known is None or at > known:
        session.info[_ACTION_AT] = at


def bind(session_factory: so.sessionmaker) -> None:
    """Forget a transaction's forecast models whenever it writes changes (they would be stale)."""

    @sa.event.listens_for(session_factory, "after_flush")
    def _forget(session: so.Session, flush_context: object) -> None:
        session.info.pop(_MEMO, None)


def _model(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> dict:
    """What the estimate of ``queue_id`` needs, read once per transaction (until its next change)."""
    session.flush()  # Core statements below do not autoflush
    memo = session.info.setdefault(_MEMO, {})
    key = (queue_id, day)
    if key not in memo:
        conn = session.connection()
        service_s = mean_service_s(session, hall, queue_id, day)
        now = session.info.get(_ACTION_AT) or conn.execute(_NOW, {"hall": hall.id}).scalar()
        boost = max((s for _, s in hall.settings.policy.priority_boost_s), default=0)
        rate = 0.0
        if now is not None and boost:
            since = now - dt.timedelta(seconds=HORIZON_S)
            arrivals = conn.execute(_PRIORITY_ARRIVALS, {"day": day, "queue": queue_id,
                                                         "since": since}).scalar() or 0
            rate = arrivals / HORIZON_S
        free, waiting = _free_windows(session, hall, queue_id, service_s, now)
        memo[key] = {"free": free, "priority_rate": rate, "boost": boost,
                     "waiting": waiting.get(queue_id, 0), "calls": _CallTimes(free)}
    return memo[key]


def waiting(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> int:
    """People waiting in ``queue_id`` now, as the forecast of this transaction counted them."""
    return _model(session, hall, queue_id, day)["waiting"]


def per_person_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    """Seconds of waiting each person ahead adds once every window is busy."""
    free = _model(session, hall, queue_id, day)["free"]
    return 1 / sum(1 / per for _, per in free)


def expected_wait_s(session: so.Session, hall: HallRef, queue_id: int, ahead: int,
                    day: dt.date, priority: Priority | str | None = None) -> int:
    """Seconds until a ticket with ``ahead`` people before it in ``queue_id`` is called.

    ``priority``: the ticket's class when known; a priority ticket is not overtaken by later
    priority tickets, so only an ordinary one (or a ticket taken now, None) counts them."""
    model = _model(session, hall, queue_id, day)
    free, rate, boost = model["free"], model["priority_rate"], model["boost"]
    if priority is not None and Priority(priority) is not Priority.NONE:
        rate = 0.0

    calls = model["calls"]

    def wait(people: float) -> float:
        times = calls.upto(math.ceil(people) + 1)
        low, high = times[math.floor(people)], times[math.ceil(people)]
        return low + (high - low) * (people - math.floor(people))

    waited = wait(ahead)
    for _ in range(ROUNDS if rate else 0):
        waited = wait(ahead + rate * min(waited, boost))
    return round(waited)
