"""The PostgreSQL and Redis of this machine for the multi-process tests.

Without them the tests skip with a message; with HALL_REQUIRE_SERVICES=1 (set by .ci/run)
they fail instead, so that CI cannot pass without having run them.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("HALL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HALL_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _missing(what: str, err: Exception) -> None:
    message = f"{what} is not reachable ({err.__class__.__name__}: {err})"
    if os.environ.get("HALL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; HALL_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{message}; these tests need it (set HALL_TEST_PG / HALL_TEST_REDIS)")


def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    import sqlalchemy as sa
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"hall_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as err:  # noqa: BLE001 - any failure means: no usable PostgreSQL here
        admin.dispose()
        _missing("PostgreSQL", err)
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def redis_url() -> str:
    import redis
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as err:  # noqa: BLE001
        _missing("Redis", err)
    return REDIS_URL
