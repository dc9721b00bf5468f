"""Observations as a typed DataFrame: the one bridge from the database to the analytics.

SQLAlchemy Core, not the ORM, and only the columns the analytics read: a busy shop stores about ten million
observations a week, so rows are fetched in large partitions and turned into typed columns chunk by chunk.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, String, select, type_coerce

from receiver.models import Observation

TIME_DTYPE = "datetime64[ns, UTC]"
# Column -> dtype of the frame (the columns `analytics.schema` expects, plus vendor).
FRAME_DTYPES: dict[str, str] = {
    "vendor": "str",
    "site": "str",
    "ap_mac": "str",
    "device": "str",
    "randomized": "bool",
    "manufacturer": "str",
    "ssid": "str",
    "associated": "bool",
    "first_seen": TIME_DTYPE,
    "last_seen": TIME_DTYPE,
    "rssi_max": "float64",
    "rssi_avg": "float64",
}
# The analytics' default look-back (analytics.settings.AnalyticsSettings.history): staff need the 14 days before
# the window, loyalty and new visitors the 28 days before it.
DEFAULT_HISTORY = timedelta(days=28)
# ... and visits in progress at the window's end are followed this long after it (visit_lookahead).
DEFAULT_LOOKAHEAD = timedelta(hours=6)
# No stored record spans more than this (EnGenius aggregates one reporting interval, Aerohive one moment): it
# bounds last_seen from above too, so the last_seen index serves both ends of the window.
MAX_RECORD_SPAN = timedelta(days=1)
PARTITION_ROWS = 250_000


def load_observations(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    *,
    history: timedelta = DEFAULT_HISTORY,
    lookahead: timedelta = DEFAULT_LOOKAHEAD,
) -> pd.DataFrame:
    """Observations of the UTC window [start, end), the `history` before it and the `lookahead` after it.

    Rows are those with last_seen >= start - history and first_seen < end + lookahead (None leaves a side
    open), ordered by last_seen. Columns are FRAME_DTYPES, times as datetime64[ns, UTC]; manufacturer and ssid
    are missing (NA) where not reported.
    """
    table = Observation.__table__  # type: ignore[attr-defined]
    sqlite = engine.dialect.name == "sqlite"
    columns = []
    for name in FRAME_DTYPES:
        column = table.c[name]
        if sqlite and FRAME_DTYPES[name] == TIME_DTYPE:
            # SQLite keeps times as ISO text; parsing it in one vectorized step is far faster than the
            # per-row datetime conversion of the column type.
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    query = select(*columns)
    if start is not None:
        query = query.where(table.c.last_seen >= start - history)
    if end is not None:
        horizon = end + lookahead
        query = query.where(table.c.first_seen < horizon, table.c.last_seen < horizon + MAX_RECORD_SPAN)
    query = query.order_by(table.c.last_seen, table.c.id)
    chunks = []
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=PARTITION_ROWS).execute(query)
        for partition in result.partitions():
            chunks.append(_typed(pd.DataFrame.from_records(partition, columns=list(FRAME_DTYPES))))
    if not chunks:
        return _typed(pd.DataFrame({name: [] for name in FRAME_DTYPES}))
    return pd.concat(chunks, ignore_index=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    typed = {}
    for name, dtype in FRAME_DTYPES.items():
        values = frame[name]
        if dtype == TIME_DTYPE:
            typed[name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(TIME_DTYPE)
        elif dtype == "bool":
            typed[name] = values.astype(bool)
        else:
            typed[name] = values.astype(dtype)
    return pd.DataFrame(typed)
