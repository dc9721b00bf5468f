"""Merging one batch of observations into the stored visits it touches, in one short write transaction.

Everything is worked out before the write (analytics.incremental.merge gives the merged visits; the previous-visit
chains and zones are recomputed for what changed), so SQLite's POSTs wait only for the write itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    String,
    bindparam,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)

from analytics import incremental
from analytics.settings import AnalyticsSettings
from config.settings import Settings
from store.frames import read_tuples
from store.visits.batches import frame_of, parse_times, time_columns_as_text
from store.visits.lease import Lease
from store.visits.shared import (
    STATES,
    VISITS,
    RefreshResult,
    chunks,
)
from store.visits.states import decode_heard, decode_states, encode_heard, encode_states
from store.visits.zone_models import SiteModel, record_sites, zone_rows

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
    "ssids",
)
VISIT_IDS_LOCK = 0x7072_6573_656E_6365 // 2  # pg_advisory_xact_lock key of the visit ids ("presence")
STATE_RANK_COLUMNS = tuple(key for rank in incremental.RANK_COLUMNS.values() for key in rank)


def merge_batch(
    lease: Lease,
    batch: pd.DataFrame,
    upto: int,
    models: dict[str, SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    result: RefreshResult,
) -> None:
    engine = lease.engine
    gap = pd.Timedelta(analytics_settings.visit_gap)
    low = batch["first_seen"].min() - gap
    high = batch["last_seen"].max() + gap
    devices = sorted(batch["device"].unique())
    sites = sorted(batch["site"].unique())  # of the lease's: another process may be writing other sites' visits
    stored, cells, power, heard = _stored_visits(engine, devices, sites, low, high)
    merged = incremental.merge(batch, stored, cells, power, analytics_settings, heard)
    predecessors, successors = _neighbours(engine, devices, sites, low, high)

    # Everything is worked out before the write transaction, which SQLite's POSTs wait for. New visits are
    # numbered from the highest id now, and renumbered in the transaction if another site's refresh wrote since.
    with engine.connect() as connection:
        next_id = _next_visit_id(connection)
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
    visits = visits.join(zone_rows(visits, merged.cells, merged.power, models, settings, analytics_settings), on="key")
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
    state_rows = _state_records(visits, merged.cells, merged.power, merged.heard)

    with lease.transaction() as connection:
        _renumber(visit_rows, state_rows, next_id, _next_visit_id(connection, lock=True))
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
        record_sites(connection, batch, visits, models)
        lease.advance(connection, upto)
    lease.advanced(upto)
    result.visits_written += len(visits)
    result.visits_absorbed += len(merged.replaced) - int((~new).sum())


def _next_visit_id(connection: Connection, *, lock: bool = False) -> int:
    """One more than the highest visit id. With `lock` (in the write transaction) no other refresh can insert
    visits until we commit: SQLite's write lock is already ours (the lease's renewal wrote first); on PostgreSQL
    a transaction-scoped advisory lock makes concurrent refreshes of different sites number their visits in turn."""
    if lock and connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": VISIT_IDS_LOCK})
    return int(connection.execute(select(func.max(VISITS.c.id))).scalar() or 0) + 1


def _renumber(visit_rows: list[dict[str, Any]], state_rows: list[dict[str, Any]], planned: int, actual: int) -> None:
    """Move the new visits' ids (numbered from `planned`) to start at `actual`; rewritten visits keep theirs."""
    if actual == planned:
        return
    for rows, key in ((visit_rows, "id"), (state_rows, "visit_id")):
        for row in rows:
            if row[key] >= planned:
                row[key] += actual - planned


def _same_times(stored: pd.Series, computed: pd.Series) -> np.ndarray:
    left = pd.to_datetime(pd.Series(stored.to_numpy()), utc=True)
    right = pd.to_datetime(pd.Series(computed.to_numpy()), utc=True)
    return ((left == right) | (left.isna() & right.isna())).to_numpy()


