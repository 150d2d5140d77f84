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
