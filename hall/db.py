"""Engine and sessions: SQLite in WAL mode with BEGIN IMMEDIATE writes, or PostgreSQL."""
from __future__ import annotations

import contextlib
import logging
import pathlib
import threading
from collections.abc import Callable, Iterator
from time import monotonic
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# The WAL is copied back into the database file by a background thread (see Checkpointer), not
# by whichever request commits when the WAL passes 1,000 pages: that copy ends with fsyncs and
# stalled the request (and, under gevent, every connection of the process) for 50–300 ms.
# Should the background thread not keep up, a commit still checkpoints past this many pages.
FALLBACK_AUTOCHECKPOINT_PAGES = 20_000
CHECKPOINT_INTERVAL_S = 1.0
# A passive checkpoint copies the WAL but (under steady writes, seen in bench runs) the WAL did
# not start over; past this many pages the checkpointer briefly holds writers back (RESTART).
RESTART_AFTER_PAGES = 4_000
# PostgreSQL: a pooled connection that rested this long is checked before use (_ping_when_idle).
IDLE_PING_S = 5.0
_CHECKED_IN = "hall.checked_in"


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
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A write takes the lock at BEGIN, so two writers never deadlock on an upgrade
        # from a read lock; readers stay deferred and never wait for writers (WAL).
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _native() -> tuple[Callable[..., Any], Callable[[float], None]]:
    """An OS thread starter and sleep, also in a gevent-patched process: the checkpoint's fsync
    must not run on the event loop's thread (sqlite3 releases the GIL while it waits)."""
    import sys
    if "gevent.monkey" in sys.modules:
        from gevent import monkey
        if monkey.is_module_patched("threading"):
            return (monkey.get_original("_thread", "start_new_thread"),
                    monkey.get_original("time", "sleep"))
    import _thread
    import time
    return _thread.start_new_thread, time.sleep


class Checkpointer:
    """Copies the WAL back into the SQLite file every ``interval`` seconds on its own OS thread and
    connection (PRAGMA wal_checkpoint(PASSIVE): never waits for readers or writers)."""

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path, self.interval = path, interval
        self.stopped = False
        self.runs = self.restarts = 0
        start, self._sleep = _native()
        start(self._run, ())

    def _run(self) -> None:
        import sqlite3
        try:
            # A short busy timeout: RESTART holds writers back while it waits for readers (a long
            # report, say); better to give up and try again next time than to stall a kiosk.
            conn = sqlite3.connect(self.path, timeout=0.02, check_same_thread=False,
                                   isolation_level=None)
        except sqlite3.Error:
            log.exception("the WAL checkpointer cannot open %s; commits will checkpoint", self.path)
            return
        try:
            while not self.stopped:
                self._sleep(self.interval)
                if self.stopped:
                    break
                try:
                    ((_, pages, _),) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if pages > RESTART_AFTER_PAGES:
                        # The frames are copied already: writers wait only for the last few and
                        # the fsync, and the next one starts the WAL over.
                        ((busy, _, _),) = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                        self.restarts += not busy
                    self.runs += 1
                except sqlite3.Error as err:  # busy (another process checkpoints), or disk trouble
                    log.debug("WAL checkpoint skipped: %s", err)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped = True


def _ping_when_idle(engine: sa.Engine, idle_s: float = IDLE_PING_S) -> None:
    """Check a pooled connection before use when it has rested ``idle_s`` or more (a database
    restarted overnight, a firewall that dropped it): the pool replaces a dead one, and the request
    never sees it. A connection back from a request a moment ago is used as it is: checking it
    too (``pool_pre_ping``) cost every request a round trip. Should the database go away within
    those seconds, the request that finds out fails and the pool drops its older connections."""

    @sa.event.listens_for(engine, "checkin")
    def _rested_from(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or monotonic() - since < idle_s:
            return  # just connected, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as err:  # noqa: BLE001 - dead in any way: the pool connects anew
            log.info("a pooled database connection was dead after %.0f s (%s); reconnecting",
                     monotonic() - since, err)
            raise sa.exc.DisconnectionError(str(err)) from err


class Database:
    """Two session factories on one database: ``write()`` for actions, ``read()`` for queries."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, immediate=True)
            self.read_engine = _sqlite_engine(self.url, immediate=False)
            database = self.url.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                self.checkpointer = Checkpointer(database)
        else:
            self.engine = sa.create_engine(self.url, pool_size=10, max_overflow=20)
            _ping_when_idle(self.engine)
            # Reads run without BEGIN and ROLLBACK (two round trips fewer per read). Under
            # PostgreSQL's READ COMMITTED each statement had its own snapshot anyway, so a read
            # of several statements sees what it saw inside a transaction. Same pool.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
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
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
        if self.is_sqlite:
            self.read_engine.dispose()
