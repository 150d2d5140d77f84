"""PostgreSQL: the same migrations, and gap-free numbering with several processes on one database."""
from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from concurrency_worker import issue_many
from support import MONDAY_9
from hall.db import Database
from hall.migrate import downgrade, upgrade
from hall.models import Ticket
from hall.schema import metadata
from services import postgres_database
from test_concurrency import _assert_gap_free

pytestmark = pytest.mark.services


@pytest.fixture
def pg_url():
    yield from postgres_database()


def test_migrations_build_the_models_on_postgresql_and_go_back(pg_url):
    db = Database(pg_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == []
    downgrade(db.engine, "base")
    upgrade(db.engine)
    db.dispose()


def test_four_processes_on_postgresql_number_without_duplicate_or_gap(tmp_path, pg_url):
    db = Database(pg_url)
    upgrade(db.engine)
    db.dispose()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        parts = pool.starmap(issue_many, [(str(tmp_path), 150, 3, "ABK", MONDAY_9.isoformat(), pg_url)] * 4)
    numbers = [n for part in parts for n in part]
    assert len(numbers) == 600
    _assert_gap_free(numbers)
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(Ticket.number)).scalars().all()
        seqs = conn.exec_driver_sql("SELECT event_seq FROM halls").scalars().all()
    engine.dispose()
    assert sorted(stored) == sorted(numbers)
    assert seqs == [2 * len(numbers)]  # ticket.issued + queue.changed per ticket, no seq lost


def test_the_scheduler_keeps_its_lock_when_the_caller_drops_it(tmp_path, pg_url):
    """hall/wsgi.py and run.py call start_scheduler() and drop the result: the lock must stay
    held (it used to go back to the connection pool, and a second process then ran the same
    jobs once the pool closed that connection)."""
    import gc

    import sqlalchemy as sa

    from hall import runtime as runtime_mod, scheduler
    from support import settings_for

    rt = runtime_mod.start(settings_for(tmp_path), database_url=pg_url)
    try:
        scheduler.start_scheduler(rt)  # the result is dropped, as the entry points do
        gc.collect()
        assert rt.scheduler is not None and rt.scheduler.running
        rt.db.engine.dispose()  # the pool closes every connection it holds
        other = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with other.connect() as conn:
            taken = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                 {"k": scheduler.LOCK_KEY}).scalar()
        other.dispose()
        assert taken is False  # still held by the running scheduler: no second set of jobs
    finally:
        rt.close()


def test_requests_after_the_database_dropped_every_connection_succeed(tmp_path, pg_url, monkeypatch):
    """PostgreSQL restarted (or a firewall dropped the idle connections) while the hall was quiet:
    the next kiosk and clerk requests succeed on new connections, nothing lost."""
    import time

    from hall import db as db_mod, tokens
    from hall.app import create_app
    from hall.migrate import upgrade
    from support import FrozenClock, settings_for

    db = Database(pg_url)
    upgrade(db.engine)
    db.dispose()
    app = create_app(settings_for(tmp_path, database=pg_url), clock=FrozenClock(MONDAY_9),
                     base_url="http://hall.test", realtime=False)
    rt = app.extensions["hall"]
    try:
        with rt.db.write() as session:
            kiosk = tokens.create_token(session, rt.halls["T1"], "kiosk", rt.clock.now())
            clerk = tokens.create_token(session, rt.halls["T1"], "clerk", rt.clock.now(), window=1)
        client = app.test_client()
        issue = {"json": {"queue": "A"}, "headers": {"Authorization": f"Bearer {kiosk}"}}
        assert client.post("/api/v1/halls/T1/tickets", **issue).get_json()["number"] == "A001"
        assert client.post("/api/v1/halls/T1/windows/1/sign-in",
                           headers={"Authorization": f"Bearer {clerk}"}).status_code == 200

        admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            dropped = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        admin.dispose()
        assert dropped >= 1  # the hall's pooled connections are gone
        later = time.monotonic() + 60  # the hall was quiet for a minute
        monkeypatch.setattr(db_mod, "monotonic", lambda: later)

        answer = client.post("/api/v1/halls/T1/tickets", **issue)
        assert answer.status_code == 201, answer.get_json()
        assert answer.get_json()["number"] == "A002"
        call = client.post("/api/v1/halls/T1/windows/1/call", headers={"Authorization": f"Bearer {clerk}"})
        assert call.status_code == 200 and call.get_json()["ticket"]["number"] == "A001"
    finally:
        rt.close()


