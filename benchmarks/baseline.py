"""The baseline every storage benchmark compares against: bare sqlite3 executemany of the very rows we stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_rows(database: Path) -> tuple[list[str], list[str], list[tuple]]:
    """The observation table's schema statements, its column names (without id) and every stored row."""
    with sqlite3.connect(database) as connection:
        schema = [
            sql
            for (sql,) in connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'observation' AND sql IS NOT NULL ORDER BY type DESC"
            )
        ]
        columns = [row[1] for row in connection.execute("PRAGMA table_info(observation)") if row[1] != "id"]
        rows = connection.execute(f"SELECT {', '.join(columns)} FROM observation ORDER BY id").fetchall()
    return schema, columns, rows


def bare_sqlite_insert(
    database: Path, schema: list[str], columns: list[str], rows: list[tuple], *, batch_rows: int, synchronous: str
) -> None:
    """Same schema (so the same indexes), same pragmas as the receiver's engine, one transaction per batch."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    for statement in schema:
        connection.execute(statement)
    insert = f"INSERT INTO observation ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for offset in range(0, len(rows), batch_rows):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(insert, rows[offset : offset + batch_rows])
        connection.execute("COMMIT")
    connection.close()
