"""Writing observations: one transaction and one executemany per POST, duplicates skipped by the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Insert
from sqlalchemy.dialects import postgresql, sqlite

from receiver.models import Observation
from receiver.observations import ObservationRow


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


def _insert_ignoring_duplicates(dialect_name: str) -> Insert:
    table = Observation.__table__  # type: ignore[attr-defined]
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    # RETURNING counts what was really inserted: executemany's rowcount is -1 under psycopg 3.
    return dialect.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)


def store_observations(engine: Engine, rows: list[ObservationRow]) -> StoreResult:
    """Insert `rows` in one transaction; a row whose dedupe key is already stored is skipped and counted.

    SQLAlchemy Core, not the ORM: one executemany per POST (batched by SQLAlchemy into multi-row INSERTs
    with RETURNING) is what makes the receiver fast (the ORM's
    per-object `session.add()` measured about 1/41 of bare sqlite3's rate, Core about 0.37). The rows of one
    POST are first deduplicated among themselves (Aerohive's own sample repeats a record three times).
    """
    unique = list({row["dedupe_key"]: row for row in rows}.values())
    if not unique:
        return StoreResult(stored=0, duplicates=len(rows))
    with engine.begin() as connection:
        result = connection.execute(_insert_ignoring_duplicates(engine.dialect.name), unique)
        stored = len(result.all())
    return StoreResult(stored=stored, duplicates=len(rows) - stored)
