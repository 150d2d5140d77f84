"""A busy or full database: the caller gets a clear 503/507, and nothing is half written."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
import sqlalchemy as sa

from support import MONDAY_9, FrozenClock, settings_for
from hall import db as db_mod, tokens
from hall.app import create_app


@pytest.fixture
def served(tmp_path, migrated_template, monkeypatch):
    monkeypatch.setattr(db_mod, "BUSY_TIMEOUT_MS", 200)
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path), clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T1"], "manager", rt.clock.now())
    yield app, rt, {"Authorization": f"Bearer {value}"}, tmp_path / "hall.db"
    rt.close()


def _counts(path):
    with sqlite3.connect(path) as conn:
        return (conn.execute("SELECT count(*) FROM tickets").fetchone()[0],
                conn.execute("SELECT coalesce(max(last_number), 0) FROM queue_counters").fetchone()[0])


def test_a_locked_database_answers_503_and_writes_nothing(served):
    app, _rt, headers, path = served
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        r = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503
    error = r.get_json()["error"]
    assert error["code"] == "database_unavailable" and "nothing was changed" in error["message"]
    assert _counts(path) == (0, 0)
    r = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
    assert r.status_code == 201 and r.get_json()["number"] == "A001"


def test_a_full_database_answers_507_and_writes_nothing(served):
    app, rt, headers, path = served
    rt.db.engine.dispose()

    @sa.event.listens_for(rt.db.engine, "connect")
    def _tiny(dbapi_connection, record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    client = app.test_client()
    issued, answer = 0, None
    for _ in range(2000):
        answer = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
        if answer.status_code != 201:
            break
        issued += 1
    assert answer.status_code == 507, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "storage_full" and "disk is full" in error["message"]
    sa.event.remove(rt.db.engine, "connect", _tiny)
    rt.db.engine.dispose()
    assert _counts(path) == (issued, issued)  # every acknowledged ticket, and only those


def test_no_free_database_connection_answers_503_not_500(served, monkeypatch):
    """A burst that holds every pooled connection (QueuePool limit reached) changed nothing:
    the kiosk is told to try again, as for a locked database."""
    app, rt, headers, path = served

    def exhausted():
        raise sa.exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached, connection "
                                  "timed out, timeout 30.00")

    monkeypatch.setattr(rt.db, "write_sessions", exhausted)
    r = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
    assert r.status_code == 503
    assert r.get_json()["error"]["code"] == "database_unavailable"
    assert _counts(path) == (0, 0)


def test_a_commit_that_fails_after_numbering_its_events_blocks_nothing(served):
    """The events of a transaction get their seq (and the hall's publish lock) just before COMMIT;
    when the COMMIT then fails, the kiosk gets 503 and the hall's next ticket is issued and
    published as usual — the failed one left no lock behind and published nothing."""
    import threading

    app, rt, headers, path = served
    published: list[tuple[str, int]] = []
    rt.bus.subscribe(lambda event: published.append((event.name, event.seq)))

    def commit_fails(session) -> None:  # after events.bind's listener: the seq are given
        raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    sa.event.listen(rt.db.write_sessions, "before_commit", commit_fails)
    try:
        r = app.test_client().post("/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)
    finally:
        sa.event.remove(rt.db.write_sessions, "before_commit", commit_fails)
    assert r.status_code == 503 and _counts(path) == (0, 0)
    answers = []
    # Another thread, as the next request would be: a lock left held would make it wait forever.
    worker = threading.Thread(target=lambda: answers.append(app.test_client().post(
        "/api/v1/halls/T1/tickets", json={"queue": "A"}, headers=headers)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the hall's next ticket waited on a lock the failed commit kept"
    assert answers[0].status_code == 201 and answers[0].get_json()["number"] == "A001"
    assert rt.bus.wait_idle(5)
    assert published == [("ticket.issued", 1), ("queue.changed", 2)]
