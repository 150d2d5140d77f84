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
