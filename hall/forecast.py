"""Expected wait for a ticket: when the windows serving its queue will have called everyone ahead of it."""
# The method, why each part is there and its figures: docs/forecast.md. In short:
# * the open windows that would call the queue now (order mode: none of the queues it serves
#   first has anyone waiting; weighted mode: at its weight's share; paused ones do not count)
#   together call one visitor every `per` = 1 / Σ share/S seconds once they are all busy, S the
#   queue's mean time at a window per called visitor (its last services today, no-shows included,
#   the configured avg_service_s counting as PRIOR_WEIGHT of them);
# * idle windows take the first visitors at once; the next call comes after 1 / Σ 1/rest over the
#   windows (rest: what is left of a window's current service, at least RESIDUAL_SHARE × its mean;
#   S for a window that has just called): the ends of many services form one stream of calls,
#   they do not come one mean service after the other;
# * people still to come who will go ahead of the ticket while it waits are added to those ahead:
#   priority tickets issued within the boost (the queue's arrivals of the last HORIZON_S × its
#   priority share today) and visitors transferred in from other queues, who keep their place
#   (the queue's share of transfer-ins among its recent services, up to their usual lead);
#   both are the last half hour's rates × ARRIVALS_AHEAD, as queues are long after a peak.
# "Now" is the instant of the hall's last logged action: inside an action, that action.
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.compiler import compiles

from hall.directory import HallRef
from hall.models import (OPEN_WINDOW_STATES, Priority, Service, Ticket, TicketEvent, TicketStatus,
                         Window, WindowQueue, WindowState)

RECENT_SERVICES = 40   # a queue's last services today: its mean time per visitor, its transfer-ins
PRIOR_WEIGHT = 10      # the configured avg_service_s counts as this many services in the mean
RESIDUAL_SHARE = 0.3   # a service past its mean is expected to need this share of the mean again
HORIZON_S = 1800       # arrivals counted over the last 30 minutes
ARRIVALS_AHEAD = 0.75  # share of the last HORIZON_S's arrival rate expected while a long queue waits
TRANSFER_PRIOR = 5     # recent services counted as not transferred in (a first transfer is not a trend)
PAUSE_S = 900          # a pause (break) is expected to last this long; used when every window is paused
# Every step at a window, from its first call to its end: the window's time per called visitor
# (a no-show occupies it for the recall and the skip).
OUTCOMES = ("done", "unresolved", "transferred", "no_show")
ROUNDS = 4             # fixed-point rounds for the people still to come


class _Seconds(sa.sql.functions.FunctionElement):
    """Seconds from ``start`` to ``end`` (two instants), computed by the database: the forecast
    reads numbers, not a few hundred datetimes to parse per model."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(_Seconds)
def _seconds(element: _Seconds, compiler: Any, **kw: Any) -> str:  # PostgreSQL: timestamptz − timestamptz
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: _Seconds, compiler: Any, **kw: Any) -> str:  # UTC text without offset
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


_ZERO, _ONE = sa.literal_column("0"), sa.literal_column("1")  # constants in the SQL, not parameters


def _how_many(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, _ONE), else_=_ZERO)), _ZERO)


def _recent_statement(limit: int, outcomes: tuple[str, ...]) -> sa.Select:
    """The queue's last ``limit`` steps at a window today ending in one of ``outcomes`` — a range
    of ix_services_queue_day read from its end, each joined to its ticket by primary key — summed
    up: how many, their total time from first call to end, how many came by a transfer (waiting
    since after the ticket's issue) and their total lead (issue → transfer)."""
    steps = (sa.select(_Seconds(Service.called_at, Service.ended_at).label("took"),
                       _Seconds(Ticket.issued_at, Service.waiting_since).label("lead"))
             .join(Ticket, Ticket.id == Service.ticket_id)
             .where(Service.queue_id == sa.bindparam("queue"), Service.business_day == sa.bindparam("day"),
                    Service.outcome.in_([sa.literal_column(f"'{o}'") for o in outcomes]))
             .order_by(Service.ended_at.desc()).limit(limit).subquery())
    moved = steps.c.lead > _ONE
    return sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(steps.c.took), _ZERO), _how_many(moved),
                     sa.func.coalesce(sa.func.sum(sa.case((moved, steps.c.lead), else_=_ZERO)), _ZERO))


