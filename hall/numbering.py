"""Atomic, gap-free ticket numbers per queue and business day (A001, A002 …)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

# One statement, the same on SQLite (3.35+) and PostgreSQL. Plain SQL on purpose: SQLAlchemy
# does not cache the compiled form of an ON CONFLICT upsert, and this runs on every issue.
_BUMP = sa.text(
    "INSERT INTO queue_counters (queue_id, business_day, last_number) VALUES (:queue, :day, 1) "
    "ON CONFLICT (queue_id, business_day) "
    "DO UPDATE SET last_number = queue_counters.last_number + 1 "
    "RETURNING last_number"
).bindparams(sa.bindparam("queue", type_=sa.Integer), sa.bindparam("day", type_=sa.Date))


def next_number(session: so.Session, queue_id: int, day: dt.date) -> int:
    """Take the next number of ``queue_id`` on ``day`` inside the caller's transaction.

    One upsert creates the day's counter or bumps it, so two transactions never get the
    same number (the row lock on PostgreSQL, the write lock on SQLite) and a rolled-back
    issue gives its number back: no gap.
    """
    return session.connection().execute(_BUMP, {"queue": queue_id, "day": day}).scalar_one()


def format_number(prefix: str, seq: int, width: int) -> str:
    """``A`` + 23 at width 3 → ``A023``; past the width the number simply grows (A1000)."""
    return f"{prefix}{seq:0{width}d}"
