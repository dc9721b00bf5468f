"""Reading observations back: the one bridge from the database to exports and DataFrames."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, inspect, select

from devices.manufacturers import short_name
from store.models import OBSERVATION_EXPORT_COLUMNS, APReport, APRetired, Observation, Visit


def local_day_bounds(first: date | None, last: date | None, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """UTC instants bounding the site-local days `first`..`last` inclusive (None leaves that side open)."""
    start = datetime.combine(first, time.min, tzinfo=tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) if last else None
    return start, end


def iter_observations(
    engine: Engine,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    batch_size: int = 5000,
    sites: tuple[str, ...] = (),
) -> Iterator[dict]:
    """Observations last seen in [start, end) (at `sites`, or every site), oldest first, as dicts of the export
    columns (streamed): the manufacturer as its short name (devices.manufacturers), and as stored in
    `manufacturer_full`."""
    table = Observation.__table__  # type: ignore[attr-defined]
    stored = [name for name in OBSERVATION_EXPORT_COLUMNS if name != "manufacturer_full"]
    query = select(*(table.c[name] for name in stored))
    if start is not None:
        query = query.where(table.c.last_seen >= start)
    if end is not None:
        query = query.where(table.c.last_seen < end)
    if sites:
        query = query.where(table.c.site.in_(sites))
    query = query.order_by(table.c.last_seen, table.c.id)
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=batch_size).execute(query)
        for row in result.mappings():
            record = dict(row)
            record["manufacturer_full"] = record["manufacturer"]
            record["manufacturer"] = short_name(record["manufacturer"])
            yield record


def ap_reports(engine: Engine) -> list[dict]:
    """Every AP that has reported, with when it last did and how much it sent, most recently silent first."""
    table = APReport.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.last_report_at, table.c.ap_mac)).mappings()
        return [dict(row) for row in rows]


def retired_aps(engine: Engine) -> dict[str, datetime]:
    """Every retired AP's MAC and when it was retired (empty on a database from before retirement existed)."""
    table = APRetired.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        if not inspect(connection).has_table(table.name):
            return {}
        rows = connection.execute(select(table.c.ap_mac, table.c.retired_at).order_by(table.c.ap_mac))
        return {str(mac): at for mac, at in rows}


def retire_ap(engine: Engine, ap_mac: str, at: datetime) -> bool:
    """Retire one AP (a normalized MAC) as of `at`; False when it already was (its first retirement stays)."""
    table = APRetired.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        if connection.execute(select(table.c.ap_mac).where(table.c.ap_mac == ap_mac)).first():
            return False
        connection.execute(table.insert().values(ap_mac=ap_mac, retired_at=at))
        return True


def unretire_ap(engine: Engine, ap_mac: str) -> bool:
    """Watch a retired AP again; False when it was not retired."""
    table = APRetired.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        return connection.execute(table.delete().where(table.c.ap_mac == ap_mac)).rowcount > 0


def observation_summary(engine: Engine) -> dict:
    """How many observations are stored and the newest last_seen (uses the last_seen index, not a scan)."""
    table = Observation.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(table.c.last_seen))).scalar()
        count = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return {"observations_approx": count, "newest_last_seen": newest}


def zone_names(engine: Engine) -> list[str]:
    """Every zone a stored visit was placed in (the zone models name zones after APs), sorted."""
    table = Visit.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        names = connection.execute(select(table.c.zone).distinct().where(table.c.zone.is_not(None))).scalars()
        return sorted(str(name) for name in names)
