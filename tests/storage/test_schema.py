"""The Alembic migrations build exactly the schema the SQLModel classes describe, and upgrades are repeatable."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

from store import db
from store.models import Observation  # noqa: F401  (registers the table)


def test_migrated_schema_matches_the_models(database_url):
    engine = db.make_engine(database_url)
    db.migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_schema_head_constant_is_the_newest_migration(tmp_path):
    config = AlembicConfig()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [db.SCHEMA_HEAD]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    assert db.schema_revision(engine) is None
    db.migrate(engine)
    assert db.schema_revision(engine) == db.SCHEMA_HEAD
    engine.dispose()


def test_migrating_twice_is_harmless_and_uses_wal(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    db.migrate(engine)
    db.migrate(engine)
    assert "observation" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
