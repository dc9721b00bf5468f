"""Writing observations: one transaction and one executemany per POST, duplicates skipped by the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite

from receiver.models import APReport, Observation
from receiver.observations import ObservationRow

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
AP_REPORTS = APReport.__table__  # type: ignore[attr-defined]


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

    SQLAlchemy Core, not the ORM: one executemany per POST (batched by SQLAlchemy into multi-row INSERTs
    with RETURNING) is what makes the receiver fast (the ORM's
    per-object `session.add()` measured about 1/41 of bare sqlite3's rate, Core about 0.37). The rows of one
    POST are first deduplicated among themselves (Aerohive's own sample repeats a record three times).
    `reporters` (the APs the POST came from) get their last-report time updated in the same transaction.
    """
    unique = list({row["dedupe_key"]: row for row in rows}.values())
    if not unique and not reporters:
        return StoreResult(stored=0, duplicates=len(rows))
    stored: Counter[str] = Counter()
    with engine.begin() as connection:
        if unique:
            stored.update(connection.execute(_insert_ignoring_duplicates(engine), unique).scalars())
        if reporters:
            if received_at is None:
                raise ValueError("received_at is needed to record AP reports")
            _record_reports(connection, reporters, stored, received_at)
    total = stored.total()
    return StoreResult(stored=total, duplicates=len(rows) - total)


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