# Built once with bound parameters: the forecast runs on every issue and call (hot path).
_RECENT = _recent_statement(RECENT_SERVICES, OUTCOMES)
_OPEN_SERVING = (sa.select(Window.id, WindowQueue.queue_id)
                 .join(WindowQueue, WindowQueue.window_id == Window.id)
                 .where(Window.hall_id == sa.bindparam("hall"), Window.state.in_(OPEN_WINDOW_STATES),
                        Window.id.in_(sa.select(WindowQueue.window_id)
                                      .where(WindowQueue.queue_id == sa.bindparam("queue")))))
_BUSY_QUEUES = (sa.select(Ticket.queue_id).where(Ticket.hall_id == sa.bindparam("hall"),
                                                 Ticket.status == TicketStatus.WAITING).distinct())
# The windows serving the queue: state, seconds in that state and, when busy, the step's queue and
# seconds since its first call ("now" bound: NULL when nothing happened yet today).
_NOW_PARAM = sa.bindparam("now", type_=Window.state_since.type)
_WINDOWS = (sa.select(Window.id, Window.state, _Seconds(Window.state_since, _NOW_PARAM), Service.queue_id,
                      _Seconds(Service.called_at, _NOW_PARAM))
            .outerjoin(Service, sa.and_(Service.ticket_id == Window.ticket_id, Service.ended_at.is_(None)))
            .where(Window.id.in_(sa.bindparam("ids", expanding=True))))
# With the people waiting in the queues those windows serve, in one round trip: a window's row
# (kind 0: id, state, seconds in it, its step's queue, seconds since that step's call), then a
# queue's (kind 1: queue id, NULL, people waiting, NULL, NULL).
_NULL = sa.null()
_WINDOWS_AND_WAITING = sa.union_all(
    _WINDOWS.with_only_columns(sa.literal_column("0").label("kind"), *_WINDOWS.selected_columns),
    sa.select(sa.literal_column("1"), Ticket.queue_id, _NULL, sa.cast(sa.func.count(), sa.Float), _NULL, _NULL)
    .where(Ticket.queue_id.in_(sa.bindparam("queues", expanding=True)),
           Ticket.status == TicketStatus.WAITING).group_by(Ticket.queue_id))
_NOW = sa.select(sa.func.max(TicketEvent.at)).where(TicketEvent.hall_id == sa.bindparam("hall"))
# The queue's tickets today (all, priority ones) and those of the last HORIZON_S: one range of the
# numbering's unique index (origin_queue_id, business_day, seq), as before for the priority ones.
_ARRIVALS = (sa.select(sa.func.count(), _how_many(Ticket.priority != Priority.NONE),
                       _how_many(Ticket.issued_at >= sa.bindparam("since")))
             .where(Ticket.origin_queue_id == sa.bindparam("queue"),
                    Ticket.business_day == sa.bindparam("day")))


def _with_arrivals(recent: sa.Select) -> sa.Select:
    """``recent`` (see _recent_statement) and _ARRIVALS in one round trip (each is one row): the
    recent steps' four figures, then the arrivals' three."""
    return sa.select(recent.subquery("recent").join(_ARRIVALS.subquery("arrivals"), sa.true()))


_RECENT_ARRIVALS = _with_arrivals(_RECENT)


def _configured_s(hall: HallRef, queue_id: int) -> float:
    """The configured ``avg_service_s`` of a queue: the first guess until the day's own services."""
    return float(hall.queue_settings(queue_id).avg_service_s)


