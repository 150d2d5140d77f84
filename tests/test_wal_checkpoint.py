"""The SQLite WAL is copied into the database file by a background thread, not by a request's commit."""
from __future__ import annotations

import shutil
import sqlite3
import time

import sqlalchemy as sa

from hall import db as db_mod
from hall.db import Checkpointer, Database


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_commits_leave_the_checkpoint_to_the_background(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/hall.db")
    try:
        with database.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        # SQLite's default (1,000 pages) would make every ~100th request copy and fsync the WAL.
        assert pages == db_mod.FALLBACK_AUTOCHECKPOINT_PAGES
        assert database.checkpointer is not None
    finally:
        database.dispose()


def test_the_database_file_alone_holds_the_data_after_a_checkpoint(tmp_path):
    """What an administrator copying only hall.db would get: the rows, once the thread has run."""
    path = tmp_path / "hall.db"
    database = Database(f"sqlite:///{path}")
    database.checkpointer.stop()  # replaced by a fast one below
    try:
        with database.write() as session:
            session.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        with database.write() as session:
            session.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 200}] * 5000)
        assert (tmp_path / "hall.db-wal").stat().st_size > 0

        def file_alone_rows() -> int:
            copy = tmp_path / "copy.db"
            shutil.copy(path, copy)  # without its -wal: only what was checkpointed
            with sqlite3.connect(copy) as conn:
                try:
                    return conn.execute("SELECT count(*) FROM t").fetchone()[0]
                except sqlite3.OperationalError:  # the table itself is still only in the WAL
                    return 0

        assert file_alone_rows() == 0  # nothing copied yet: the commits did not checkpoint
        checkpointer = Checkpointer(str(path), interval=0.05)
        try:
            assert _wait_for(lambda: checkpointer.runs >= 2)
            assert file_alone_rows() == 5000
        finally:
            checkpointer.stop()
    finally:
        database.dispose()


def test_a_long_write_load_does_not_grow_the_wal_without_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(db_mod, "RESTART_AFTER_PAGES", 200)
    path = tmp_path / "hall.db"
    database = Database(f"sqlite:///{path}")
    database.checkpointer.stop()
    checkpointer = Checkpointer(str(path), interval=0.02)
    try:
        with database.write() as session:
            session.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        deadline = time.monotonic() + 3
        commits = 0
        while time.monotonic() < deadline:  # steady small commits, as requests make them
            with database.write() as session:
                session.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "y" * 500}] * 20)
            commits += 1
            time.sleep(0.0005)  # requests leave gaps between their transactions
        wal_pages = (tmp_path / "hall.db-wal").stat().st_size / 4096
        written = commits * 20 * 500 / 4096  # pages of rows alone, without the index and headers
        # Without the restart the WAL keeps every page of the 3 s (thousands); with it, the file
        # only reaches the high-water mark between two restarts (200 pages here, then what was
        # written while a restart waited its turn: more on a busy machine).
        assert checkpointer.runs > 10 and checkpointer.restarts >= 1
        assert wal_pages < written / 2, (wal_pages, written, checkpointer.restarts)
    finally:
        checkpointer.stop()
        database.dispose()
