"""Retention and erasure: raw observations are deleted after a retention period while the visits stay, and one
person's devices are deleted on request (the right to erasure).

`prune` first merges every stored observation into the visits and records the retention horizon
(store.visits.prepare_prune), then deletes only observations up to the watermark that merge reached, so
nothing the visits have not counted is ever lost. `erase` deletes a device's observations, then its visits under
the refresh lease, then the quarantined posts that mention its MAC.

Deleting never holds SQLite's single write lock for long, because the receiver is ingesting meanwhile: candidate
ids are read a window at a time in read transactions (WAL readers block nobody), and deleted at most `batch` rows
per write transaction, the batch sized from the measured rate to about WRITE_TARGET_SECONDS, with a pause between
transactions long enough for a POST waiting in SQLite's busy handler (which polls at most every 100 ms) to get in.
PostgreSQL's row locks never make a POST wait for a delete, so there is no pause there.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select

from analytics.settings import AnalyticsSettings
from config.settings import Settings
from devices.macs import normalize_mac
from devices.pseudonyms import Pseudonymizer
from store import visits as visits_store
from store.models import Observation, QuarantinedPost

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
QUARANTINE = QuarantinedPost.__table__  # type: ignore[attr-defined]

SCAN_IDS = 200_000  # ids looked at per read transaction (a PK range: no sort, no lock)
BATCH_ROWS = 2_000  # rows deleted by the first write transaction; later ones are sized from the measured rate
MIN_BATCH_ROWS = 500
MAX_BATCH_ROWS = 30_000  # also keeps `id IN (...)` under SQLite's 32 766 bound variables
WRITE_TARGET_SECONDS = 0.05
SQLITE_PAUSE_SECONDS = 0.1
QUARANTINE_READ = 20  # quarantined bodies (at most 256 KiB each) read at a time when looking for a MAC


@dataclass
class Deleted:
    """What one chunked delete did."""

    rows: int = 0
    transactions: int = 0
    longest_write: float = 0.0  # seconds: the longest a POST could have waited for SQLite's write lock
    per_device: Counter[str] = field(default_factory=Counter)


@dataclass
class PruneResult:
    """What `prune` did (or, with dry_run, would do)."""

    before: datetime  # observations last seen before this are deleted
    quarantine_before: datetime  # quarantined posts received before this are deleted
    dry_run: bool
    observations: int = 0
    first_seen: datetime | None = None  # the earliest first_seen of the observations deleted
    last_seen: datetime | None = None  # the latest last_seen of the observations deleted
    # dry run: how many of them the visits have not merged yet (a real run merges them first); real run: old
    # observations that arrived after the merge, kept for the next prune
    unmerged: int = 0
    merged: int = 0  # observations merged into the visits before deleting
    quarantined: int = 0
    transactions: int = 0
    longest_write: float = 0.0
    horizon: datetime | None = None  # the retention horizon recorded for `presence rebuild`
    vacuumed: bool = False


def prune(
    engine: Engine,
    settings: Settings,
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool = False,
    vacuum: bool = False,
    analytics_settings: AnalyticsSettings | None = None,
    batch: int = BATCH_ROWS,
    scan: int = SCAN_IDS,
    pause: float | None = None,
) -> PruneResult:
    """Delete the observations last seen more than `older_than` before `now`, keeping the visits they made, and
    the quarantined posts older than the quarantine period or `older_than`, whichever is shorter.

    Raises visits_store.VisitsOutOfDate (the visits need `presence rebuild` first) or RefreshBusy, having deleted
    nothing.
    """
    if older_than <= timedelta(0):
        raise ValueError("the retention period must be positive")
    before = now - older_than
    quarantine_before = now - min(older_than, timedelta(days=settings.quarantine_days))
    result = PruneResult(before=before, quarantine_before=quarantine_before, dry_run=dry_run)
    if dry_run:
        watermark = visits_store.visits_watermark(engine) or 0
        result.observations, result.first_seen, result.last_seen, _ids = _old_observations(engine, before)
        result.unmerged = _old_observations(engine, before, after=watermark)[0]
        result.quarantined = _count(engine, QUARANTINE, QUARANTINE.c.received_at < quarantine_before)
        result.horizon = visits_store.pruned_before(engine)
        return result

    refreshed = visits_store.prepare_prune(engine, settings, before, analytics_settings, now=now)
    result.merged = refreshed.observations
    result.horizon = visits_store.pruned_before(engine)
    # Only what the visits have merged: a row above the watermark stays, whatever its age.
    count, result.first_seen, result.last_seen, (low, high) = _old_observations(
        engine, before, upto=refreshed.watermark
    )
    if count:
        deleted = delete_observations(
            engine, OBSERVATIONS.c.last_seen < before, low, high, batch=batch, scan=scan, pause=pause
        )
        result.observations, result.transactions = deleted.rows, deleted.transactions
        result.longest_write = deleted.longest_write
    result.unmerged = _old_observations(engine, before)[0]
    with engine.begin() as connection:
        result.quarantined = connection.execute(
            delete(QUARANTINE).where(QUARANTINE.c.received_at < quarantine_before)
        ).rowcount
    if vacuum:
        vacuum_database(engine)
        result.vacuumed = True
    return result


@dataclass
class ErasureResult:
    """What `erase` deleted (or, with dry_run, would delete), per MAC as given."""

    observations: dict[str, int]
    visits: dict[str, int]
    quarantined: list[int]  # ids of the quarantined posts that mentioned one of the MACs
    dry_run: bool


def erase(
    engine: Engine,
    settings: Settings,
    macs: Sequence[str],
    *,
    dry_run: bool = False,
    analytics_settings: AnalyticsSettings | None = None,
    batch: int = BATCH_ROWS,
    scan: int = SCAN_IDS,
    pause: float | None = None,
) -> ErasureResult:
    """Delete every observation and visit of the devices with these MACs, and every quarantined post whose body
    mentions one of them.

    A device is looked for under its pseudonym (the installation's key) and under its raw MAC, whatever
    PRESENCE_STORE_RAW_MACS says now, since it may have said otherwise when the rows were stored. A pseudonym made
    under an earlier key cannot be found: that key's deletion already unlinked it from the MAC.
    """
    normalized = [normalize_mac(mac) for mac in macs]
    pseudonyms = Pseudonymizer(settings.pseudonym_key)
    owner = {}  # stored device id -> the MAC it stands for
    for mac in normalized:
        owner[pseudonyms.device_id(mac)] = mac
        owner[mac] = mac
    devices = sorted(owner)
    observations: Counter[str] = Counter()
    visits: Counter[str] = Counter()
    if dry_run:
        for device, count in _count_devices(engine, devices, scan).items():
            observations[owner[device]] += count
        with engine.connect() as connection:
            for device, count in connection.execute(
                select(visits_store.VISITS.c.device, func.count())
                .where(visits_store.VISITS.c.device.in_(devices))
                .group_by(visits_store.VISITS.c.device)
            ):
                visits[owner[device]] += int(count)
        found = quarantined_mentioning(engine, normalized)
    else:
        # Observations first, then the visits under the lease: no refresh can then write them back.
        deleted = delete_devices(engine, devices, batch=batch, scan=scan, pause=pause)
        for device, count in deleted.per_device.items():
            observations[owner[device]] += count
        for device, count in visits_store.delete_device_visits(engine, settings, devices, analytics_settings).items():
            visits[owner[device]] += count
        found = quarantined_mentioning(engine, normalized)
        if found:
            with engine.begin() as connection:
                connection.execute(delete(QUARANTINE).where(QUARANTINE.c.id.in_(found)))
    return ErasureResult(
        observations={mac: observations[mac] for mac in normalized},
        visits={mac: visits[mac] for mac in normalized},
        quarantined=found,
        dry_run=dry_run,
    )


def mac_spellings(mac: str) -> list[bytes]:
    """A normalized MAC as vendors write it, lowercase: colons, dashes, bare hex (Aerohive), Cisco's dotted form."""
    digits = mac.replace(":", "")
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    return [
        text.encode()
        for text in (":".join(pairs), "-".join(pairs), digits, ".".join(digits[i : i + 4] for i in range(0, 12, 4)))
    ]


def quarantined_mentioning(engine: Engine, macs: Iterable[str]) -> list[int]:
    """Ids of the quarantined posts whose body or refusal reason holds one of the MACs, in any usual spelling and
    any case. The quarantine is capped (1000 bodies of at most 256 KiB), so reading it is bounded."""
    needles = [spelling for mac in macs for spelling in mac_spellings(mac)]
    found: list[int] = []
    after = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(QUARANTINE.c.id, QUARANTINE.c.reason, QUARANTINE.c.body)
                .where(QUARANTINE.c.id > after)
                .order_by(QUARANTINE.c.id)
                .limit(QUARANTINE_READ)
            ).all()
        if not rows:
            return found
        for entry_id, reason, body in rows:
            haystack = bytes(body).lower() + b"\n" + reason.encode("utf-8", "replace").lower()
            if any(needle in haystack for needle in needles):
                found.append(int(entry_id))
        after = int(rows[-1][0])


