"""Alembic environment: the database URL comes from the caller (hall.migrate) or HALL_DATABASE_URL."""
from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from hall.schema import metadata  # every table, wherever its model lives

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("HALL_DATABASE_URL")
    if not url:
        raise SystemExit("Set HALL_DATABASE_URL (or run `python run.py migrate`) to say which database.")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: sa.Connection) -> None:
    # render_as_batch: SQLite can only ALTER a table by copying it, which batch mode does.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
