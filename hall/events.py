"""Domain events and the in-process bus that delivers them after commit.

A domain verb records events on its session with :func:`record`; they get the
hall's next ``seq`` numbers inside the same transaction, so the numbering is
gap-free across processes. When the session commits, the pending events go to
the :class:`EventBus`; when it rolls back, they are dropped. Delivery threads
hand them to the subscribers in order; a failing subscriber is logged and never
affects the others or the request that caused the event.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

log = logging.getLogger(__name__)

# The live event names of the public contract (API.md); the bus carries these.
TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_NO_SHOW = "ticket.no_show"
TICKET_FINISHED = "ticket.finished"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_CANCELLED = "ticket.cancelled"
TICKET_RATED = "ticket.rated"
WINDOW_CHANGED = "window.changed"
QUEUE_CHANGED = "queue.changed"
DEVICE_CHANGED = "device.changed"
ALERT = "alert"

EVENT_NAMES = (
    TICKET_ISSUED, TICKET_CALLED, TICKET_RECALLED, TICKET_NO_SHOW, TICKET_FINISHED,
    TICKET_TRANSFERRED, TICKET_CANCELLED, TICKET_RATED, WINDOW_CHANGED, QUEUE_CHANGED,
    DEVICE_CHANGED, ALERT,
)


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing that happened in a hall, as clients of ``/live`` receive it.

    ``payload`` holds the event's own fields (``ticket``, ``window``, ``queue``…)
    already serialised to JSON-ready values; :meth:`as_message` adds the
    envelope every event carries (``seq``, ``at``, ``hall``).
    """

    name: str
    hall: str
    seq: int
    at: dt.datetime
    payload: dict[str, Any]
    hall_id: int = 0

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "hall": self.hall, **self.payload}

    @property
    def ticket_id(self) -> int | None:
        ticket = self.payload.get("ticket")
        return ticket.get("id") if isinstance(ticket, dict) else None

    @property
    def window_number(self) -> int | None:
        window = self.payload.get("window")
        return window.get("number") if isinstance(window, dict) else None


Subscriber = Callable[[Event], None]


class _Lane:
    """One delivery thread with its queue and the subscribers it serves, in publish order."""

    def __init__(self, name: str) -> None:
        self.subscribers: list[tuple[str | None, Subscriber]] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            for name, subscriber in list(self.subscribers):
                if name is not None and name != event.name:
                    continue
                try:
                    subscriber(event)
                except Exception:  # a broken subscriber must not stop the others
                    log.exception("event subscriber %r failed on %s #%s", subscriber, event.name, event.seq)
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()


