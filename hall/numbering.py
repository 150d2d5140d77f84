"""Atomic, gap-free ticket numbers per queue and business day (A001, A002 …)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from hall.models import QueueCounter


def next_number(session: so.Session, queue_id: int, day: dt.date) -> int:
    """Take the next number of ``queue_id`` on ``day`` inside the caller's transaction.

    The counter row is created on first use and bumped with one UPDATE … RETURNING, so
    two transactions never get the same number (the row lock on PostgreSQL, the write
    lock on SQLite) and a rolled-back issue gives its number back: no gap.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(QueueCounter).values(queue_id=queue_id, business_day=day, last_number=0)
        .on_conflict_do_nothing()
    )
    return session.execute(
        sa.update(QueueCounter)
        .where(QueueCounter.queue_id == queue_id, QueueCounter.business_day == day)
        .values(last_number=QueueCounter.last_number + 1)
        .returning(QueueCounter.last_number)
    ).scalar_one()


def format_number(prefix: str, seq: int, width: int) -> str:
    """``A`` + 23 at width 3 → ``A023``; past the width the number simply grows (A1000)."""
    return f"{prefix}{seq:0{width}d}"