def _python_time(value: Any) -> datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _stored_visits(
    engine: Engine, devices: Sequence[str], sites: Sequence[str], low: pd.Timestamp, high: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stored visits of `devices` at `sites` that overlap [low, high], with their cells, power and heard
    intervals. The sites are kept after reading: with `site IN (...)` in the query SQLite walks
    ix_visit_site_first_seen, every visit of those sites before `high` (0.4 s for a minute's 250 devices of a
    12-site chain, instead of a few milliseconds by ix_visit_device_first_seen)."""
    columns = [
        *time_columns_as_text(engine, VISITS, STORED_COLUMNS),
        STATES.c.aps,
        STATES.c.cells,
        STATES.c.power,
        STATES.c.heard,
        *(STATES.c[name] for name in STATE_RANK_COLUMNS),
    ]
    names = [*STORED_COLUMNS, "aps", "cells", "power", "heard", *STATE_RANK_COLUMNS]
    rows: list[Any] = []
    with engine.connect() as connection:
        for part in chunks(devices):
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
    site_at = names.index("site")
    wanted = set(sites)
    rows = [row for row in rows if row[site_at] in wanted]
    frame = parse_times(frame_of(rows, names), ("first_seen", "last_seen", "previous_first_seen"))
    frame = frame.astype({"id": "int64", "observations": "int64", "max_rssi": "float64"})
    frame["associated"] = frame["associated"].astype(bool)
    frame["randomized"] = frame["randomized"].astype(bool)
    for name in STATE_RANK_COLUMNS:
        frame[name] = frame[name].astype("Int64")
    ids = frame["id"].to_numpy(dtype="int64")
    cells, power = decode_states(ids, frame["aps"], frame["cells"], frame["power"])
    heard = decode_heard(
        ids,
        frame["heard"],
        frame["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
        frame["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
    )
    return frame.drop(columns=["aps", "cells", "power", "heard"]), cells, power, heard


def _neighbours(
    engine: Engine, devices: Sequence[str], sites: Sequence[str], low: pd.Timestamp, high: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per device and site (of `sites`), the start of its latest visit ending before `low`, and its first visit
    starting after `high`."""
    predecessors: list[Any] = []
    successors: list[Any] = []
    first_seen = time_columns_as_text(engine, VISITS, ("first_seen", "previous_first_seen"))
    with engine.connect() as connection:
        for part in chunks(devices):
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
    wanted = set(sites)  # see _stored_visits
    predecessors = [row for row in predecessors if row[0] in wanted]
    successors = [row for row in successors if row[1] in wanted]
    before = parse_times(frame_of(predecessors, ["site", "device", "first_seen"]), ["first_seen"])
    later = frame_of(successors, ["id", "site", "device", "first_seen", "previous_first_seen"])
    later = parse_times(later, ["first_seen", "previous_first_seen"])
    later = later.sort_values(["site", "device", "first_seen"]).drop_duplicates(["site", "device"])
    return before, later.astype({"id": "int64"}).reset_index(drop=True)


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
    "ssids",
    "ap_macs",
    "zone",
    "last_zone",
    "x",
    "y",
    "zone_moves",
)


def _visit_records(visits: pd.DataFrame) -> list[dict[str, Any]]:
    """The `visit` rows of merged visits (dwell_seconds as analytics.incremental.merge worked it out), ready for
    executemany."""
    return _records(visits, VISIT_ROW_COLUMNS)


def _state_records(
    visits: pd.DataFrame, cells: pd.DataFrame, power: pd.DataFrame, heard: pd.DataFrame
) -> list[dict[str, Any]]:
    """The `visit_state` rows of merged visits (cells, power and heard intervals keyed by the visits' `key`)."""
    if visits.empty:
        return []
    keys = visits["key"].to_numpy(dtype="int64")
    aps, cell_blobs, power_blobs = encode_states(keys, cells, power)
    frame = pd.DataFrame(
        {
            "visit_id": visits["id"].to_numpy(dtype="int64"),
            "aps": aps,
            "cells": cell_blobs,
            "power": power_blobs,
            "heard": encode_heard(keys, heard),
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
    for part in chunks([int(value) for value in ids]):
        connection.execute(delete(STATES).where(STATES.c.visit_id.in_(part)))
        connection.execute(delete(VISITS).where(VISITS.c.id.in_(part)))