def _runtime_publishing(tmp_path, pg_url):
    """A runtime on the migrated database, its hall clock frozen, and the seq of every event its
    bus publishes, in publish order."""
    from hall import runtime as runtime_mod
    from support import FrozenClock, settings_for

    db = Database(pg_url)
    upgrade(db.engine)
    db.dispose()
    rt = runtime_mod.start(settings_for(tmp_path, database=pg_url), clock=FrozenClock(MONDAY_9))
    published: list[int] = []
    rt.bus.subscribe(lambda event: published.append(event.seq))
    return rt, published


def test_windows_calling_at_once_on_postgresql_call_each_ticket_once(tmp_path, pg_url):
    """Three windows press 下一位 at the same moment, again and again, on PostgreSQL: every ticket is
    called by exactly one window, and the hall's events carry one seq each, 1…N without a gap."""
    import threading

    from hall import tickets, windows

    rt, seqs = _runtime_publishing(tmp_path, pg_url)
    hall = rt.halls["T1"]
    try:
        for i in range(90):
            with rt.db.write() as session:
                tickets.issue_ticket(session, hall, tickets.IssueRequest(queue="AB"[i % 2]), "kiosk",
                                     rt.clock.now())
        called: dict[int, list[str]] = {1: [], 2: [], 3: []}
        errors: list[BaseException] = []

        def window(number: int) -> None:
            try:
                while True:
                    with rt.db.write() as session:
                        ticket = windows.call_next(session, hall, number, f"clerk{number}", rt.clock.now())
                        number_called = ticket.number if ticket else None
                    if number_called is None:
                        return
                    called[number].append(number_called)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        pool = [threading.Thread(target=window, args=(n,)) for n in called]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert not errors, errors
        every = [n for numbers in called.values() for n in numbers]
        assert sorted(every) == sorted(f"{q}{k:03d}" for q in "AB" for k in range(1, 46))
        assert all(called.values())  # all three windows took part
        assert rt.bus.wait_idle(10)
    finally:
        rt.close()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_a_hall_s_events_are_published_in_seq_order_when_commits_race(tmp_path, pg_url):
    """A transaction commits and its thread is held up before it publishes; meanwhile the next
    action of the hall (free of the hall row since the COMMIT) commits too. The screens of this
    process must still get the first action's events first: seq 1, 2, then 3, 4 — an event ahead
    of its predecessor makes every hall page fetch a new snapshot."""
    import threading
    import time

    from hall import tickets

    rt, published = _runtime_publishing(tmp_path, pg_url)
    hall = rt.halls["T1"]
    first_committed = threading.Event()
    slow = threading.local()

    def hold_up_the_first(session) -> None:  # runs after COMMIT, before the events are published
        if getattr(slow, "on", False):
            first_committed.set()
            time.sleep(0.5)

    sa.event.listen(rt.db.write_sessions, "after_commit", hold_up_the_first, insert=True)
    errors: list[BaseException] = []

    def issue(queue: str, held_up: bool) -> None:
        try:
            slow.on = held_up
            if not held_up:
                assert first_committed.wait(5)
            with rt.db.write() as session:
                tickets.issue_ticket(session, hall, tickets.IssueRequest(queue=queue), "kiosk",
                                     rt.clock.now())
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    try:
        threads = [threading.Thread(target=issue, args=("A", True)),
                   threading.Thread(target=issue, args=("B", False))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert rt.bus.wait_idle(10)
    finally:
        sa.event.remove(rt.db.write_sessions, "after_commit", hold_up_the_first)
        rt.close()
    assert published == [1, 2, 3, 4]  # ticket.issued and queue.changed of A001, then of B001
