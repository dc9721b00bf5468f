"""The visits table, kept up to date from the observations: refresh from a watermark, rebuild, zone models.

`refresh_visits(engine, settings)` merges the observations stored since the last refresh (id > watermark) into
the visits they touch and advances the watermark; reports and the dashboard call it before reading, and a
periodic job may call it too. The receiver's POST path does no extra work: a refresh is a separate step whose
cost is the new observations plus the stored visits of the devices they belong to (see analytics.incremental
for why merging is exact). `rebuild_visits` empties the tables and refreshes from id 0, which `presence
rebuild` runs.

Retention: `presence prune` (receiver.retention) deletes old observations but keeps the visits. `prepare_prune`
merges everything first and records the horizon (`pruned_before`) under the lease; a rebuild after that keeps
the visits that start before the horizon as they are and recomputes only the rest, skipping the observations
that are already counted in a kept visit (see `rebuild_visits`).

Locking: one process refreshes at a time. The `visit_refresh` row is a lease (locked_by, locked_until) taken
with a conditional UPDATE, the same on SQLite and PostgreSQL; others wait for it, and a crashed holder's lease
runs out. Every write transaction renews the lease first (on SQLite that first write takes the write lock, so
the transaction never upgrades from a read and cannot fail with SQLITE_BUSY_SNAPSHOT) and checks the watermark
it started from, so a process that lost its lease can never write.

The watermark is only safe if no observation with a smaller id can still commit. SQLite has one writer and
gives each row max(rowid) + 1, so max(id) is safe. PostgreSQL hands out ids from a sequence before the
inserting transaction commits, so a refresh takes max(id) under a brief SHARE lock on `observation`, which
waits for the inserts in flight (each holds ROW EXCLUSIVE from before it draws an id) and makes new ones wait
for the few microseconds the max takes.

SQLAlchemy Core throughout, not the ORM: these are bulk reads and writes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from analytics import incremental, zones
from analytics.settings import AnalyticsSettings
from receiver.config import Settings
from receiver.frames import read_tuples
from receiver.models import Observation, Visit, VisitRefresh, VisitState, ZoneModelRow

log = logging.getLogger("presence.visits")

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
VISITS = Visit.__table__  # type: ignore[attr-defined]
STATES = VisitState.__table__  # type: ignore[attr-defined]
REFRESH = VisitRefresh.__table__  # type: ignore[attr-defined]
MODELS = ZoneModelRow.__table__  # type: ignore[attr-defined]

STATE_NAME = "visits"
# Observations merged per transaction. A busy shop's ten million a week are a few hours' worth per chunk: a
# catch-up keeps its memory bounded and holds SQLite's write lock for a short write at a time.
CHUNK_ROWS = 200_000
# Stored visits read or re-zoned per query (IN lists stay well under SQLite's 32 766 variables).
IN_LIST = 5_000
REZONE_CHUNK = 20_000
LEASE = timedelta(minutes=5)
DEFAULT_WAIT = timedelta(minutes=10)
POLL_SECONDS = 0.2
# A cell of a stored visit: fingerprint period (ns since the epoch), index into its AP list, sum and count of
# rssi_avg. Packed little-endian: 22 bytes, about a tenth of an observation row.
CELL_DTYPE = np.dtype([("period", "<i8"), ("ap", "<u2"), ("rssi_sum", "<f8"), ("count", "<u4")])
POWER_DTYPE = np.dtype("<f8")
# The settings that change what a visit is; visits built with other values need `presence rebuild`.
BUILD_SETTINGS = ("visit_gap", "fingerprint_period")
# The settings the zone models are fitted with.
FIT_SETTINGS = ("rssi_floor_dbm", "zone_fit_sample", "random_state", "zone_fit_window", "min_dwell", "visitor_rssi_dbm")


class VisitsOutOfDate(RuntimeError):
    """The stored visits were built with other analytics settings; `presence rebuild` recomputes them."""


class RefreshBusy(RuntimeError):
    """Another process held the refresh lock for longer than we were willing to wait."""


class LeaseLost(RuntimeError):
    """Our refresh lease ran out and another process took over; nothing of ours was written after that."""


@dataclass
class RefreshResult:
    """What one refresh did."""

    observations: int = 0  # observations merged
    visits_written: int = 0  # visits inserted or rewritten
    visits_absorbed: int = 0  # stored visits merged into others (a late observation bridged them)
    zoned: int = 0  # visits given a zone after a zone model was (re)fitted or the AP names/positions changed
    fitted: list[str] = field(default_factory=list)  # sites whose zone model was fitted
    watermark: int = 0
    seconds: float = 0.0
    longest_write: float = 0.0  # seconds of the longest write transaction (on SQLite, how long POSTs could wait)
    visits_kept: int = 0  # rebuild: visits starting before the retention horizon, kept as they were


def refresh_visits(
    engine: Engine,
    settings: Settings,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
) -> RefreshResult:
    """Merge every observation stored since the last refresh into the visits; idempotent, safe to run concurrently.

    Waits up to `wait` for another process's refresh to finish (then usually finds nothing left to do) and
    raises RefreshBusy after that. Raises VisitsOutOfDate when the visits were built with another `visit_gap`
    or `fingerprint_period`.
    """
    analytics_settings = analytics_settings or AnalyticsSettings()
    started = time.perf_counter()
    with _lease(engine, analytics_settings, settings, wait) as lease:
        result = _catch_up(lease, settings, analytics_settings, chunk_rows)
    result.seconds = time.perf_counter() - started
    return result


def rebuild_visits(
    engine: Engine,
    settings: Settings,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    refit_zones: bool = True,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
) -> RefreshResult:
    """Recompute every visit from the observations: empty the visits and refresh from the first observation.

    With `refit_zones` (the default) the zone models are fitted again, on each site's most recent
    `zone_fit_window`; without it the stored models are kept, so zones come out as the incremental path gave them.

    After `presence prune` the observations before the retention horizon are gone, so the visits that start
    before it are kept as they are (with the settings they were built with; `visits_kept` counts them) and only
    the later ones are recomputed. Every observation still stored that was merged into a kept visit is skipped
    (merging it again would count it twice); the rest, and anything not merged yet, is merged as a refresh would.
    With the same settings this gives exactly the visits a rebuild before the prune gave.
    """
    analytics_settings = analytics_settings or AnalyticsSettings()
    started = time.perf_counter()
    with _lease(engine, analytics_settings, settings, wait, rebuilding=True) as lease:
        horizon = pruned_before(engine)
        merged_upto = lease.watermark
        visits_kept = 0
        with lease.transaction() as connection:
            if horizon is not None:
                visits_kept = _drop_visits_from(connection, horizon, refit_zones=refit_zones)
            else:
                connection.execute(delete(STATES))
                connection.execute(delete(VISITS))
                if refit_zones:
                    connection.execute(delete(MODELS))
                else:
                    # Keep the fitted centres; the span and APs are learnt again from the rebuilt visits.
                    connection.execute(update(MODELS).values(aps="[]", data_from=NO_SPAN, data_to=NO_SPAN, zoned=True))
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME)
                .values(
                    watermark=0,
                    settings=_settings_json(analytics_settings),
                    ap_config=_ap_config_json(settings),
                )
            )
            lease.watermark = 0
        kept = None if horizon is None else _counted_in_kept_visit(horizon, merged_upto)
        result = _catch_up(lease, settings, analytics_settings, chunk_rows, kept)
    result.visits_kept = visits_kept
    result.seconds = time.perf_counter() - started
    return result


def _drop_visits_from(connection: Connection, horizon: datetime, *, refit_zones: bool) -> int:
    """Delete the visits that start at or after the retention horizon; the number kept before it.

    The kept visits still hold the sites' spans and APs, so the zone model rows stay as they are; with
    `refit_zones` only their fit is dropped, to be fitted again at the end of the rebuild.
    """
    later = VISITS.c.first_seen >= horizon
    connection.execute(delete(STATES).where(STATES.c.visit_id.in_(select(VISITS.c.id).where(later))))
    connection.execute(delete(VISITS).where(later))
    if refit_zones:
        connection.execute(
            update(MODELS).values(
                model_aps=None,
                centers=None,
                trained_from=None,
                trained_to=None,
                fitted_at=None,
                fingerprints=0,
                version=0,
                zoned=False,
            )
        )
    return int(connection.execute(select(func.count()).select_from(VISITS)).scalar() or 0)


def pruned_before(engine: Engine) -> datetime | None:
    """The retention horizon: `presence prune` deleted observations last seen before this (None: never pruned)."""
    with engine.connect() as connection:
        return connection.execute(select(REFRESH.c.pruned_before).where(REFRESH.c.name == STATE_NAME)).scalar()


def prepare_prune(
    engine: Engine,
    settings: Settings,
    before: datetime,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    now: datetime | None = None,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
) -> RefreshResult:
    """Before observations last seen before `before` are deleted: merge every stored observation into the visits
    and record the horizon, both under the lease. The result's `watermark` is the id up to which deleting is safe.

    Under the lease, so no rebuild is running while the horizon moves: a rebuild that starts later keeps the
    visits before the new horizon (see `rebuild_visits`). The horizon never moves back. Raises VisitsOutOfDate
    like a refresh: pruning would freeze visits built with other settings.
    """
    analytics_settings = analytics_settings or AnalyticsSettings()
    started = time.perf_counter()
    with _lease(engine, analytics_settings, settings, wait) as lease:
        result = _catch_up(lease, settings, analytics_settings, chunk_rows)
        with lease.transaction() as connection:
            recorded = connection.execute(select(REFRESH.c.pruned_before).where(REFRESH.c.name == STATE_NAME)).scalar()
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME)
                .values(
                    pruned_before=before if recorded is None else max(recorded, before),
                    pruned_at=now or datetime.now(UTC),
                )
            )
    result.seconds = time.perf_counter() - started
    return result


def delete_device_visits(
    engine: Engine,
    settings: Settings,
    devices: Sequence[str],
    analytics_settings: AnalyticsSettings | None = None,
    *,
    wait: timedelta = DEFAULT_WAIT,
) -> dict[str, int]:
    """Delete every visit (and its state) of `devices`, under the lease; the number deleted per device.

    Delete the devices' observations first: a refresh that read them before can then no longer write a visit of
    theirs after this (it holds the lease from reading to writing). Other devices' visits are untouched:
    previous_first_seen only ever points at the same device's visits.
    """
    analytics_settings = analytics_settings or AnalyticsSettings()
    counts: dict[str, int] = {}
    # rebuilding=True only skips the settings check: an erasure must not wait for a `presence rebuild`.
    with _lease(engine, analytics_settings, settings, wait, rebuilding=True) as lease:
        for part in _chunks(list(devices)):
            with lease.transaction() as connection:
                found = connection.execute(
                    select(VISITS.c.device, func.count()).where(VISITS.c.device.in_(part)).group_by(VISITS.c.device)
                ).all()
                ids = select(VISITS.c.id).where(VISITS.c.device.in_(part))
                connection.execute(delete(STATES).where(STATES.c.visit_id.in_(ids)))
                connection.execute(delete(VISITS).where(VISITS.c.device.in_(part)))
            counts.update({str(device): int(count) for device, count in found})
    return counts


def visits_watermark(engine: Engine) -> int | None:
    """The id of the last observation merged into the visits (None before the first refresh)."""
    with engine.connect() as connection:
        return connection.execute(select(REFRESH.c.watermark).where(REFRESH.c.name == STATE_NAME)).scalar()


# --- the lease -----------------------------------------------------------------------------------------------

# data_from/data_to of a zone model whose site has no visits yet (a rebuild that keeps the models).
NO_SPAN = datetime(1970, 1, 1, tzinfo=UTC)


class _Lease:
    """Our hold on the refresh row: every write goes through `transaction()`, which renews it first."""

    def __init__(self, engine: Engine, owner: str, watermark: int) -> None:
        self.engine = engine
        self.owner = owner
        self.watermark = watermark
        self.longest_write = 0.0

    def transaction(self) -> _LeasedTransaction:
        return _LeasedTransaction(self)


class _LeasedTransaction:
    def __init__(self, lease: _Lease) -> None:
        self.lease = lease
        self._context: Any = None

    def __enter__(self) -> Connection:
        self._started = time.perf_counter()
        self._context = self.lease.engine.begin()
        connection = self._context.__enter__()
        try:
            renewed = connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME, REFRESH.c.locked_by == self.lease.owner)
                .values(locked_until=datetime.now(UTC) + LEASE)
            )
            stored = connection.execute(select(REFRESH.c.watermark).where(REFRESH.c.name == STATE_NAME)).scalar()
            if renewed.rowcount != 1 or stored != self.lease.watermark:
                raise LeaseLost(f"refresh lease of {self.lease.owner} lost")
        except BaseException as exc:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return connection

    def __exit__(self, *exc_info: Any) -> None:
        self._context.__exit__(*exc_info)
        self.lease.longest_write = max(self.lease.longest_write, time.perf_counter() - self._started)


class _lease:  # noqa: N801  (used as a context manager, like contextlib's)
    """Take the refresh lease (waiting for another holder), check the settings, release it at the end."""

    def __init__(
        self,
        engine: Engine,
        analytics_settings: AnalyticsSettings,
        settings: Settings,
        wait: timedelta,
        *,
        rebuilding: bool = False,
    ) -> None:
        self.engine = engine
        self.analytics_settings = analytics_settings
        self.settings = settings
        self.wait = wait
        self.rebuilding = rebuilding
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> _Lease:
        _ensure_row(self.engine, self.analytics_settings, self.settings)
        deadline = time.monotonic() + self.wait.total_seconds()
        while True:
            now = datetime.now(UTC)
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(REFRESH)
                    .where(
                        REFRESH.c.name == STATE_NAME,
                        or_(REFRESH.c.locked_by.is_(None), REFRESH.c.locked_until < now),
                    )
                    .values(locked_by=self.owner, locked_until=now + LEASE)
                )
                if taken.rowcount == 1:
                    row = connection.execute(select(REFRESH).where(REFRESH.c.name == STATE_NAME)).one()
                    break
            if time.monotonic() >= deadline:
                raise RefreshBusy("another process is refreshing the visits")
            time.sleep(POLL_SECONDS)
        try:
            if not self.rebuilding and json.loads(row.settings) != json.loads(_settings_json(self.analytics_settings)):
                raise VisitsOutOfDate(
                    "the visits were built with other analytics settings "
                    f"({row.settings}); run `presence rebuild` to recompute them"
                )
        except BaseException:
            self._release()
            raise
        self.lease = _Lease(self.engine, self.owner, int(row.watermark))
        return self.lease

    def __exit__(self, *exc_info: Any) -> None:
        self._release()

    def _release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME, REFRESH.c.locked_by == self.owner)
                .values(locked_by=None, locked_until=None)
            )


def _ensure_row(engine: Engine, analytics_settings: AnalyticsSettings, settings: Settings) -> None:
    insert = _dialect(engine).insert(REFRESH).on_conflict_do_nothing(index_elements=["name"])
    with engine.begin() as connection:
        connection.execute(
            insert,
            {
                "name": STATE_NAME,
                "watermark": 0,
                "settings": _settings_json(analytics_settings),
                "ap_config": _ap_config_json(settings),
            },
        )


def _dialect(engine: Engine | Connection):
    return postgresql if engine.dialect.name == "postgresql" else sqlite


def _settings_json(analytics_settings: AnalyticsSettings) -> str:
    values = asdict(analytics_settings)
    return json.dumps({name: str(values[name]) for name in BUILD_SETTINGS}, sort_keys=True)


def _ap_config_json(settings: Settings) -> str:
    aps = sorted((ap.mac, ap.name, ap.x, ap.y) for ap in settings.access_points.values())
    return json.dumps(aps)


# --- catching up -----------------------------------------------------------------------------------------------


def _catch_up(
    lease: _Lease,
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    chunk_rows: int,
    kept: Any = None,
) -> RefreshResult:
    """Merge the observations after the watermark, a chunk at a time; `kept` (a rebuild after a prune) is a SQL
    condition marking observations already counted in a kept visit, which are skipped."""
    result = RefreshResult(watermark=lease.watermark)
    models = _load_models(lease.engine)
    high = _safe_high_watermark(lease.engine)
    while lease.watermark < high:
        batch = _read_batch(lease.engine, lease.watermark, high, chunk_rows, kept)
        if batch.empty:
            break
        upto = int(batch["id"].iloc[-1])
        if kept is not None:
            counted = batch.pop("kept").to_numpy(dtype=bool)
            batch = batch.loc[~counted].reset_index(drop=True)
        if batch.empty:
            with lease.transaction() as connection:
                connection.execute(update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(watermark=upto))
            lease.watermark = upto
            continue
        _merge_batch(lease, batch, upto, models, settings, analytics_settings, result)
        result.observations += len(batch)
    _update_zones(lease, models, settings, analytics_settings, result)
    result.watermark = lease.watermark
    result.longest_write = lease.longest_write
    return result


def _safe_high_watermark(engine: Engine) -> int:
    """The largest observation id below which no row can still appear (see the module docstring)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE observation IN SHARE MODE"))
        return int(connection.execute(select(func.max(OBSERVATIONS.c.id))).scalar() or 0)


