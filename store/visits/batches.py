"""Reading observations from the watermark: the batches a refresh merges, and the safe high end of each.

The watermark is only safe if no observation with a smaller id can still commit. SQLite has one writer and
gives each row max(rowid) + 1, so max(id) is safe. PostgreSQL hands out ids from a sequence before the
inserting transaction commits, so a refresh takes max(id) under a brief SHARE lock on `observation`, which
waits for the inserts in flight (each holds ROW EXCLUSIVE from before it draws an id) and makes new ones wait
for the few microseconds the max takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Engine,
    String,
    and_,
    case,
    func,
    or_,
    select,
    text,
    type_coerce,
)

from devices.manufacturers import short_names
from store.frames import read_tuples
from store.visits.shared import (
    OBSERVATIONS,
    VISITS,
)


def safe_high_watermark(engine: Engine) -> int:
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


def read_batch(engine: Engine, marks: Mapping[str, int], upto: int, limit: int, kept: Any = None) -> pd.DataFrame:
    """Observations of the sites of `marks` after each one's watermark and up to `upto`, oldest id first, at most
    `limit` (SQLite times parsed vectorized), manufacturers as their short names (as
    `store.frames.load_observations` gives them); with a `kept` condition, a 0/1 column `kept` too."""
    columns = time_columns_as_text(engine, OBSERVATIONS, BATCH_COLUMNS)
    names = list(BATCH_COLUMNS)
    if kept is not None:
        columns.append(case((kept, 1), else_=0).label("kept"))
        names.append("kept")
    groups = _by_mark(marks)
    after = or_(*(and_(OBSERVATIONS.c.id > mark, OBSERVATIONS.c.site.in_(sites)) for mark, sites in groups))
    query = (
        select(*columns)
        .where(OBSERVATIONS.c.id > groups[0][0], OBSERVATIONS.c.id <= upto, after)
        .order_by(OBSERVATIONS.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = read_tuples(connection, query)
    frame = parse_times(pd.DataFrame(rows, columns=names), ("first_seen", "last_seen"))
    frame["manufacturer"] = short_names(frame["manufacturer"].astype(object))
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


def counted_in_kept_visit(horizon: datetime, merged_upto: Mapping[str, int], elsewhere: int) -> Any:
    """True for an observation already merged (id up to its site's watermark in `merged_upto`, or `elsewhere` at
    a site without one) into a visit that starts before `horizon`.

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
    merged = or_(
        *(and_(OBSERVATIONS.c.site.in_(sites), OBSERVATIONS.c.id <= mark) for mark, sites in _by_mark(merged_upto)),
        and_(OBSERVATIONS.c.site.not_in(sorted(merged_upto)), OBSERVATIONS.c.id <= elsewhere),
    )
    return and_(merged, latest >= OBSERVATIONS.c.last_seen)


def _by_mark(marks: Mapping[str, int]) -> list[tuple[int, list[str]]]:
    """The sites of `marks` grouped by watermark, lowest first (usually one group: refreshes bring every site to
    the same one)."""
    groups: dict[int, list[str]] = {}
    for site, mark in marks.items():
        groups.setdefault(mark, []).append(site)
    return [(mark, sorted(sites)) for mark, sites in sorted(groups.items())]


def time_columns_as_text(engine: Engine, table, names: Sequence[str]) -> list:
    """The columns, with UTC times read as ISO text on SQLite, parsed later in one vectorized step."""
    columns = []
    for name in names:
        column = table.c[name]
        if engine.dialect.name == "sqlite" and isinstance(column.type, type(OBSERVATIONS.c.first_seen.type)):
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    return columns


def frame_of(rows: Sequence[Any], names: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows, built column by column (DataFrame.from_records probes every Row object for
    attributes, which costs more than the query)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pd.DataFrame({name: np.array(values, dtype=object) for name, values in zip(names, columns, strict=True)})


def parse_times(frame: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    for name in names:
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    return frame