def _recent(session: so.Session, queue_id: int, day: dt.date) -> tuple[int, float, int, float]:
    """(steps, their total time, steps that came by a transfer, their total lead) — see _RECENT."""
    steps, took, moved_in, lead = session.connection().execute(_RECENT, {"day": day, "queue": queue_id}).one()
    return steps, float(took), moved_in, float(lead)


def _mean(steps: int, took: float, configured: float) -> float:
    return (PRIOR_WEIGHT * configured + took) / (PRIOR_WEIGHT + steps)


def mean_service_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    """Mean time a window spends per called visitor of the queue (first call to end, no-shows
    included), over its last services today, the configured ``avg_service_s`` counting as
    ``PRIOR_WEIGHT`` of them (a few long services do not swing the estimate)."""
    steps, took, _, _ = _recent(session, queue_id, day)
    return _mean(steps, took, _configured_s(hall, queue_id))


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


def _rest(hall: HallRef, queue_id: int, service_s: float, current: int | None, spent: float | None) -> float:
    """Expected rest of a window's current service (0 when it has none)."""
    if current is None or spent is None:
        return 0.0
    mean = service_s if current == queue_id else _configured_s(hall, current)
    return max(mean - float(spent), RESIDUAL_SHARE * mean)


def _windows(session: so.Session, hall: HallRef, queue_id: int, service_s: float,
             now: dt.datetime | None) -> tuple[list[tuple[float, float]], dict[int, int]]:
    """(rest in s, seconds per visitor of this queue) of each window that will call the queue,
    and the people waiting in each queue those windows serve (this one included)."""
    prefix = hall.queue_prefixes[queue_id]
    serving = [w for w in hall.settings.windows if prefix in w.queues and w.number in hall.window_ids]
    conn = session.connection()
    ids = [hall.window_ids[w.number] for w in serving]
    others = sorted({hall.queue_ids[p] for w in serving for p in w.queues} | {queue_id})
    states, waiting = {}, {}
    for kind, key, *rest in conn.execute(_WINDOWS_AND_WAITING, {"ids": ids, "now": now, "queues": others}):
        if kind == 0:
            states[key] = tuple(rest)
        else:
            waiting[key] = int(rest[1])
    free, later = [], []
    for w, wid in zip(serving, ids):
        state, paused_for, current, spent = states.get(wid, (WindowState.CLOSED, None, None, None))
        if state not in OPEN_WINDOW_STATES:
            continue
        if state == WindowState.PAUSED:
            # Counts only if no window would call the queue now: back after the rest of a break.
            later.append((max(PAUSE_S - float(paused_for or 0), RESIDUAL_SHARE * PAUSE_S), service_s))
            continue
        rest = _rest(hall, queue_id, service_s, current, spent)
        if w.mode == "weighted":
            busy = [p for p in w.queues if p == prefix or waiting.get(hall.queue_ids[p])]
            free.append((rest, service_s * sum(w.weight(p) for p in busy) / w.weight(prefix)))
            continue
        before = [hall.queue_ids[p] for p in w.queues[:w.queues.index(prefix)]]
        if any(waiting.get(q) for q in before):
            # Counts only if no window would call the queue now: after the queues it serves
            # first have been called (their waiting × configured mean ÷ their windows).
            drain = sum(waiting.get(q, 0) * _configured_s(hall, q) / _windows_of(hall, q) for q in before)
            later.append((max(rest, 0.0) + drain, service_s))
            continue
        free.append((rest, service_s))
    if not free:  # (and before any window opens: the configured ones, idle)
        free = later or [(0.0, service_s)] * max(len(serving), 1)
    return free, waiting


def _windows_of(hall: HallRef, queue_id: int) -> int:
    prefix = hall.queue_prefixes[queue_id]
    return max(1, sum(1 for w in hall.settings.windows if prefix in w.queues))


