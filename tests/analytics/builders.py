"""Hand-built observation frames for analytics tests: exact times, so expected values can be exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

AP1 = "aa:00:00:00:00:01"
AP2 = "aa:00:00:00:00:02"
AP3 = "aa:00:00:00:00:03"
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday; site-local days are UTC unless a test says otherwise


def at(day: int = 0, hour: float = 10, minute: float = 0, second: float = 0) -> datetime:
    """MONDAY + day days, at hour:minute:second UTC."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def observation(
    device: str,
    first_seen: datetime,
    last_seen: datetime | None = None,
    *,
    ap: str = AP1,
    rssi: float = -60.0,
    site: str = "shop",
    associated: bool = False,
    ssid: str | None = None,
    manufacturer: str | None = "Apple, Inc.",
    randomized: bool = False,
) -> dict:
    return {
        "site": site,
        "ap_mac": ap,
        "device": device,
        "randomized": randomized,
        "manufacturer": manufacturer,
        "ssid": ssid,
        "associated": associated,
        "first_seen": first_seen,
        "last_seen": last_seen or first_seen,
        "rssi_max": rssi,
        "rssi_avg": rssi,
    }


def stay(device: str, start: datetime, minutes: int, *, step: int = 1, **fields) -> list[dict]:
    """Point sightings every `step` minutes from `start` to `start + minutes` inclusive: dwell = `minutes`."""
    return [observation(device, start + timedelta(minutes=m), **fields) for m in range(0, minutes + 1, step)]


def frame(*groups: list[dict] | dict) -> pd.DataFrame:
    rows: list[dict] = []
    for group in groups:
        rows.extend(group if isinstance(group, list) else [group])
    columns = list(observation("x", MONDAY))
    return pd.DataFrame(rows, columns=columns)