BATCH_COLUMNS = (
    "id",
    "site",
    "ap_mac",
    "device",
    "randomized",
    "manufacturer",
    "ssid",
    "associated",
    "first_seen",
    "last_seen",
    "rssi_max",
    "rssi_avg",
)


def _read_batch(engine: Engine, after: int, upto: int, limit: int, kept: Any = None) -> pd.DataFrame:
    """Observations with after < id <= upto, oldest id first, at most `limit` (SQLite times parsed vectorized);
    with a `kept` condition, a 0/1 column `kept` too."""
    columns = _time_columns_as_text(engine, OBSERVATIONS, BATCH_COLUMNS)
    names = list(BATCH_COLUMNS)
    if kept is not None:
        columns.append(case((kept, 1), else_=0).label("kept"))
        names.append("kept")
    query = (
        select(*columns)
        .where(OBSERVATIONS.c.id > after, OBSERVATIONS.c.id <= upto)
        .order_by(OBSERVATIONS.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = read_tuples(connection, query)
    frame = _parse_times(pd.DataFrame(rows, columns=names), ("first_seen", "last_seen"))
    return frame.astype(
        {
            "id": "int64",
            "randomized": bool,
            "associated": bool,
            "rssi_max": "float64",
            "rssi_avg": "float64",
            "site": object,
            "device": object,
            "ap_mac": object,
            "manufacturer": object,
            "ssid": object,
        }
    )


def _counted_in_kept_visit(horizon: datetime, merged_upto: int) -> Any:
    """True for an observation already merged (id <= merged_upto) into a visit that starts before `horizon`.

    Visits of one device at one site never overlap, so the only visit that can hold an observation is the
    device's latest one there that starts no later than it does: one probe of (device, first_seen) each.
    """
    latest = (
        select(VISITS.c.last_seen)
        .where(
            VISITS.c.device == OBSERVATIONS.c.device,
            VISITS.c.site == OBSERVATIONS.c.site,
            VISITS.c.first_seen <= OBSERVATIONS.c.first_seen,
            VISITS.c.first_seen < horizon,
        )
        .order_by(VISITS.c.first_seen.desc())
        .limit(1)
        .correlate(OBSERVATIONS)
        .scalar_subquery()
    )
    return and_(OBSERVATIONS.c.id <= merged_upto, latest >= OBSERVATIONS.c.last_seen)


def _time_columns_as_text(engine: Engine, table, names: Sequence[str]) -> list:
    """The columns, with UTC times read as ISO text on SQLite, parsed later in one vectorized step."""
    columns = []
    for name in names:
        column = table.c[name]
        if engine.dialect.name == "sqlite" and isinstance(column.type, type(OBSERVATIONS.c.first_seen.type)):
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    return columns


def _frame(rows: Sequence[Any], names: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows, built column by column (DataFrame.from_records probes every Row object for
    attributes, which costs more than the query)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pd.DataFrame({name: np.array(values, dtype=object) for name, values in zip(names, columns, strict=True)})


def _parse_times(frame: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    for name in names:
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    return frame


# --- merging one batch -------------------------------------------------------------------------------------------

STORED_COLUMNS = (
    "id",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "previous_first_seen",
    "max_rssi",
    "associated",
    "randomized",
    "observations",
    "ssid",
    "manufacturer",
)
STATE_RANK_COLUMNS = tuple(key for rank in incremental.RANK_COLUMNS.values() for key in rank)


def _merge_batch(
    lease: _Lease,
    batch: pd.DataFrame,
    upto: int,
    models: dict[str, _SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    result: RefreshResult,
) -> None:
    engine = lease.engine
    gap = pd.Timedelta(analytics_settings.visit_gap)
    low = batch["first_seen"].min() - gap
    high = batch["last_seen"].max() + gap
    devices = sorted(batch["device"].unique())
    stored, cells, power = _stored_visits(engine, devices, low, high)
    merged = incremental.merge(batch, stored, cells, power, analytics_settings)
    predecessors, successors = _neighbours(engine, devices, low, high)

    # Everything is worked out before the write transaction, which SQLite's POSTs wait for. Holding the lease,
    # we are the only writer of visits, so the next id can be read now.
    with engine.connect() as connection:
        next_id = int(connection.execute(select(func.max(VISITS.c.id))).scalar() or 0) + 1
    visits = merged.visits.copy()
    new = visits["id"].to_numpy() < 0
    visits.loc[new, "id"] = np.arange(next_id, next_id + int(new.sum()), dtype="int64")
    ids = visits["id"].to_numpy(dtype="int64")
    kept = stored.loc[~stored["id"].isin(merged.replaced)]
    chain = pd.concat(
        [
            kept.loc[:, ["id", "site", "device", "first_seen"]].rename(columns={"id": "ref"}),
            visits.loc[:, ["id", "site", "device", "first_seen"]].rename(columns={"id": "ref"}),
        ],
        ignore_index=True,
    )
    own, after = incremental.previous_starts(
        chain, predecessors, successors.rename(columns={"id": "ref"}).loc[:, ["ref", "site", "device", "first_seen"]]
    )
    visits["previous_first_seen"] = own.reindex(ids).set_axis(visits.index)
    visits = visits.join(_zone_rows(visits, merged.cells, merged.power, models, settings, analytics_settings), on="key")
    # Previous starts that changed outside the rewritten visits: kept neighbours and each device's next visit.
    moved_kept = kept.loc[~_same_times(kept["previous_first_seen"], own.reindex(kept["id"].to_numpy())), "id"]
    after_previous = after.reindex(successors["id"].to_numpy())
    moved_after = successors.loc[~_same_times(successors["previous_first_seen"], after_previous), "id"]
    previous_rows = [
        {"visit_id": int(row_id), "previous": _python_time(previous)}
        for row_id, previous in [
            *zip(moved_kept.tolist(), own.reindex(moved_kept.to_numpy()).tolist(), strict=True),
            *zip(moved_after.tolist(), after.reindex(moved_after.to_numpy()).tolist(), strict=True),
        ]
    ]
    visit_rows = _visit_records(visits)
    state_rows = _state_records(visits, merged.cells, merged.power)

    with lease.transaction() as connection:
        _delete_visits(connection, merged.replaced)
        if visit_rows:
            connection.execute(VISITS.insert(), visit_rows)
            connection.execute(STATES.insert(), state_rows)
        if previous_rows:
            connection.execute(
                update(VISITS)
                .where(VISITS.c.id == bindparam("visit_id"))
                .values(previous_first_seen=bindparam("previous")),
                previous_rows,
            )
        _record_sites(connection, batch, visits, models)
        connection.execute(
            update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(watermark=upto, refreshed_at=datetime.now(UTC))
        )
    lease.watermark = upto
    result.visits_written += len(visits)
    result.visits_absorbed += len(merged.replaced) - int((~new).sum())


def _same_times(stored: pd.Series, computed: pd.Series) -> np.ndarray:
    left = pd.to_datetime(pd.Series(stored.to_numpy()), utc=True)
    right = pd.to_datetime(pd.Series(computed.to_numpy()), utc=True)
    return ((left == right) | (left.isna() & right.isna())).to_numpy()


def _python_time(value: Any) -> datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _chunks(values: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]


def _stored_visits(
    engine: Engine, devices: Sequence[str], low: pd.Timestamp, high: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stored visits of `devices` that overlap [low, high], with their cells and power."""
    columns = [
        *_time_columns_as_text(engine, VISITS, STORED_COLUMNS),
        STATES.c.aps,
        STATES.c.cells,
        STATES.c.power,
        *(STATES.c[name] for name in STATE_RANK_COLUMNS),
    ]
    names = [*STORED_COLUMNS, "aps", "cells", "power", *STATE_RANK_COLUMNS]
    rows: list[Any] = []
    with engine.connect() as connection:
        for part in _chunks(devices):
            query = (
                select(*columns)
                .select_from(VISITS.join(STATES, STATES.c.visit_id == VISITS.c.id))
                .where(
                    VISITS.c.device.in_(part),
                    VISITS.c.last_seen >= low.to_pydatetime(),
                    VISITS.c.first_seen <= high.to_pydatetime(),
                )
            )
            rows.extend(read_tuples(connection, query))
    frame = _parse_times(_frame(rows, names), ("first_seen", "last_seen", "previous_first_seen"))
    frame = frame.astype({"id": "int64", "observations": "int64", "max_rssi": "float64"})
    frame["associated"] = frame["associated"].astype(bool)
    frame["randomized"] = frame["randomized"].astype(bool)
    for name in STATE_RANK_COLUMNS:
        frame[name] = frame[name].astype("Int64")
    cells, power = decode_states(frame["id"].to_numpy(dtype="int64"), frame["aps"], frame["cells"], frame["power"])
    return frame.drop(columns=["aps", "cells", "power"]), cells, power


def _neighbours(
    engine: Engine, devices: Sequence[str], low: pd.Timestamp, high: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per device, the start of its latest visit ending before `low`, and its first visit starting after `high`."""
    predecessors: list[Any] = []
    successors: list[Any] = []
    first_seen = _time_columns_as_text(engine, VISITS, ("first_seen", "previous_first_seen"))
    with engine.connect() as connection:
        for part in _chunks(devices):
            latest: Any = func.max(VISITS.c.first_seen)
            if engine.dialect.name == "sqlite":
                latest = type_coerce(latest, String())
            predecessors.extend(
                read_tuples(
                    connection,
                    select(VISITS.c.site, VISITS.c.device, latest.label("first_seen"))
                    .where(VISITS.c.device.in_(part), VISITS.c.last_seen < low.to_pydatetime())
                    .group_by(VISITS.c.site, VISITS.c.device),
                )
            )
            successors.extend(
                read_tuples(
                    connection,
                    select(VISITS.c.id, VISITS.c.site, VISITS.c.device, *first_seen).where(
                        VISITS.c.device.in_(part), VISITS.c.first_seen > high.to_pydatetime()
                    ),
                )
            )
    before = _parse_times(_frame(predecessors, ["site", "device", "first_seen"]), ["first_seen"])
    later = _frame(successors, ["id", "site", "device", "first_seen", "previous_first_seen"])
    later = _parse_times(later, ["first_seen", "previous_first_seen"])
    later = later.sort_values(["site", "device", "first_seen"]).drop_duplicates(["site", "device"])
    return before, later.astype({"id": "int64"}).reset_index(drop=True)


def encode_states(
    keys: np.ndarray, cells: pd.DataFrame, power: pd.DataFrame
) -> tuple[list[str], list[bytes], list[bytes]]:
    """Each visit's AP list, cells blob and power blob, in the order of `keys` (the `visit` values of cells/power).

    Vectorized except for slicing the packed buffers into one bytes object per visit.
    """
    power = power.sort_values(["visit", "ap_mac"], kind="stable")
    ap_lists = _joined(power["visit"].to_numpy(), power["ap_mac"].to_numpy(dtype=object), ",")
    # Each cell's AP as an index into its visit's AP list (power has every AP that heard the visit).
    position = power.groupby("visit", sort=True).cumcount().to_numpy()
    ap_index = pd.Series(position, index=pd.MultiIndex.from_arrays([power["visit"], power["ap_mac"]]))
    cells = cells.sort_values(["visit", "period", "ap_mac"], kind="stable")
    packed = np.empty(len(cells), dtype=CELL_DTYPE)
    packed["period"] = cells["period"].to_numpy(dtype="int64")
    packed["ap"] = ap_index.reindex(pd.MultiIndex.from_arrays([cells["visit"], cells["ap_mac"]])).to_numpy()
    packed["rssi_sum"] = cells["rssi_sum"].to_numpy(dtype="float64")
    packed["count"] = cells["count"].to_numpy(dtype="int64")
    cell_bytes = _split(packed.tobytes(), cells["visit"].to_numpy(), keys, CELL_DTYPE.itemsize)
    power_values = power["power"].to_numpy(dtype=POWER_DTYPE)
    power_bytes = _split(power_values.tobytes(), power["visit"].to_numpy(), keys, POWER_DTYPE.itemsize)
    return ap_lists.reindex(keys).fillna("").tolist(), cell_bytes, power_bytes


def _split(buffer: bytes, owners: np.ndarray, keys: np.ndarray, itemsize: int) -> list[bytes]:
    """Slices of `buffer`, whose items are sorted by owner, one per key of `keys` (in that order)."""
    counts = pd.Series(owners).value_counts().reindex(keys, fill_value=0).to_numpy(dtype="int64")
    order = np.argsort(keys, kind="stable")
    starts = np.empty(len(keys), dtype="int64")
    starts[order] = np.concatenate(([0], np.cumsum(counts[order])[:-1])) * itemsize
    view = memoryview(buffer)
    return [bytes(view[start : start + count * itemsize]) for start, count in zip(starts, counts, strict=True)]


def decode_states(
    visit_ids: np.ndarray, aps: Iterable[str], cells: Iterable[bytes], power: Iterable[bytes]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells and power frames (columns visit, period, ap_mac, rssi_sum, count; visit, ap_mac, power) of stored
    visits, from their state rows."""
    ap_lists = [value.split(",") if value else [] for value in aps]
    cell_blobs = [bytes(blob) for blob in cells]
    power_blobs = [bytes(blob) for blob in power]
    if not cell_blobs:
        return incremental.empty_cells(), incremental.empty_power()
    packed = np.frombuffer(b"".join(cell_blobs), dtype=CELL_DTYPE)
    cell_counts = np.array([len(blob) // CELL_DTYPE.itemsize for blob in cell_blobs], dtype="int64")
    ap_counts = np.array([len(names) for names in ap_lists], dtype="int64")
    all_aps = np.array([name for names in ap_lists for name in names], dtype=object)
    ap_offsets = np.concatenate(([0], np.cumsum(ap_counts)[:-1]))
    owner = np.repeat(np.arange(len(cell_blobs)), cell_counts)
    cells_frame = pd.DataFrame(
        {
            "visit": np.repeat(visit_ids, cell_counts),
            "period": packed["period"].astype("int64"),
            "ap_mac": all_aps[ap_offsets[owner] + packed["ap"].astype("int64")] if len(packed) else [],
            "rssi_sum": packed["rssi_sum"].astype("float64"),
            "count": packed["count"].astype("int64"),
        }
    )
    power_values = np.frombuffer(b"".join(power_blobs), dtype=POWER_DTYPE)
    power_frame = pd.DataFrame(
        {
            "visit": np.repeat(visit_ids, ap_counts),
            "ap_mac": all_aps,
            "power": power_values.astype("float64"),
        }
    )
    return cells_frame.astype({"ap_mac": object}), power_frame.astype({"ap_mac": object})


VISIT_ROW_COLUMNS = (
    "id",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "previous_first_seen",
    "dwell_seconds",
    "max_rssi",
    "associated",
    "randomized",
    "observations",
    "ssid",
    "manufacturer",
    "zone",
    "last_zone",
    "x",
    "y",
    "zone_moves",
)


def _visit_records(visits: pd.DataFrame) -> list[dict[str, Any]]:
    """The `visit` rows of merged visits, ready for executemany."""
    frame = visits.assign(dwell_seconds=(visits["last_seen"] - visits["first_seen"]).dt.total_seconds())
    return _records(frame, VISIT_ROW_COLUMNS)


def _state_records(visits: pd.DataFrame, cells: pd.DataFrame, power: pd.DataFrame) -> list[dict[str, Any]]:
    """The `visit_state` rows of merged visits (cells and power keyed by the visits' `key`)."""
    if visits.empty:
        return []
    aps, cell_blobs, power_blobs = encode_states(visits["key"].to_numpy(dtype="int64"), cells, power)
    frame = pd.DataFrame(
        {
            "visit_id": visits["id"].to_numpy(dtype="int64"),
            "aps": aps,
            "cells": cell_blobs,
            "power": power_blobs,
            **{name: visits[name].to_numpy() for name in STATE_RANK_COLUMNS},
        }
    )
    return _records(frame, tuple(frame.columns))


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (None for anything missing, aware datetimes), for executemany."""
    values: list[list[Any]] = []
    for name in columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            moments: list[Any] = list(column.dt.to_pydatetime())
            missing = column.isna().to_numpy()
            values.append([None if absent else moment for absent, moment in zip(missing, moments, strict=True)])
        elif column.dtype.kind in "iub":
            values.append(column.tolist())
        elif column.dtype.kind == "f":
            values.append(column.astype(object).where(column.notna(), None).tolist())
        else:
            values.append([None if _missing(value) else value for value in column.tolist()])
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _delete_visits(connection: Connection, ids: np.ndarray) -> None:
    for part in _chunks([int(value) for value in ids]):
        connection.execute(delete(STATES).where(STATES.c.visit_id.in_(part)))
        connection.execute(delete(VISITS).where(VISITS.c.id.in_(part)))


# --- zones -------------------------------------------------------------------------------------------------------


@dataclass
class _SiteModel:
    """A `zone_model` row in memory."""

    site: str
    aps: list[str]
    data_from: pd.Timestamp
    data_to: pd.Timestamp
    model_aps: list[str] | None = None
    centers: np.ndarray | None = None
    trained_from: pd.Timestamp | None = None
    trained_to: pd.Timestamp | None = None
    fingerprints: int = 0
    version: int = 0
    zoned: bool = False
    stored: bool = True

    @property
    def fitted(self) -> bool:
        return self.version > 0

    def zones(self, access_points: Mapping[str, zones.NamedAccessPoint]) -> zones.SiteZones:
        return zones.site_zones_from_centers(self.site, self.model_aps or self.aps, self.centers, access_points)


def _load_models(engine: Engine) -> dict[str, _SiteModel]:
    with engine.connect() as connection:
        rows = connection.execute(select(MODELS)).mappings().all()
    models = {}
    for row in rows:
        models[row["site"]] = _SiteModel(
            site=row["site"],
            aps=json.loads(row["aps"]),
            data_from=pd.Timestamp(row["data_from"]),
            data_to=pd.Timestamp(row["data_to"]),
            model_aps=json.loads(row["model_aps"]) if row["model_aps"] else None,
            centers=np.asarray(json.loads(row["centers"]), dtype="float64") if row["centers"] else None,
            trained_from=pd.Timestamp(row["trained_from"]) if row["trained_from"] else None,
            trained_to=pd.Timestamp(row["trained_to"]) if row["trained_to"] else None,
            fingerprints=int(row["fingerprints"]),
            version=int(row["version"]),
            zoned=bool(row["zoned"]),
        )
    return models


def _record_sites(
    connection: Connection, batch: pd.DataFrame, visits: pd.DataFrame, models: dict[str, _SiteModel]
) -> None:
    """Widen each touched site's span and AP list (in memory and in its zone_model row)."""
    spans = visits.groupby("site").agg(first=("first_seen", "min"), last=("last_seen", "max"))
    aps = batch.groupby("site")["ap_mac"].unique()
    for site, span in spans.iterrows():
        model = models.get(str(site))
        site_aps = sorted(set(aps.get(site, [])))
        if model is None:
            model = _SiteModel(str(site), site_aps, span["first"], span["last"], stored=False)
            models[str(site)] = model
        if model.data_to == pd.Timestamp(NO_SPAN):
            model.data_from, model.data_to = span["first"], span["last"]
        model.aps = sorted(set(model.aps) | set(site_aps))
        model.data_from = min(model.data_from, span["first"])
        model.data_to = max(model.data_to, span["last"])
        _save_model(connection, model)


def _save_model(connection: Connection, model: _SiteModel) -> None:
    values = {
        "aps": json.dumps(model.aps),
        "data_from": model.data_from.to_pydatetime(),
        "data_to": model.data_to.to_pydatetime(),
        "model_aps": json.dumps(model.model_aps) if model.model_aps is not None else None,
        "centers": json.dumps(model.centers.tolist()) if model.centers is not None else None,
        "trained_from": model.trained_from.to_pydatetime() if model.trained_from is not None else None,
        "trained_to": model.trained_to.to_pydatetime() if model.trained_to is not None else None,
        "fitted_at": datetime.now(UTC) if model.fitted else None,
        "fingerprints": model.fingerprints,
        "version": model.version,
        "zoned": model.zoned,
    }
    if model.stored:
        connection.execute(update(MODELS).where(MODELS.c.site == model.site).values(**values))
    else:
        connection.execute(MODELS.insert().values(site=model.site, **values))
        model.stored = True


def _zone_rows(
    visits: pd.DataFrame,
    cells: pd.DataFrame,
    power: pd.DataFrame,
    models: Mapping[str, _SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
) -> pd.DataFrame:
    """zone, last_zone, x, y and zone_moves per visit `key` (zones NULL where the site has no fitted model)."""
    positions = zones.power_positions(power, settings.access_points)
    result = pd.DataFrame(index=pd.Index(visits["key"].to_numpy(dtype="int64"), name="key"))
    result["zone"] = pd.Series(dtype=object)
    result["last_zone"] = pd.Series(dtype=object)
    result["zone_moves"] = pd.Series(dtype=object)
    result["x"] = positions["x"].reindex(result.index).to_numpy()
    result["y"] = positions["y"].reindex(result.index).to_numpy()
    site_of = pd.Series(visits["site"].to_numpy(dtype=object), index=visits["key"].to_numpy(dtype="int64"))
    fitted = {site: model for site, model in models.items() if model.fitted}
    cells = cells.loc[site_of.reindex(cells["visit"].to_numpy()).isin(list(fitted)).to_numpy()]
    if cells.empty:
        return result
    cells = cells.assign(site=site_of.reindex(cells["visit"].to_numpy()).to_numpy())
    zone_model = zones.ZoneModel({site: model.zones(settings.access_points) for site, model in fitted.items()})
    placed, moves = incremental.zone_summary(cells, zone_model, analytics_settings)
    result.loc[placed.index, "zone"] = placed["zone"].astype(object)
    result.loc[placed.index, "last_zone"] = placed["last_zone"].astype(object)
    if len(moves):
        result.loc[:, "zone_moves"] = encode_moves(moves).reindex(result.index).to_numpy()
    return result


def encode_moves(moves: pd.DataFrame) -> pd.Series:
    """Per visit, its moves (`zones.zone_moves` rows) as the JSON text stored in visit.zone_moves."""
    names = pd.Series(pd.unique(pd.concat([moves["from"], moves["to"]])))
    quoted = pd.Series([json.dumps(str(name)) for name in names], index=names.to_numpy())
    pieces = (
        "["
        + quoted.reindex(moves["from"].to_numpy()).to_numpy()
        + ", "
        + quoted.reindex(moves["to"].to_numpy()).to_numpy()
        + ", "
        + moves["moves"].astype(str).to_numpy()
        + "]"
    )
    order = np.argsort(moves["visit"].to_numpy(), kind="stable")
    joined = _joined(moves["visit"].to_numpy()[order], np.asarray(pieces, dtype=object)[order], ", ")
    return "[" + joined + "]"


def _joined(owners: np.ndarray, texts: np.ndarray, separator: str) -> pd.Series:
    """The texts of each owner joined by `separator`, indexed by owner; `owners` must be sorted. One C-level
    reduceat instead of a Python join per group."""
    if len(owners) == 0:
        return pd.Series(dtype=object)
    starts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
    ends = np.append(starts[1:], len(owners)) - 1
    with_separator = texts + separator
    with_separator[ends] = texts[ends]  # no separator after the last of each owner
    return pd.Series(np.add.reduceat(with_separator, starts), index=owners[starts])


def _update_zones(
    lease: _Lease,
    models: dict[str, _SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    result: RefreshResult,
) -> None:
    """Fit the zone models that need it and re-zone what they changed (and everything when AP names moved)."""
    engine = lease.engine
    with engine.connect() as connection:
        stored_config = connection.execute(select(REFRESH.c.ap_config).where(REFRESH.c.name == STATE_NAME)).scalar()
    config_changed = stored_config != _ap_config_json(settings)
    window = pd.Timedelta(analytics_settings.zone_fit_window)
    for site, model in sorted(models.items()):
        span = model.data_to - model.data_from
        trained = pd.Timedelta(0)
        if model.trained_from is not None and model.trained_to is not None:
            trained = model.trained_to - model.trained_from
        young = model.fitted and trained < window and span >= 2 * max(trained, pd.Timedelta(minutes=1))
        new_aps = model.fitted and (model.model_aps or []) != model.aps and len(model.aps) > 1
        if not model.fitted or young or new_aps:
            if _fit(lease, model, analytics_settings):
                result.fitted.append(site)
                model.zoned = False
                with lease.transaction() as connection:
                    _save_model(connection, model)
        if model.fitted and (not model.zoned or config_changed):
            result.zoned += _rezone(lease, model, models, settings, analytics_settings)
            model.zoned = True
            with lease.transaction() as connection:
                _save_model(connection, model)
    if config_changed:
        with lease.transaction() as connection:
            connection.execute(
                update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(ap_config=_ap_config_json(settings))
            )


def _fit(lease: _Lease, model: _SiteModel, analytics_settings: AnalyticsSettings) -> bool:
    """Fit `model` on the fingerprints of the site's qualifying visits of its latest `zone_fit_window` (all its
    visits there if none qualify). False when the site has no visits."""
    engine = lease.engine
    since = model.data_to - pd.Timedelta(analytics_settings.zone_fit_window)
    in_window = and_(VISITS.c.site == model.site, VISITS.c.first_seen >= since.to_pydatetime())
    qualifying = and_(
        VISITS.c.dwell_seconds >= pd.Timedelta(analytics_settings.min_dwell).total_seconds(),
        VISITS.c.max_rssi >= analytics_settings.visitor_rssi_dbm,
    )
    wide_parts = []
    for condition in (and_(in_window, qualifying), in_window):
        for ids, cells, _power in _states_where(engine, condition):
            if len(ids):
                wide_parts.append(zones.cell_fingerprints(cells, ["visit"]))
        if wide_parts:
            break
    if not wide_parts:
        return False
    wide = pd.concat(wide_parts)
    aps = sorted(model.aps)
    fitted = zones.fit_site_zones(model.site, aps, wide, None, analytics_settings)
    model.model_aps = list(fitted.aps)
    model.centers = None if fitted.kmeans is None else np.asarray(fitted.kmeans.cluster_centers_, dtype="float64")
    model.trained_from, model.trained_to = max(since, model.data_from), model.data_to
    model.fingerprints = len(wide)
    model.version += 1
    log.info("fitted the zone model of site %s on %d fingerprints", model.site, len(wide))
    return True


def _states_where(engine: Engine, condition: Any) -> Iterator[tuple[np.ndarray, pd.DataFrame, pd.DataFrame]]:
    """Stored visits matching `condition`, REZONE_CHUNK at a time by id: (ids, cells, power)."""
    after = 0
    while True:
        query = (
            select(VISITS.c.id, STATES.c.aps, STATES.c.cells, STATES.c.power)
            .select_from(VISITS.join(STATES, STATES.c.visit_id == VISITS.c.id))
            .where(condition, VISITS.c.id > after)
            .order_by(VISITS.c.id)
            .limit(REZONE_CHUNK)
        )
        with engine.connect() as connection:
            rows = read_tuples(connection, query)
        if not rows:
            return
        ids = np.array([row[0] for row in rows], dtype="int64")
        cells, power = decode_states(ids, [row[1] for row in rows], [row[2] for row in rows], [row[3] for row in rows])
        yield ids, cells, power
        after = int(ids[-1])


def _rezone(
    lease: _Lease,
    model: _SiteModel,
    models: Mapping[str, _SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
) -> int:
    """Work out zone, last_zone, x, y and moves of every visit of the site again from its stored cells."""
    count = 0
    for ids, cells, power in _states_where(lease.engine, VISITS.c.site == model.site):
        frame = pd.DataFrame({"key": ids, "site": model.site})
        placed = _zone_rows(frame, cells, power, {model.site: model}, settings, analytics_settings)
        rows = [
            {
                "visit_id": int(visit_id),
                "zone": _none(row.zone),
                "last_zone": _none(row.last_zone),
                "x": _none(row.x),
                "y": _none(row.y),
                "zone_moves": _none(row.zone_moves),
            }
            for visit_id, row in zip(placed.index, placed.itertuples(index=False), strict=True)
        ]
        with lease.transaction() as connection:
            connection.execute(
                update(VISITS)
                .where(VISITS.c.id == bindparam("visit_id"))
                .values(
                    zone=bindparam("zone"),
                    last_zone=bindparam("last_zone"),
                    x=bindparam("x"),
                    y=bindparam("y"),
                    zone_moves=bindparam("zone_moves"),
                ),
                rows,
            )
        count += len(rows)
    return count


def _none(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