class EventBus:
    """Delivers events to subscribers in publish order, on delivery threads, never the caller's.

    Subscribers share one thread unless they ask for their own (``own_thread=True``): a slow
    one, such as fanning out to thousands of websockets, then delays nobody else.
    """

    def __init__(self, name: str = "hall-events") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._lanes: list[_Lane] = []
        self._shared: _Lane | None = None
        self._closed = False

    def subscribe(self, subscriber: Subscriber, name: str | None = None,
                  own_thread: bool = False) -> None:
        """Call ``subscriber(event)`` for every event, or only those named ``name``."""
        with self._lock:
            if own_thread:
                lane = _Lane(f"{self._name}-{len(self._lanes)}")
                self._lanes.append(lane)
            else:
                if self._shared is None:
                    self._shared = _Lane(self._name)
                    self._lanes.append(self._shared)
                lane = self._shared
            lane.subscribers.append((name, subscriber))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            for lane in self._lanes:
                lane.subscribers[:] = [(n, s) for n, s in lane.subscribers if s is not subscriber]

    def publish(self, events: list[Event]) -> None:
        with self._lock:
            if self._closed:
                return
            lanes = list(self._lanes)
        for event in events:
            for lane in lanes:
                lane.put(event)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every published event was delivered (tests, shutdown)."""
        import time
        deadline = time.monotonic() + timeout
        with self._lock:
            lanes = list(self._lanes)
        return all(lane.wait_idle(max(0.0, deadline - time.monotonic())) for lane in lanes)

    def close(self, timeout: float = 5.0) -> None:
        self.wait_idle(timeout)
        with self._lock:
            self._closed = True
            lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.stop(timeout)


_PENDING = "hall.pending_events"


def record(session: so.Session, hall_id: int, hall_code: str, name: str, at: dt.datetime,
           **payload: Any) -> None:
    """Record an event to publish when ``session`` commits; its seq is given just before."""
    session.info.setdefault(_PENDING, []).append(
        Event(name=name, hall=hall_code, seq=0, at=at, payload=payload, hall_id=hall_id))


_BUMP_SEQ: sa.Update | None = None
_PUBLISH_LOCKS = "hall.publish_locks"
_publish_locks: dict[int, threading.Lock] = {}
_publish_locks_guard = threading.Lock()


def _publish_lock(hall_id: int) -> threading.Lock:
    """This process's lock on publishing hall ``hall_id``'s events (one per hall, made once)."""
    lock = _publish_locks.get(hall_id)
    if lock is None:
        with _publish_locks_guard:
            lock = _publish_locks.setdefault(hall_id, threading.Lock())
    return lock


def _release_publish_locks(session: so.Session) -> None:
    for lock in reversed(session.info.pop(_PUBLISH_LOCKS, ())):
        lock.release()


def _number(session: so.Session) -> None:
    """Give the pending events their halls' next seq numbers, one UPDATE per hall, in order.

    Done in the committing transaction, so seq numbers are gap-free across processes. The hall
    row stays locked until COMMIT; the hall's publish lock (taken here, after the row, and let go
    once the events are on the bus) keeps this process's next transaction of the hall from
    publishing between this one's COMMIT and its publish, so a process publishes a hall's events
    in seq order.
    """
    from hall.models import Hall  # local: models imports nothing of this module

    pending: list[Event] = session.info.get(_PENDING) or []
    if not pending or pending[0].seq:
        return
    by_hall: dict[int, list[int]] = {}
    for index, event in enumerate(pending):
        by_hall.setdefault(event.hall_id, []).append(index)
    global _BUMP_SEQ
    if _BUMP_SEQ is None:  # built once: every action commits through here
        table = Hall.__table__
        _BUMP_SEQ = (table.update().where(table.c.id == sa.bindparam("hall"))
                     .values(event_seq=table.c.event_seq + sa.bindparam("n", type_=sa.BigInteger))
                     .returning(table.c.event_seq))
    held = session.info.setdefault(_PUBLISH_LOCKS, [])
    for hall_id, indexes in sorted(by_hall.items()):
        last = session.connection().execute(_BUMP_SEQ, {"hall": hall_id, "n": len(indexes)}).scalar_one()
        lock = _publish_lock(hall_id)
        lock.acquire()  # free at once unless this process's previous transaction is still publishing
        held.append(lock)
        for offset, index in enumerate(indexes):
            pending[index] = dataclasses.replace(pending[index], seq=last - len(indexes) + 1 + offset)


def bind(session_factory: so.sessionmaker, bus: EventBus) -> None:
    """Publish a session's recorded events on ``bus`` after it commits; drop them on rollback."""

    @sa.event.listens_for(session_factory, "before_commit")
    def _before_commit(session: so.Session) -> None:
        _number(session)

    @sa.event.listens_for(session_factory, "after_commit")
    def _after_commit(session: so.Session) -> None:
        events = session.info.pop(_PENDING, None)
        try:
            if events:
                bus.publish(events)
        finally:
            _release_publish_locks(session)

    @sa.event.listens_for(session_factory, "after_soft_rollback")
    def _after_rollback(session: so.Session, previous_transaction: Any) -> None:
        session.info.pop(_PENDING, None)

    @sa.event.listens_for(session_factory, "after_transaction_end")
    def _after_end(session: so.Session, transaction: so.SessionTransaction) -> None:
        if transaction.parent is None:  # rolled back, or a flush or COMMIT that failed
            _release_publish_locks(session)
