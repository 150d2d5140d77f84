"""Everything a running hall server holds: settings, database, hall index, event bus, clock, keys."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import logging
import os
import pathlib
import secrets
from typing import Any

import sqlalchemy as sa

from hall import events, forecast, migrate, tickets
from hall.clock import Clock
from hall.db import Database
from hall.directory import HallRef, sync_config
from hall.errors import NotFound

log = logging.getLogger(__name__)


def load_secret(path: pathlib.Path) -> bytes:
    """The server's secret, created once on first start and kept (a restart logs nobody out)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        log.info("created a new secret key in %s", path)
    return path.read_text().strip().encode()


@dataclasses.dataclass
class Runtime:
    settings: Any
    db: Database
    halls: dict[str, HallRef]
    bus: events.EventBus
    clock: Clock
    secret: bytes
    # The running devices.service.DeviceService when this process drives the devices, else None.
    # hall never imports devices: it only asks it printer_status(code, kiosk) and device_views(code).
    devices: Any = None
    # The hall.scheduler.SingleScheduler of this process (running the jobs or standing by), if any.
    scheduler: Any = None

    @property
    def privacy_key(self) -> bytes:
        return hmac.new(self.secret, b"privacy-hash", hashlib.sha256).digest()

    def hall(self, code: str) -> HallRef:
        try:
            return self.halls[code]
        except KeyError:
            raise NotFound("unknown_hall", f"There is no hall {code!r}; the halls are "
                           f"{', '.join(sorted(self.halls))}.", "hall") from None

    @functools.cached_property
    def window_numbers(self) -> dict[int, int]:
        """Window id → number, over every hall (ids are unique across halls; fixed once started)."""
        return {wid: n for h in self.halls.values() for wid, n in h.window_numbers.items()}

    def hall_by_id(self, hall_id: int) -> HallRef:
        return next(h for h in self.halls.values() if h.id == hall_id)

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.devices is not None:
            self.devices.stop()
        self.bus.close()
        self.db.dispose()


def start(settings: Any, database_url: str | None = None, clock: Clock | None = None,
          base_url: str | None = None, apply_migrations: bool = True) -> Runtime:
    """Open the database (migrating a new one), write the configured halls, wire the bus."""
    url = database_url or settings.server.database
    db = Database(url)
    with _startup_lock(db):
        if apply_migrations:
            migrate.upgrade(db.engine)
        with db.write() as session:
            halls = sync_config(session, settings)
    base = (base_url or settings.server.public_url
            or f"http://{settings.server.host}:{settings.server.port}").rstrip("/")
    for hall in halls.values():
        hall.base_url = base
    bus = events.EventBus()
    events.bind(db.write_sessions, bus)
    forecast.bind(db.write_sessions)
    tickets.bind(db.write_sessions)
    return Runtime(settings=settings, db=db, halls=halls, bus=bus, clock=clock or Clock(),
                   secret=load_secret(pathlib.Path(settings.server.secret_key_file)))


class _startup_lock:
    """Several processes starting at once on PostgreSQL migrate and sync one after another."""

    KEY = 0x4A11  # an arbitrary, fixed advisory lock number

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: sa.Connection | None = None

    def __enter__(self) -> None:
        if not self.db.is_sqlite:
            self.conn = self.db.engine.connect()
            self.conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": self.KEY})

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.KEY})
            self.conn.close()
