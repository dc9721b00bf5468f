"""Count-only figures: per site and site-local hour or day, from the per-minute device counts (no identifiers).

The input is `store.count_frames.site_minutes`: per site and UTC minute, the most devices, nearby devices (strongest
signal that minute at or above the visitor threshold), connected and randomized devices any one of the site's APs
reported. A minute without a row had no device heard (or no report arrived): it counts as 0. Every figure is
therefore a lower bound of the devices present (docs/operations.md, Privacy).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

COUNTS = ("devices", "nearby", "connected", "randomized")
INTERVALS = ("hour", "day")
SUMMARY_COLUMNS = ("site", "start", "peak_nearby", "avg_nearby", "peak_devices", "peak_connected", "minutes_heard")
# "Now" on the dashboard: the busiest of the last few minutes, as APs post every 30-60 s and a probing phone is
# heard every 1-4 minutes (the simulator's radio model), so a single minute misses many of the phones present.
NOW_WINDOW = timedelta(minutes=5)


def interval_summary(
    site_minutes: pd.DataFrame,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    interval: str = "day",
    day_start: timedelta = timedelta(0),
) -> pd.DataFrame:
    """Per site and site-local hour or day of the UTC window [start, end): peak and average nearby devices, peak
    devices and peak connected devices per minute, and the minutes in which the site heard anyone.

    Every site with counts in the window gets every interval of it, quiet ones as zeros. `start` is the
    interval's first moment as an aware site-local timestamp (a repeated hour when clocks go back is two
    intervals). A day begins `day_start` after local midnight (a site's [[sites]] day_starts: a night venue's
    night counts to the evening before), so its `start` is that moment. The average is over all the interval's
    minutes, a minute without counts being 0.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    sites = sorted(site_minutes["site"].unique())
    if not sites or start >= end:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in SUMMARY_COLUMNS})
    grid = pd.date_range(
        pd.Timestamp(start).tz_convert(UTC).floor("min"),
        pd.Timestamp(end).tz_convert(UTC),
        freq="min",
        inclusive="left",
    )
    full = (
        site_minutes.set_index(["site", "minute"])
        .loc[:, list(COUNTS)]
        .reindex(pd.MultiIndex.from_product([sites, grid], names=["site", "minute"]), fill_value=0)
        .reset_index()
    )
    local = full["minute"].dt.tz_convert(tz)
    wall = local.dt.tz_localize(None)  # the shop's clock
    slot = wall.dt.floor("h") if interval == "hour" else (wall - pd.Timedelta(day_start)).dt.floor("D")
    keys = [full["site"], slot.rename("slot")]
    if interval == "hour":  # when clocks go back, 01:00-02:00 happens twice: tell the two apart by their offset
        keys.append((wall - full["minute"].dt.tz_localize(None)).rename("offset"))
    summary = (
        full.assign(start=local, heard=full["devices"] > 0)
        .groupby(keys, sort=True)
        .agg(
            start=("start", "min"),
            peak_nearby=("nearby", "max"),
            avg_nearby=("nearby", "mean"),
            peak_devices=("devices", "max"),
            peak_connected=("connected", "max"),
            minutes_heard=("heard", "sum"),
        )
        .reset_index()
    )
    return summary.sort_values(["site", "start"]).loc[:, list(SUMMARY_COLUMNS)].reset_index(drop=True)


def nearby_now(site_minutes: pd.DataFrame, now: datetime, window: timedelta = NOW_WINDOW) -> pd.Series:
    """Per site, the most nearby devices in any minute of the last `window` before `now` (0 for a quiet site)."""
    sites = sorted(site_minutes["site"].unique())
    recent = site_minutes.loc[(site_minutes["minute"] >= now - window) & (site_minutes["minute"] <= now)]
    return recent.groupby("site")["nearby"].max().reindex(sites, fill_value=0).astype("int64").rename("nearby")
