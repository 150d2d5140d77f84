"""Manager alerts (预警): a queue too long or a wait too long, raised once per crossing, with helper windows."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import events
from hall.directory import HallRef
from hall.models import Queue, Ticket, TicketStatus, Window, WindowState

log = logging.getLogger(__name__)
QUEUE_LONG = "queue_long"
WAIT_LONG = "wait_long"
# The events after which the rules are checked; the periodic job covers waits that only grow.
TRIGGERS = frozenset({events.QUEUE_CHANGED, events.TICKET_ISSUED})


@dataclasses.dataclass(frozen=True)
class QueueLoad:
    prefix: str
    name: str
    waiting: int
    longest_wait_s: int


@dataclasses.dataclass(frozen=True)
class WindowInfo:
    number: int
    state: str
    kind: str
    queues: tuple[str, ...]


def helpers(prefix: str, windows: Iterable[WindowInfo], switchable: Iterable[int] = ()) -> list[int]:
    """Idle windows that could take on ``prefix``: comprehensive or multi-queue windows serving it,
    and the windows the config lets a manager switch (``alerts.switch_windows``)."""
    switchable = set(switchable)
    out = []
    for w in windows:
        if w.state != WindowState.IDLE.value:
            continue
        serves = prefix in w.queues and (w.kind == "comprehensive" or len(w.queues) > 1)
        if serves or w.number in switchable:
            out.append(w.number)
    return sorted(out)


def evaluate(settings: Any, loads: Iterable[QueueLoad], windows: Iterable[WindowInfo]) -> list[dict[str, Any]]:
    """Every alert whose condition holds now (``settings``: the hall's AlertSettings)."""
    windows = list(windows)
    out = []
    for load in loads:
        if settings.max_waiting and load.waiting > settings.max_waiting:
            out.append(_alert(QUEUE_LONG, load, windows, settings,
                              f"{load.prefix} {load.name} 等候 {load.waiting} 人，"
                              f"超过 {settings.max_waiting} 人"))
        limit_s = settings.max_wait_minutes * 60
        if limit_s and load.waiting and load.longest_wait_s > limit_s:
            out.append(_alert(WAIT_LONG, load, windows, settings,
                              f"{load.prefix} {load.name} 最长已等候 {load.longest_wait_s // 60} 分钟，"
                              f"超过 {settings.max_wait_minutes} 分钟"))
    return out


def _alert(kind: str, load: QueueLoad, windows: list[WindowInfo], settings: Any,
           message: str) -> dict[str, Any]:
    return {"kind": kind, "queue": load.prefix, "waiting": load.waiting,
            "longest_wait_s": load.longest_wait_s, "message": message,
            "helpers": helpers(load.prefix, windows, settings.switch_windows)}


def check(active: frozenset[tuple[str, str]], current: list[dict[str, Any]]
          ) -> tuple[frozenset[tuple[str, str]], list[dict[str, Any]]]:
    """The alerts to raise now: those in ``current`` not already ``active``; and the new active set.

    An alert whose condition no longer holds leaves the set, so the next crossing raises it again.
    """
    keys = frozenset((a["kind"], a["queue"]) for a in current)
    return keys, [a for a in current if (a["kind"], a["queue"]) not in active]


# -- reading the hall's state ----------------------------------------------------------------

def queue_loads(session: so.Session, hall: HallRef, now: dt.datetime) -> list[QueueLoad]:
    """Waiting count and longest current wait (now − waiting_since of the oldest) per queue."""
    rows = dict((qid, (n, oldest)) for qid, n, oldest in session.execute(
        sa.select(Ticket.queue_id, sa.func.count(), sa.func.min(Ticket.waiting_since))
        .where(Ticket.hall_id == hall.id, Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id)))
    names = dict(session.execute(sa.select(Queue.id, Queue.name).where(Queue.hall_id == hall.id)).all())
    out = []
    for prefix, qid in sorted(hall.queue_ids.items()):
        n, oldest = rows.get(qid, (0, None))
        if isinstance(oldest, str):  # SQLite's MIN() returns the stored text, not the column type
            oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.timezone.utc)
        wait = max(0, int((now - oldest).total_seconds())) if oldest is not None else 0
        out.append(QueueLoad(prefix, names.get(qid, prefix), n, wait))
    return out


def window_infos(session: so.Session, hall: HallRef) -> list[WindowInfo]:
    rows = session.scalars(sa.select(Window).where(Window.hall_id == hall.id)
                           .options(so.selectinload(Window.serves))).all()
    out = []
    for w in rows:
        if w.number not in hall.window_ids:
            continue
        kind = hall.settings.window(w.number).kind
        out.append(WindowInfo(w.number, w.state.value, kind,
                              tuple(hall.queue_prefixes[s.queue_id] for s in w.serves)))
    return sorted(out, key=lambda w: w.number)


def current_alerts(session: so.Session, hall: HallRef, now: dt.datetime) -> list[dict[str, Any]]:
    return evaluate(hall.settings.alerts, queue_loads(session, hall, now), window_infos(session, hall))


# -- the watcher: a bus subscriber and a periodic job share its state --------------------------

class AlertWatcher:
    """Remembers the active alerts per hall and records an ``alert`` event at each new crossing."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self._active: dict[str, frozenset[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def check_hall(self, code: str) -> list[dict[str, Any]]:
        """Check one hall now; returns the alerts raised (and committed as live events)."""
        hall = self.rt.halls[code]
        settings = hall.settings.alerts
        if not (settings.max_waiting or settings.max_wait_minutes):
            return []
        with self._lock:  # the bus thread and the scheduler may check at the same moment
            # Read first: this runs after every issue and call, and a write transaction would
            # queue behind (and hold up) the kiosks and clerks; write only to record an alert.
            now = self.rt.clock.now()
            with self.rt.db.read() as session:
                current = current_alerts(session, hall, now)
            active, raised = check(self._active.get(code, frozenset()), current)
            self._active[code] = active
            if raised:
                with self.rt.db.write() as session:
                    for alert in raised:
                        events.record(session, hall.id, hall.code, events.ALERT, now, alert=alert)
        for alert in raised:
            log.info("alert in hall %s: %s", code, alert["message"])
        return raised

    def check_all(self) -> int:
        return sum(len(self.check_hall(code)) for code in self.rt.halls)

    def on_event(self, event: events.Event) -> None:
        """After a queue changes: look at the database only when its length crosses the limit.

        The event carries the queue's waiting count, so the common case (no crossing) costs
        nothing; this runs after every issue and call. Waits that only grow are the periodic
        job's (check_long_waits)."""
        if event.name not in TRIGGERS or event.hall not in self.rt.halls:
            return
        queue = event.payload.get("queue")
        limit = self.rt.halls[event.hall].settings.alerts.max_waiting
        if not isinstance(queue, dict) or not limit or queue.get("waiting") is None:
            return
        over = queue["waiting"] > limit
        with self._lock:
            was = (QUEUE_LONG, queue.get("prefix")) in self._active.get(event.hall, frozenset())
        if over != was:
            self.check_hall(event.hall)


def start(rt: Any) -> AlertWatcher:
    """Subscribe the alert watcher to the hall's bus (create_app calls this once)."""
    watcher = getattr(rt, "alerts", None)
    if watcher is None:
        watcher = rt.alerts = AlertWatcher(rt)  # the scheduler's job finds it on the runtime
        rt.bus.subscribe(watcher.on_event, own_thread=True)
    return watcher


def check_long_waits(rt: Any) -> int:
    """The periodic job: a wait crosses its limit with no event happening; returns alerts raised."""
    return start(rt).check_all()