def _calls(free: list[tuple[float, float]]) -> tuple[int, float, float]:
    """(idle windows, when the first visitor after those they take is called, seconds between
    calls after that): the windows' service ends as one stream, at their summed rates."""
    idle = sum(1 for rest, _ in free if rest <= 0)
    first = 1 / sum(1 / (rest if rest > 0 else per) for rest, per in free)
    return idle, first, 1 / sum(1 / per for _, per in free)


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
        now = session.info.get(_ACTION_AT) or conn.execute(_NOW, {"hall": hall.id}).scalar()
        if now is None:  # nothing happened in the hall yet
            steps, took, moved_in, leads = _recent(session, queue_id, day)
        else:
            since = now - dt.timedelta(seconds=HORIZON_S)
            steps, took, moved_in, leads, today, priority, lately = conn.execute(
                _RECENT_ARRIVALS, {"day": day, "queue": queue_id, "since": since}).one()
            took, leads = float(took), float(leads)
        service_s = _mean(steps, took, _configured_s(hall, queue_id))
        policy = hall.settings.policy
        boost = max((s for _, s in policy.priority_boost_s), default=0)
        priority_rate = transfer_rate = lead = 0.0
        if now is not None:
            arrivals = lately / HORIZON_S * ARRIVALS_AHEAD
            if today and boost:
                priority_rate = arrivals * priority / today
            # Steps that reached the queue by a transfer (or a bundle's next step) keep their
            # ticket's place: they go ahead of tickets issued after theirs.
            share = moved_in / (steps + TRANSFER_PRIOR)
            if moved_in and share < 1:
                transfer_rate, lead = arrivals * share / (1 - share), leads / moved_in
        free, waiting = _windows(session, hall, queue_id, service_s, now)
        idle, first, per = _calls(free)
        memo[key] = {"idle": idle, "first": first, "per": per, "boost": boost,
                     "priority_rate": priority_rate, "transfer_rate": transfer_rate,
                     "transfer_lead": lead, "waiting": waiting.get(queue_id, 0)}
    return memo[key]


def waiting(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> int:
    """People waiting in ``queue_id`` now, as the forecast of this transaction counted them."""
    return _model(session, hall, queue_id, day)["waiting"]


def per_person_s(session: so.Session, hall: HallRef, queue_id: int, day: dt.date) -> float:
    """Seconds of waiting each person ahead adds once every window is busy."""
    return _model(session, hall, queue_id, day)["per"]


def _call_at(model: dict, people: float) -> float:
    """When the visitor with ``people`` ahead is called (fractional people interpolated)."""
    idle, first, per = model["idle"], model["first"], model["per"]

    def at(k: int) -> float:
        return 0.0 if k < idle else first + (k - idle) * per

    low = math.floor(people)
    return at(low) + (at(low + 1) - at(low)) * (people - low)


def expected_wait_s(session: so.Session, hall: HallRef, queue_id: int, ahead: int,
                    day: dt.date, priority: Priority | str | None = None) -> int:
    """Seconds until a ticket with ``ahead`` people before it in ``queue_id`` is called.

    ``priority``: the ticket's class when known; a priority ticket is not overtaken by later
    priority tickets, nor by transferred visitors issued less than its boost before it, so only
    an ordinary one (or a ticket taken now, None) counts them."""
    model = _model(session, hall, queue_id, day)
    boost, rate = model["boost"], model["priority_rate"]
    moved, lead = model["transfer_rate"], model["transfer_lead"]
    if priority is not None and Priority(priority) is not Priority.NONE:
        rate, lead = 0.0, lead - hall.settings.policy.boost(Priority(priority).value)

    def overtaking(waited: float) -> float:
        return rate * min(waited, boost) + moved * max(0.0, min(waited, lead))

    waited = _call_at(model, ahead)
    for _ in range(ROUNDS if rate or moved else 0):
        waited = _call_at(model, ahead + overtaking(waited))
    return round(waited)
