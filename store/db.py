"""Engines and schema upgrades: the one place that knows how we talk to SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision (tests/storage/test_schema.py holds it equal to the scripts' head): a database
# already there is not upgraded, so commands that only read never import Alembic.
SCHEMA_HEAD = "0011"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(database_url: str, *, writer: bool = False, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for `database_url`, tuned for a receiver that writes while a dashboard reads.

    SQLite settings, and why:
    - WAL journal: readers never block the writer and the writer never blocks readers.
    - busy_timeout 30 s: gunicorn workers queue for the single write lock instead of failing a POST.
    - synchronous FULL (default): a commit is fsynced before we answer 2xx, so an acknowledged POST survives
      a power cut, not only a crash of the process (NORMAL survives crashes; FULL costs one fsync per POST).
    - `writer=True` starts every transaction with BEGIN IMMEDIATE, taking the write lock up front; a deferred
      transaction that upgrades later can fail with SQLITE_BUSY without waiting for the timeout.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's psycopg2 default
        return create_engine(url, pool_pre_ping=True)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions start (the pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision (safe to call on every start)."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    # Imported only when there is something to do: Alembic costs a third of a second at start-up.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for a database Alembic never touched."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