def delete_devices(
    engine: Engine, devices: Sequence[str], *, batch: int = BATCH_ROWS, scan: int = SCAN_IDS, pause: float | None = None
) -> Deleted:
    """Delete every observation of `devices`, including those stored while this runs (it reads on until it
    catches up with the newest id). `observation.device` has no index (it would cost every POST), so this reads
    the whole table, a window at a time, without locking it."""
    low = 0
    total = Deleted()
    while True:
        high = _max_id(engine)
        if high <= low:
            return total
        part = delete_observations(
            engine, OBSERVATIONS.c.device.in_(devices), low, high, batch=batch, scan=scan, pause=pause, by_device=True
        )
        total.rows += part.rows
        total.transactions += part.transactions
        total.longest_write = max(total.longest_write, part.longest_write)
        total.per_device.update(part.per_device)
        low = high


def delete_observations(
    engine: Engine,
    condition: Any,
    low: int,
    high: int,
    *,
    batch: int = BATCH_ROWS,
    scan: int = SCAN_IDS,
    pause: float | None = None,
    by_device: bool = False,
) -> Deleted:
    """Delete the observations with low < id <= high that meet `condition`, in short write transactions.

    Candidate ids are read `scan` ids at a time (a primary-key range, so each window costs its own rows, however
    many were deleted before it); they are deleted at most `batch` at a time, and `batch` follows the measured rate
    so that a write transaction takes about WRITE_TARGET_SECONDS. `pause` (default: SQLITE_PAUSE_SECONDS on SQLite,
    0 on PostgreSQL) is slept after each write transaction.
    """
    if pause is None:
        pause = SQLITE_PAUSE_SECONDS if engine.dialect.name == "sqlite" else 0.0
    result = Deleted()
    after = low
    while after < high:
        upto = min(after + scan, high)
        with engine.connect() as connection:
            ids = list(
                connection.execute(
                    select(OBSERVATIONS.c.id)
                    .where(OBSERVATIONS.c.id > after, OBSERVATIONS.c.id <= upto, condition)
                    .order_by(OBSERVATIONS.c.id)
                ).scalars()
            )
        while ids:
            piece, ids = ids[:batch], ids[batch:]
            statement: Any = delete(OBSERVATIONS).where(OBSERVATIONS.c.id.in_(piece))
            if by_device:
                statement = statement.returning(OBSERVATIONS.c.device)
            started = time.perf_counter()
            # The DELETE is the transaction's first statement, so SQLite takes the write lock at once (waiting its
            # turn with the POSTs under busy_timeout) and never has a read snapshot to upgrade.
            with engine.begin() as connection:
                outcome = connection.execute(statement)
                if by_device:
                    devices = outcome.scalars().all()
                    result.per_device.update(devices)
                    result.rows += len(devices)
                else:
                    result.rows += outcome.rowcount
            elapsed = time.perf_counter() - started
            result.transactions += 1
            result.longest_write = max(result.longest_write, elapsed)
            rate = len(piece) / max(elapsed, 1e-4)
            batch = int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, rate * WRITE_TARGET_SECONDS)))
            if pause:
                time.sleep(pause)
        after = upto
    return result


