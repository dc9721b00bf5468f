"""Writing observations: one transaction and one executemany per POST, duplicates skipped by the database."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Connection, Engine, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from store.models import APReport, Observation, UTCDateTime
from store.records import ObservationRow
from store.write_turn import write_turn

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
AP_REPORTS = APReport.__table__  # type: ignore[attr-defined]

# The SQLite fast path's statements, written once from the table definitions (so a new column cannot be missed).
_COLUMNS = tuple(column.name for column in OBSERVATIONS.columns if column.name != "id")
_VALUES = itemgetter(*_COLUMNS)
_TIME_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if isinstance(OBSERVATIONS.c[name].type, UTCDateTime))
_SQLITE_INSERT = (
    f"INSERT INTO observation ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (dedupe_key) DO NOTHING"
)
_SQLITE_REPORT_UPSERT = (
    "INSERT INTO ap_report (ap_mac, vendor, site, first_report_at, last_report_at, reports, records) "
    "VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (ap_mac) DO UPDATE SET last_report_at = excluded.last_report_at, "
    "reports = ap_report.reports + 1, records = ap_report.records + excluded.records"
)


@dataclass(frozen=True)
class Reporter:
    """An AP that sent (or, for Meraki v3, was named in) an accepted POST, whether or not it heard anyone."""

    ap_mac: str
    vendor: str
    site: str


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


def _dialect(engine: Engine | Connection):
    return postgresql if engine.dialect.name == "postgresql" else sqlite


def _insert_ignoring_duplicates(engine: Engine) -> Insert:
    # RETURNING counts what was really inserted (executemany's rowcount is -1 under psycopg 3), per AP.
    return (
        _dialect(engine)
        .insert(OBSERVATIONS)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OBSERVATIONS.c.ap_mac)
    )


def _record_reports(connection: Connection, reporters: Sequence[Reporter], stored: Counter[str], at: datetime) -> None:
    """Upsert each reporting AP's last report time and counts, in the POST's own transaction."""
    insert = _dialect(connection).insert(AP_REPORTS)
    upsert = insert.on_conflict_do_update(
        index_elements=["ap_mac"],
        set_={
            "last_report_at": insert.excluded.last_report_at,
            "reports": AP_REPORTS.c.reports + 1,
            "records": AP_REPORTS.c.records + insert.excluded.records,
        },
    )
    rows = [
        {
            "ap_mac": reporter.ap_mac,
            "vendor": reporter.vendor,
            "site": reporter.site,
            "first_report_at": at,
            "last_report_at": at,
            "reports": 1,
            "records": stored[reporter.ap_mac],
        }
        for reporter in sorted(set(reporters), key=lambda reporter: reporter.ap_mac)  # one lock order
    ]
    connection.execute(upsert, rows)


def store_observations(
    engine: Engine, rows: list[ObservationRow], reporters: Sequence[Reporter] = (), received_at: datetime | None = None
) -> StoreResult:
    """Insert `rows` in one transaction; a row whose dedupe key is already stored is skipped and counted.

    One executemany per POST, never the ORM (its per-object `session.add()` measured about 1/41 of bare
    sqlite3's rate). The rows of one POST are first deduplicated among themselves (Aerohive's own sample repeats
    a record three times). `reporters` (the APs the POST came from) get their last-report time updated in the
    same transaction.
    """
    unique = list({row["dedupe_key"]: row for row in rows}.values())
    if not unique and not reporters:
        return StoreResult(stored=0, duplicates=len(rows))
    if reporters and received_at is None:
        raise ValueError("received_at is needed to record AP reports")
    if engine.dialect.name == "sqlite":
        stored = _store_sqlite(engine, unique, reporters, received_at)
    else:
        stored = _store_core(engine, unique, reporters, received_at)
    total = stored.total()
    return StoreResult(stored=total, duplicates=len(rows) - total)


def _store_core(
    engine: Engine, rows: list[ObservationRow], reporters: Sequence[Reporter], received_at: datetime | None
) -> Counter[str]:
    """SQLAlchemy Core: batched into multi-row INSERTs with RETURNING, which counts what was really inserted."""
    stored: Counter[str] = Counter()
    with engine.begin() as connection:
        if rows:
            stored.update(connection.execute(_insert_ignoring_duplicates(engine), rows).scalars())
        if reporters:
            _record_reports(connection, reporters, stored, received_at)  # type: ignore[arg-type]
    return stored


def _store_sqlite(
    engine: Engine, rows: list[ObservationRow], reporters: Sequence[Reporter], received_at: datetime | None
) -> Counter[str]:
    """The same statements on the bare sqlite3 connection: the receiver's hot path.

    SQLAlchemy's per-row parameter processing cost more than SQLite's own work (cProfile: 2.2 s of 4.9 s per
    55 k rows), so rows become tuples here, times in the exact text SQLAlchemy's SQLite DateTime writes (a test
    holds both paths' rows equal). The transaction is BEGIN IMMEDIATE, as on the engine's writer connections,
    taken in turn with the other POSTs (store.write_turn); per-AP stored counts come from executemany's
    rowcount, one executemany per run of one AP's rows (a single run for every vendor but Meraki v3).
    """
    # Everything but SQLite's own work is done before the write lock is taken.
    runs = [  # in order, so ids come out as on the Core path
        (ap_mac, [_sqlite_values(row) for row in run]) for ap_mac, run in groupby(rows, key=itemgetter("ap_mac"))
    ]
    at = sqlite_time(received_at) if received_at is not None else None
    reports = sorted(set(reporters), key=lambda reporter: reporter.ap_mac)  # one lock order
    stored: Counter[str] = Counter()
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            with write_turn(engine.url.database):
                cursor.execute("BEGIN IMMEDIATE")
                for ap_mac, values in runs:
                    stored[ap_mac] += cursor.executemany(_SQLITE_INSERT, values).rowcount
                if reports:
                    report_rows = [(r.ap_mac, r.vendor, r.site, at, at, stored[r.ap_mac]) for r in reports]
                    cursor.executemany(_SQLITE_REPORT_UPSERT, report_rows)
                cursor.execute("COMMIT")
        except BaseException as exc:
            if connection.dbapi_connection is not None and connection.dbapi_connection.in_transaction:
                cursor.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # as SQLAlchemy would raise it: callers handle one family
                raise DBAPIError.instance(_SQLITE_INSERT, None, exc, sqlite3.Error, dialect=engine.dialect) from exc
            raise
        finally:
            cursor.close()
    finally:
        connection.close()
    return stored


def _sqlite_values(row: ObservationRow) -> tuple:
    values = list(_VALUES(row))
    for index in _TIME_INDEXES:
        values[index] = sqlite_time(values[index])
    return tuple(values)


def sqlite_time(moment: datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite DateTime stores it (UTC, `YYYY-MM-DD HH:MM:SS.ffffff`)."""
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def rebuild_ap_reports(engine: Engine) -> None:
    """Recompute every AP's report row from the stored observations, after a bulk load that bypassed POSTs.

    A report is counted per distinct `received_at`; reports that carried no observations (an AP that heard
    nobody) leave no trace in the observations, so they are not counted.
    """
    with engine.begin() as connection:
        connection.execute(AP_REPORTS.delete())
        connection.execute(
            AP_REPORTS.insert().from_select(
                ["ap_mac", "vendor", "site", "first_report_at", "last_report_at", "reports", "records"],
                select(
                    OBSERVATIONS.c.ap_mac,
                    func.min(OBSERVATIONS.c.vendor),
                    func.min(OBSERVATIONS.c.site),
                    func.min(OBSERVATIONS.c.received_at),
                    func.max(OBSERVATIONS.c.received_at),
                    func.count(func.distinct(OBSERVATIONS.c.received_at)),
                    func.count(),
                ).group_by(OBSERVATIONS.c.ap_mac),
            )
        )
