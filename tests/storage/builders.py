"""Observation rows built by hand for storage tests, stored through the receiver's own store path."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from store.models import Visit
from store.observations import store_observations

AP1 = "aa:00:00:00:00:01"
AP2 = "aa:00:00:00:00:02"
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float, day: int = 0) -> datetime:
    """MONDAY 09:00 UTC + `day` days + `minutes` minutes."""
    return MONDAY + timedelta(days=day, minutes=minutes)


def row(
    device: str,
    first: datetime,
    last: datetime | None = None,
    *,
    ap: str = AP1,
    rssi: float = -60.0,
    ssid: str | None = None,
    manufacturer: str | None = "Apple, Inc.",
    randomized: bool = False,
    site: str = "shop",
) -> dict:
    """One observation row as store.records.Normalizer makes it (its dedupe key from its content)."""
    last = last or first
    key = hashlib.blake2b(f"{ap}|{device}|{first.isoformat()}|{last.isoformat()}|{rssi}".encode(), digest_size=16)
    return {
        "vendor": "engenius",
        "site": site,
        "ap_mac": ap,
        "device": device,
        "randomized": randomized,
        "manufacturer": manufacturer,
        "os": None,
        "ssid": ssid,
        "associated": ssid is not None,
        "first_seen": first,
        "last_seen": last,
        "rssi_min": rssi,
        "rssi_max": rssi,
        "rssi_avg": rssi,
        "rssi_last": rssi,
        "count": 1,
        "x": None,
        "y": None,
        "lat": None,
        "lng": None,
        "unc": None,
        "received_at": last,
        "dedupe_key": key.digest(),
    }


def stay(device: str, start: datetime, minutes: int, step: int = 1, **fields) -> list[dict]:
    """Point sightings every `step` minutes from `start` to `start + minutes` inclusive."""
    return [row(device, start + timedelta(minutes=m), **fields) for m in range(0, minutes + 1, step)]


def post(engine: Engine, *groups: list[dict] | dict) -> None:
    rows: list[dict] = []
    for group in groups:
        rows.extend(group if isinstance(group, list) else [group])
    store_observations(engine, rows)


def stored_visits(engine: Engine) -> pd.DataFrame:
    """Every stored visit without its id, in (site, device, first_seen) order, times as UTC Timestamps."""
    table = Visit.__table__
    with engine.connect() as connection:
        rows = connection.execute(select(table)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[column.name for column in table.columns])
    for name in ("first_seen", "last_seen", "previous_first_seen"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in ("associated", "randomized"):
        frame[name] = frame[name].astype(bool)
    frame = frame.drop(columns="id").sort_values(["site", "device", "first_seen"], ignore_index=True)
    return frame.astype({"ssid": object, "manufacturer": object, "zone": object, "last_zone": object})