def vacuum_database(engine: Engine) -> None:
    """Give deleted space back. SQLite: VACUUM rewrites the whole file and holds the write lock meanwhile (POSTs
    wait up to busy_timeout, then fail), then the WAL is truncated. PostgreSQL: VACUUM ANALYZE of the pruned
    tables, which marks the space for reuse without blocking writers (autovacuum would do it too)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            # The engine leaves transactions to SQLAlchemy (isolation_level None), so this runs outside one.
            raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) observation")
        connection.exec_driver_sql("VACUUM (ANALYZE) quarantine")


def _old_observations(
    engine: Engine, before: datetime, *, after: int = 0, upto: int | None = None
) -> tuple[int, datetime | None, datetime | None, tuple[int, int]]:
    """How many observations were last seen before `before` (with after < id <= upto), their earliest first_seen,
    latest last_seen, and (smallest id - 1, largest id). One pass over the last_seen index's range."""
    condition = and_(OBSERVATIONS.c.last_seen < before, OBSERVATIONS.c.id > after)
    if upto is not None:
        condition = and_(condition, OBSERVATIONS.c.id <= upto)
    table = OBSERVATIONS.c
    query = select(
        func.count(), func.min(table.first_seen), func.max(table.last_seen), func.min(table.id), func.max(table.id)
    ).where(condition)
    with engine.connect() as connection:
        count, first, last, low, high = connection.execute(query).one()
    return int(count), first, last, ((int(low) - 1, int(high)) if count else (0, 0))


def _max_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(OBSERVATIONS.c.id))).scalar() or 0)


def _count(engine: Engine, table: Any, condition: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(condition)).scalar() or 0)


def _count_devices(engine: Engine, devices: Sequence[str], scan: int) -> Counter[str]:
    """Observations per device among `devices`, read a window of ids at a time (no index on device)."""
    counts: Counter[str] = Counter()
    high = _max_id(engine)
    for low in range(0, high, scan):
        with engine.connect() as connection:
            counts.update(
                dict(
                    connection.execute(
                        select(OBSERVATIONS.c.device, func.count())
                        .where(
                            OBSERVATIONS.c.id > low,
                            OBSERVATIONS.c.id <= low + scan,
                            OBSERVATIONS.c.device.in_(devices),
                        )
                        .group_by(OBSERVATIONS.c.device)
                    ).all()
                )
            )
    return counts
