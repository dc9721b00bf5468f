"""Reading count-only mode's per-minute counts into pandas, for `presence counts` and the dashboard.

Kept apart from store.counts, which the receiver's workers import to write counts and which must not pull in
pandas.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from store.counts import COUNT_COLUMNS, DEVICE_COUNTS

SITE_MINUTE_COLUMNS = ("site", "minute", *COUNT_COLUMNS)


def site_minutes(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """Per site and UTC minute in [start, end), each count's maximum over the site's APs.

    Columns SITE_MINUTE_COLUMNS, `minute` as UTC timestamps, sorted by site and minute. A device heard by two
    APs cannot be told apart from two devices, so the site's figure is its busiest AP's: a lower bound, exact for a
    site with one AP. Each column is maximized on its own (the most devices and the most connected ones may come
    from different APs).
    """
    table = DEVICE_COUNTS
    query = (
        select(table.c.site, table.c.minute, *(func.max(table.c[name]).label(name) for name in COUNT_COLUMNS))
        .where(table.c.minute >= start, table.c.minute < end)
        .group_by(table.c.site, table.c.minute)
        .order_by(table.c.site, table.c.minute)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(SITE_MINUTE_COLUMNS))
    frame["site"] = frame["site"].astype("str")
    frame["minute"] = pd.to_datetime(frame["minute"], utc=True)
    return frame.astype(dict.fromkeys(COUNT_COLUMNS, "int64"))


def count_span(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """The first and last minute with counts (None, None while there are none), from the primary key's index.

    min() and max() keep the column's type, so both come back as aware UTC datetimes on either database.
    """
    table = DEVICE_COUNTS
    with engine.connect() as connection:
        first, last = connection.execute(select(func.min(table.c.minute), func.max(table.c.minute))).one()
    return first, last
