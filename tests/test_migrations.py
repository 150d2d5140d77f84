"""The schema comes only from Alembic: the migrations and the models agree, and every step goes back."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hall.db import Database
from hall.migrate import downgrade, upgrade
from hall.schema import metadata


def test_models_and_migrations_agree(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/m.db")
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    db.dispose()
    assert diff == [], f"models differ from migrations; run alembic revision --autogenerate: {diff}"


def test_every_migration_downgrades_and_upgrades_again(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/m.db")
    upgrade(db.engine)
    downgrade(db.engine, "base")
    with db.engine.connect() as conn:
        tables = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
                     .scalars()) - {"alembic_version"}
    assert tables == set()
    upgrade(db.engine)
    db.dispose()


def test_first_start_on_an_empty_database_applies_the_migrations(tmp_path):
    from support import settings_for
    from hall import runtime
    rt = runtime.start(settings_for(tmp_path))
    with rt.db.read() as session:
        assert session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM halls")).scalar() == 1
    rt.close()
