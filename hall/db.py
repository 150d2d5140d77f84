"""Engine and sessions: SQLite in WAL mode with BEGIN IMMEDIATE writes, or PostgreSQL."""
from __future__ import annotations

import contextlib
import logging
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


class DatabaseError(Exception):
    """The database cannot be reached or used; the message says what to do."""


def _sqlite_engine(url: sa.URL, immediate: bool) -> sa.Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        pathlib.Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                                 "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A write takes the lock at BEGIN, so two writers never deadlock on an upgrade
        # from a read lock; readers stay deferred and never wait for writers (WAL).
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Two session factories on one database: ``write()`` for actions, ``read()`` for queries."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, immediate=True)
            self.read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self.engine = sa.create_engine(self.url, pool_size=10, max_overflow=20,
                                           pool_pre_ping=True)
            self.read_engine = self.engine
        # SQLite has one writer at a time. Threads of this process queue on a Python lock
        # instead of SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.write_sessions = so.sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = so.sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self) -> Iterator[so.Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        if self._write_lock is None:
            with self.write_sessions() as session, session.begin():
                yield session
            return
        with self._write_lock, self.write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[so.Session]:
        with self.read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
