"""The configured halls written into the database, and an in-memory index of their ids."""
from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.errors import NotFound
from hall.models import Department, Hall, Queue, Staff, Window, WindowQueue


@dataclasses.dataclass
class HallRef:
    """One hall's settings with the database ids of its rows, so hot paths skip look-ups."""

    settings: Any
    id: int
    queue_ids: dict[str, int]
    window_ids: dict[int, int]
    staff_ids: dict[str, int]
    # Where visitors reach this server (mobile ticket links, QR codes); set by the app.
    base_url: str = ""

    def __post_init__(self) -> None:
        self.queue_prefixes = {qid: prefix for prefix, qid in self.queue_ids.items()}
        self.window_numbers = {wid: number for number, wid in self.window_ids.items()}

    @property
    def code(self) -> str:
        return self.settings.code

    @property
    def timezone(self) -> str:
        return self.settings.timezone

    def queue_id(self, prefix: str, field: str = "queue") -> int:
        try:
            return self.queue_ids[prefix]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.queue_ids))
            raise NotFound("unknown_queue", f"Hall {self.code} has no queue {prefix!r}; "
                           f"its queues are {known}.", field) from None

    def window_id(self, number: int, field: str = "window") -> int:
        try:
            return self.window_ids[number]
        except (KeyError, TypeError):
            raise NotFound("unknown_window", f"Hall {self.code} has no window {number!r}; "
                           f"its windows are numbered {min(self.window_ids)}–{max(self.window_ids)}.",
                           field) from None

    def queue_settings(self, queue_id: int) -> Any:
        return self.settings.queue(self.queue_prefixes[queue_id])

    def window_settings(self, window_id: int) -> Any:
        return self.settings.window(self.window_numbers[window_id])


def _upsert(session: so.Session, model: type, key: dict[str, Any], values: dict[str, Any]) -> Any:
    row = session.scalars(sa.select(model).filter_by(**key)).one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row


def sync_hall(session: so.Session, hall: Any) -> HallRef:
    """Write one configured hall into the database (idempotent) and return its ids.

    Rows that left the configuration are kept (old tickets point at them) but
    a removed window is closed and serves nothing, and a removed clerk is inactive.
    """
    row = _upsert(session, Hall, {"code": hall.code}, {"name": hall.name, "timezone": hall.timezone})
    if row.event_seq is None:
        row.event_seq = 0
    session.flush()
    for dept in hall.departments:
        _upsert(session, Department, {"hall_id": row.id, "code": dept.code}, {"name": dept.name})
    queues = {}
    for q in hall.queues:
        queues[q.prefix] = _upsert(session, Queue, {"hall_id": row.id, "prefix": q.prefix},
                                   {"name": q.name})
        if queues[q.prefix].id is None:  # new: config decides; later a manager may close it
            queues[q.prefix].open = q.open
    session.flush()
    windows = {}
    configured = {w.number for w in hall.windows}
    for w in hall.windows:
        window = _upsert(session, Window, {"hall_id": row.id, "number": w.number},
                         {"name": w.name, "mode": w.mode})
        session.flush()
        wanted = [(pos, queues[p].id, w.weight(p)) for pos, p in enumerate(w.queues)]
        current = {wq.queue_id: wq for wq in window.serves}
        for pos, queue_id, weight in wanted:
            if queue_id in current:
                current[queue_id].position, current[queue_id].weight = pos, weight
            else:
                window.serves.append(WindowQueue(queue_id=queue_id, position=pos, weight=weight))
        window.serves = [wq for wq in window.serves if wq.queue_id in {q for _, q, _ in wanted}]
        windows[w.number] = window
    for window in session.scalars(sa.select(Window).where(Window.hall_id == row.id)):
        if window.number not in configured:
            window.serves = []
            windows.setdefault(window.number, window)
    staff = {}
    logins = {s.login for s in hall.staff}
    for s in hall.staff:
        staff[s.login] = _upsert(session, Staff, {"hall_id": row.id, "login": s.login},
                                 {"name": s.name, "role": s.role, "active": True})
    for member in session.scalars(sa.select(Staff).where(Staff.hall_id == row.id)):
        if member.login not in logins:
            member.active = False
    session.flush()
    return HallRef(
        settings=hall, id=row.id,
        queue_ids={p: q.id for p, q in queues.items()},
        window_ids={n: w.id for n, w in windows.items() if n in configured},
        staff_ids={login: s.id for login, s in staff.items()},
    )


def sync_config(session: so.Session, settings: Any) -> dict[str, HallRef]:
    """Write every configured hall; the caller commits."""
    return {hall.code: sync_hall(session, hall) for hall in settings.halls}
