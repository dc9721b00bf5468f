"""Count-only mode (PRESENCE_COUNT_ONLY=1): per AP and minute, how many distinct devices it reported, and nothing else.

A POST is authenticated, validated and normalized exactly as in the normal mode; then, instead of observations,
its sightings are counted in memory: per (site, AP, UTC minute of the record's `last_seen`) the distinct client
MACs, those heard at or above the visitor threshold, those associated, those randomized. Only these numbers are
written (table `device_count`); no client MAC, pseudonym or other per-device value reaches the database, and the
MACs are dropped with the POST.

Counts are merged with MAX, column by column: a re-delivered POST changes nothing, and two POSTs that cover the same
AP and minute (an AP that reports every 60 s, a record last seen just before the minute's end) keep the larger
figure. Without identifiers the two cannot be de-duplicated, so a stored count is a lower bound of the devices
the AP heard in that minute (exact when one POST covers the minute, the usual case).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, or_
from sqlalchemy.dialects import postgresql, sqlite

from analytics.settings import AnalyticsSettings
from devices.macs import is_randomized
from store.models import DeviceCount
from store.observations import Reporter, StoreResult, _record_reports
from store.records import Sighting

DEVICE_COUNTS = DeviceCount.__table__  # type: ignore[attr-defined]
COUNT_COLUMNS = ("devices", "nearby", "connected", "randomized")
KEY_COLUMNS = ("minute", "site", "ap_mac")
# "Nearby" is the analytics' visitor signal level (Meraki's visit-start RSSI, -75 dBm), applied to each minute
# at ingestion: counts keep no signal values, so another threshold later cannot be applied to stored minutes.
NEARBY_RSSI_DBM = AnalyticsSettings.visitor_rssi_dbm
COUNT_ONLY_REFUSAL = (
    "count-only mode stores no device identifiers: visits, dwell and loyalty cannot be computed; use `presence counts`"
)

CountRow = dict[str, object]  # keys: KEY_COLUMNS and COUNT_COLUMNS


def minute_counts(sightings: Iterable[Sighting], site_of: Callable[[str], str]) -> list[CountRow]:
    """Distinct devices per (site, AP, UTC minute of last_seen) among one POST's sightings, sorted by key.

    A device that several records of the same AP and minute describe counts once: nearby if any of its records
    reached NEARBY_RSSI_DBM, connected if any was associated.
    """
    devices: dict[tuple[datetime, str, str], dict[str, tuple[bool, bool]]] = {}
    for sighting in sightings:
        minute = sighting.last_seen.astimezone(UTC).replace(second=0, microsecond=0)
        heard = devices.setdefault((minute, site_of(sighting.ap_mac), sighting.ap_mac), {})
        nearby, connected = heard.get(sighting.client_mac, (False, False))
        heard[sighting.client_mac] = (
            nearby or sighting.rssi_max >= NEARBY_RSSI_DBM,
            connected or sighting.associated,
        )
    return [
        {
            "minute": minute,
            "site": site,
            "ap_mac": ap_mac,
            "devices": len(heard),
            "nearby": sum(nearby for nearby, _ in heard.values()),
            "connected": sum(connected for _, connected in heard.values()),
            "randomized": sum(is_randomized(mac) for mac in heard),
        }
        for (minute, site, ap_mac), heard in sorted(devices.items(), key=lambda item: item[0])  # one lock order
    ]


def _raise_counts(connection: Connection):
    """INSERT ... ON CONFLICT DO UPDATE to the larger value of each count, RETURNING only the rows it changed.

    SQLAlchemy Core, as store.observations's ap_report upsert: a POST touches a handful of rows (one per AP and
    minute), so the bare-sqlite3 fast path of the observations would gain nothing here.
    """
    postgres = connection.dialect.name == "postgresql"
    statement = (postgresql if postgres else sqlite).insert(DEVICE_COUNTS)
    larger = func.greatest if postgres else func.max  # SQLite's two-argument max() is scalar
    return statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={name: larger(DEVICE_COUNTS.c[name], statement.excluded[name]) for name in COUNT_COLUMNS},
        where=or_(*(DEVICE_COUNTS.c[name] < statement.excluded[name] for name in COUNT_COLUMNS)),
    ).returning(DEVICE_COUNTS.c.ap_mac)


def store_counts(
    engine: Engine, rows: Sequence[CountRow], reporters: Sequence[Reporter] = (), received_at: datetime | None = None
) -> StoreResult:
    """Merge one POST's count rows and its reporters' ap_report upkeep, in one transaction.

    `stored` is the number of count rows the POST created or raised; `duplicates` the rows it covered that already
    held counts at least as high (every row of a re-delivered POST). ap_report's `records` adds the rows stored.
    """
    if not rows and not reporters:
        return StoreResult(stored=0, duplicates=0)
    if reporters and received_at is None:
        raise ValueError("received_at is needed to record AP reports")
    stored: Counter[str] = Counter()
    with engine.begin() as connection:
        if rows:
            stored.update(connection.execute(_raise_counts(connection), list(rows)).scalars())
        if reporters:
            _record_reports(connection, reporters, stored, received_at)  # type: ignore[arg-type]
    total = stored.total()
    return StoreResult(stored=total, duplicates=len(rows) - total)
