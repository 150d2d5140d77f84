"""Shared fixtures: a small test hall, a migrated database per test, a controlled clock."""
from __future__ import annotations

import os
import pathlib
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall import runtime as runtime_mod  # noqa: E402
from support import MONDAY_9, FrozenClock, hall_dict, settings_for  # noqa: E402,F401


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """One SQLite file migrated to head; each test copies it (migrating per test is slow)."""
    from hall.db import Database
    from hall.migrate import upgrade
    path = tmp_path_factory.mktemp("template") / "hall.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_9, speed=1.0)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock(MONDAY_9)


@pytest.fixture
def rt(tmp_path: pathlib.Path, migrated_template: pathlib.Path, frozen_clock: FrozenClock):
    """A started runtime (database, test hall, event bus) on a copy of the migrated template."""
    shutil.copy(migrated_template, tmp_path / "hall.db")
    runtime = runtime_mod.start(settings_for(tmp_path), clock=frozen_clock,
                                base_url="http://hall.test")
    yield runtime
    runtime.close()


@pytest.fixture
def hall(rt):
    return rt.halls["T1"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    os.environ.setdefault("HALL_TESTING", "1")


@pytest.fixture
def app(tmp_path: pathlib.Path, migrated_template: pathlib.Path, frozen_clock: FrozenClock):
    from hall.app import create_app
    shutil.copy(migrated_template, tmp_path / "hall.db")
    application = create_app(settings_for(tmp_path), clock=frozen_clock, base_url="http://hall.test")
    yield application
    application.extensions["hall"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app):
    """token(role, window=None, hall="T1") → a bearer header dict for that role."""
    from hall import tokens
    rt = app.extensions["hall"]

    def make(role: str, window: int | None = None, hall: str | None = "T1") -> dict[str, str]:
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls[hall] if hall else None, role,
                                        rt.clock.now(), window=window)
        return {"Authorization": f"Bearer {value}"}

    return make
