"""Pure pandas shaping: analytics results (report dicts, `Analysis` frames) into the tidy frames charts and tables take.

Nothing here counts anything the report counts: KPIs are read from `analytics.report.report` as they are. The few
aggregations analytics does not offer (typical occupancy by weekday and time, AP silence, breakdowns by an
attribute) are small, documented and tested here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from analytics.classify import PARTY
from app.dashboard.charts import PROXIMITY_ORDER, WEEKDAYS

LOYALTY_LABELS = {"first_time": "First time", "occasional": "Occasional", "weekly": "Weekly", "daily": "Daily"}
CATEGORY_LABELS = {"visitor": "Visitor", "passerby": "Passerby", "staff": "Staff"}
CATEGORY_PLURALS = {"visitor": "Visitors", "passerby": "Passersby", "staff": "Staff"}


# --- KPIs --------------------------------------------------------------------------------------------------------


def kpis(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The six explorer KPIs, read from a report dict (so they are exactly `presence report`'s)."""
    return {
        "visitors": report["visitors"],
        "passersby": report["passersby"],
        "connected": report["connected"],
        "capture_rate": report["capture_rate"],
        "median_dwell_minutes": report["dwell_minutes"]["median"],
        "repeat_visitors": report["repeat_visitors"],
    }


def change(current: float | None, previous: float | None) -> float | None:
    """current - previous, or None when either is unknown."""
    if current is None or previous is None:
        return None
    return current - previous


# --- time --------------------------------------------------------------------------------------------------------


def local_naive(times: pd.Series | pd.DatetimeIndex, tz: tzinfo) -> Any:
    """UTC times as naive site-local wall-clock times (what the charts and tables show)."""
    if isinstance(times, pd.DatetimeIndex):
        return times.tz_convert(tz).tz_localize(None)
    return times.dt.tz_convert(tz).dt.tz_localize(None)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- live --------------------------------------------------------------------------------------------------------


def typical_occupancy(samples: pd.Series) -> pd.DataFrame:
    """Mean occupancy per weekday and time of day from regular samples indexed by site-local time.

    Columns weekday (0 = Monday), minute (of the day), visitors. With four weeks of 15-minute samples each cell is
    the mean of the four same weekdays at that time: "typical for this weekday and hour".
    """
    index = pd.DatetimeIndex(samples.index)
    frame = pd.DataFrame(
        {
            "weekday": index.day_of_week,
            "minute": index.hour * 60 + index.minute,
            "visitors": samples.to_numpy(dtype="float64"),
        }
    )
    return frame.groupby(["weekday", "minute"], as_index=False)["visitors"].mean()


def typical_at(typical: pd.DataFrame, times: pd.DatetimeIndex, freq_minutes: int) -> np.ndarray:
    """The typical occupancy for each naive local time (floored to the sample grid); NaN where history has none."""
    minute = (times.hour * 60 + times.minute) // freq_minutes * freq_minutes
    keys = pd.MultiIndex.from_arrays([times.day_of_week, minute])
    lookup = typical.set_index(["weekday", "minute"])["visitors"]
    return lookup.reindex(keys).to_numpy(dtype="float64")


def typical_at_one(typical: pd.DataFrame, time: pd.Timestamp, freq_minutes: int) -> float | None:
    """`typical_at` for one naive local time, None where history has none: a mask over the week's few hundred
    slots, where building typical_at's index cost more (the Live table of a hundred sites asks a hundred times)."""
    minute = (time.hour * 60 + time.minute) // freq_minutes * freq_minutes
    match = (typical["weekday"].to_numpy() == time.day_of_week) & (typical["minute"].to_numpy() == minute)
    values = typical["visitors"].to_numpy(dtype="float64")[match]
    return None if values.size == 0 or np.isnan(values[0]) else float(values[0])


def recent_with_typical(now_series: pd.Series, typical: pd.DataFrame, freq_minutes: int) -> pd.DataFrame:
    """The live line and the typical line in long form: time (naive local), series, visitors."""
    times = pd.DatetimeIndex(now_series.index)
    if times.tz is not None:
        times = times.tz_localize(None)
    now = pd.DataFrame({"time": times, "series": "Now", "visitors": now_series.to_numpy(dtype="float64")})
    usual = pd.DataFrame({"time": times, "series": "Typical", "visitors": typical_at(typical, times, freq_minutes)})
    return pd.concat([now, usual.dropna()], ignore_index=True)


def ap_status(
    last_seen: pd.Series,
    names: Mapping[str, str],
    now: datetime,
    silent_after: timedelta,
    tz: tzinfo,
    retired: Collection[str] = (),
    sites: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per AP (those in `last_seen` and those configured in `names`): name, MAC, its last report, minutes
    since, and whether it has gone silent (no report for longer than `silent_after`, or never); a `retired` AP
    (`presence aps retire`) is marked so and never silent. With `sites` (AP MAC -> site), a site column too,
    and the rows by site within silent and reporting.

    last_seen: the latest observation time (UTC) per AP MAC.
    """
    macs = sorted(set(last_seen.index) | set(names) | set(retired))
    latest = last_seen.reindex(macs)
    minutes = (pd.Timestamp(now) - latest).dt.total_seconds() / 60
    frame = pd.DataFrame(
        {
            "name": [names.get(mac, mac) for mac in macs],
            "mac": macs,
            "last_report": local_naive(latest, tz).to_numpy(),
            "minutes_ago": minutes.to_numpy(dtype="float64"),
        }
    )
    frame["retired"] = frame["mac"].isin(list(retired))
    frame["silent"] = ~(frame["minutes_ago"] <= silent_after.total_seconds() / 60) & ~frame["retired"]
    frame["status"] = np.select([frame["retired"], frame["silent"]], ["retired", "⚠ silent"], "✓ reporting")
    if sites is None:
        return frame.sort_values(["silent", "name"], ascending=[False, True], ignore_index=True)
    frame["site"] = [sites.get(mac, "") for mac in macs]
    return frame.sort_values(["silent", "site", "name"], ascending=[False, True, True], ignore_index=True)


# Capacity: the share of a site's [[sites]] capacity in use at which Live turns amber, and red.
CAPACITY_NEAR, CAPACITY_FULL = 0.8, 1.0
CAPACITY_STATUS = {"ok": "", "near": "near capacity", "over": "at or over capacity"}


def capacity_share(inside: int, capacity: int | None) -> float | None:
    """Visitors inside as a share of the capacity (None without one)."""
    return None if not capacity else inside / capacity


def capacity_level(inside: int, capacity: int | None) -> str | None:
    """ "over" from CAPACITY_FULL of the capacity, "near" from CAPACITY_NEAR, else "ok"; None without a capacity."""
    share = capacity_share(inside, capacity)
    if share is None:
        return None
    return "over" if share >= CAPACITY_FULL else "near" if share >= CAPACITY_NEAR else "ok"


def live_sites(
    sites: Sequence[str],
    *,
    groups: Mapping[str, str | None],
    inside: Mapping[str, int],
    typical: Mapping[str, float | None],
    capacity: Mapping[str, int | None],
    silent: pd.DataFrame,
) -> pd.DataFrame:
    """Live for several sites, one row per site in the order given: site, group, inside (now), typical (for
    this weekday and quarter-hour at the site), capacity, share (of the capacity in use), level and status (see
    `capacity_level`), and the site's silent APs (`ap_status` rows with a site column) by name."""
    quiet = silent.loc[silent["silent"]] if "site" in silent else silent.iloc[0:0]
    rows = []
    for site in sites:
        level = capacity_level(inside.get(site, 0), capacity.get(site))
        names = quiet.loc[quiet["site"] == site, "name"].tolist() if len(quiet) else []
        rows.append(
            {
                "site": site,
                "group": groups.get(site),
                "inside": int(inside.get(site, 0)),
                "typical": typical.get(site),
                "capacity": capacity.get(site),
                "share": capacity_share(inside.get(site, 0), capacity.get(site)),
                "level": level,
                "status": CAPACITY_STATUS.get(level or "", ""),
                "silent_aps": ", ".join(names),
            }
        )
    columns = ["site", "group", "inside", "typical", "capacity", "share", "level", "status", "silent_aps"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"inside": "int64", "typical": "float64", "capacity": "Int64", "share": "float64"})


def per_zone(counts: pd.Series, zones: Collection[str] = ()) -> pd.DataFrame:
    """A count per zone (as `analytics.occupancy.live_occupancy` returns it) as zone, visitors rows: every zone
    in `zones` too, with 0 when nobody is in it (an empty zone is news, not a missing card), busiest first and
    then by name, so the cards keep their places from one refresh to the next while the counts do not change."""
    every = pd.Series(0, index=pd.Index(sorted(set(zones) | set(counts.index.astype(str))), dtype=object))
    every.loc[counts.index.astype(str)] = counts.to_numpy(dtype="int64")
    frame = pd.DataFrame({"zone": every.index.astype(str), "visitors": every.to_numpy(dtype="int64")})
    return frame.sort_values(["visitors", "zone"], ascending=[False, True], kind="stable").reset_index(drop=True)


# --- explorer ----------------------------------------------------------------------------------------------------


def daily(report: Mapping[str, Any], staff_per_day: pd.Series | None = None) -> pd.DataFrame:
    """The report's daily rows as a frame (date naive), with a staff column (0 unless given per date)."""
    frame = pd.DataFrame(
        report["daily"],
        columns=["date", "visitors", "passersby", "connected", "median_dwell_minutes", "peak_occupancy"],
    )
    frame["date"] = pd.to_datetime(frame["date"])
    staff = staff_per_day if staff_per_day is not None else pd.Series(dtype="int64")
    frame["staff"] = staff.reindex(frame["date"]).fillna(0).astype("int64").to_numpy()
    return frame


PROXIMITY_SERIES = PROXIMITY_ORDER


def proximity_daily(report: Mapping[str, Any]) -> pd.DataFrame:
    """Passersby, visitors and connected visitors per day, from the report's daily rows: time (naive date),
    series, people (Meraki's "Proximity" view)."""
    rows = [
        {"time": pd.Timestamp(day["date"]), "series": series, "people": int(day[series.lower()])}
        for day in report["daily"]
        for series in PROXIMITY_SERIES
    ]
    return pd.DataFrame(rows, columns=["time", "series", "people"]).astype({"people": "int64"})


def proximity_hourly(window_visits: pd.DataFrame, tz: tzinfo, day: date) -> pd.DataFrame:
    """Passersby, visitors and connected visitors per hour of one site-local day: distinct devices whose visit
    started in that hour, by its category (staff left out); time (naive hour), series, people, 24 rows a series."""
    visits = window_visits.loc[window_visits["category"] != "staff"]
    hour = local_naive(visits["first_seen"], tz).dt.floor("h")
    series = np.where(visits["category"] == "visitor", "Visitors", "Passersby")
    frame = pd.DataFrame({"time": hour.to_numpy(), "series": series})
    frame = frame.assign(site=visits["site"].to_numpy(), device=visits["device"].to_numpy())
    connected = frame.loc[(visits["category"] == "visitor").to_numpy() & visits["associated"].to_numpy(dtype=bool)]
    frame = pd.concat([frame, connected.assign(series="Connected")], ignore_index=True)
    counts = frame.drop_duplicates(["time", "series", *PARTY]).groupby(["time", "series"]).size()
    hours = pd.date_range(pd.Timestamp(day), periods=24, freq="h")
    full = pd.MultiIndex.from_product([hours, PROXIMITY_SERIES], names=["time", "series"])
    return counts.reindex(full, fill_value=0).rename("people").reset_index().astype({"people": "int64"})


def dwell_buckets(report: Mapping[str, Any]) -> pd.DataFrame:
    """Report dwell buckets as bucket, visits rows (in bucket order)."""
    buckets = report["dwell_buckets"]
    return pd.DataFrame({"bucket": list(buckets), "visits": list(buckets.values())})


def loyalty(report: Mapping[str, Any]) -> pd.DataFrame:
    """Report loyalty counts as category (readable label), visitors rows, from first-time to daily."""
    counts = report["loyalty"]
    order = [name for name in LOYALTY_LABELS if name in counts]
    return pd.DataFrame({"category": [LOYALTY_LABELS[name] for name in order], "visitors": [counts[n] for n in order]})


def breakdown(visitor_visits: pd.DataFrame, column: str, *, top: int = 12) -> tuple[pd.DataFrame, int]:
    """Distinct visitors per value of `column` among visitor visits (value, visitors, share; largest first), and
    how many visitors showed no value at all.

    A visitor whose visits show several values counts once under each; values past the `top` largest are summed
    into "Other". share is of all visitors, those without a value included.
    """
    known = visitor_visits.loc[visitor_visits[column].notna()]
    pairs = known.loc[:, [column, *PARTY]].drop_duplicates()
    counts = pairs.groupby(column).size().sort_values(ascending=False, kind="stable")
    if len(counts) > top:
        counts = pd.concat([counts.iloc[:top], pd.Series({"Other": int(counts.iloc[top:].sum())})])
    total = len(visitor_visits.drop_duplicates(PARTY))
    without = total - len(known.drop_duplicates(PARTY))
    frame = pd.DataFrame({"value": counts.index.astype(str), "visitors": counts.to_numpy(dtype="int64")})
    frame["share"] = frame["visitors"] / total if total else 0.0
    return frame, without


def staff_per_day(window_visits: pd.DataFrame) -> pd.Series:
    """Distinct staff devices per site-local day of the window's visits."""
    staff = window_visits.loc[window_visits["staff"]]
    return staff.drop_duplicates(["day", *PARTY]).groupby("day").size().astype("int64")


def visit_table(window_visits: pd.DataFrame, tz: tzinfo, categories: Sequence[str]) -> pd.DataFrame:
    """The window's visits of the given categories ("visitor", "passerby", "staff") for people to read, newest
    first: local times, minutes, category, zone, manufacturer, SSID, device pseudonym."""
    visits = window_visits.loc[window_visits["category"].isin(list(categories))]
    visits = visits.sort_values("first_seen", ascending=False, kind="stable")
    return pd.DataFrame(
        {
            "started": local_naive(visits["first_seen"], tz).to_numpy(),
            "ended": local_naive(visits["last_seen"], tz).to_numpy(),
            "minutes": visits["dwell_minutes"].round(1).to_numpy(),
            "category": visits["category"].map(CATEGORY_LABELS).to_numpy(),
            "zone": visits["zone"].to_numpy(),
            "manufacturer": visits["manufacturer"].fillna("").to_numpy(),
            "ssid": visits["ssid"].fillna("").to_numpy(),
            "connected": visits["associated"].to_numpy(dtype=bool),
            "randomized": visits["randomized"].to_numpy(dtype=bool),
            "strongest_dbm": visits["max_rssi"].to_numpy(),
            "device": visits["device"].to_numpy(),
            "site": visits["site"].to_numpy(),
        }
    )


# --- sites -------------------------------------------------------------------------------------------------------

ALL_SITES = "All sites"
# The figures of the Sites page, each with its kind (app.dashboard.numbers), in the order shown.
SITE_FIGURES = {
    "visitors": "count",
    "passersby": "count",
    "capture_rate": "percent",
    "median_dwell_minutes": "minutes",
    "repeat_visitors": "count",
}


def site_row(
    name: str, group: str | None, timezone: str, now: Mapping[str, Any], before: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One row of the Sites page from two report dicts (the period and the one before it, None when there is
    nothing to compare with): the figures, each with its change (None when either is unknown), and the daily
    visitors for the sparkline."""
    current = kpis(now)
    previous = kpis(before) if before is not None else dict.fromkeys(current)
    row: dict[str, Any] = {"site": name, "group": group, "timezone": timezone}
    for key in SITE_FIGURES:
        row[key] = current[key]
        row[f"{key}_change"] = _rounded_change(current[key], previous[key], SITE_FIGURES[key])
    row["daily_visitors"] = [int(day["visitors"]) for day in now["daily"]]
    return row


def _rounded_change(current: float | None, previous: float | None, kind: str) -> float | None:
    difference = change(current, previous)
    if difference is None:
        return None
    return round(difference, 4 if kind == "percent" else 2)


def site_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows of `site_row` as a frame, with the columns in a fixed order (empty: the columns alone)."""
    columns = ["site", "group", "timezone"]
    for key in SITE_FIGURES:
        columns += [key, f"{key}_change"]
    frame = pd.DataFrame(list(rows), columns=[*columns, "daily_visitors"])
    rates = ("capture_rate", "median_dwell_minutes")
    floats = [key for key in frame.columns if key.endswith("_change") or key in rates]
    return frame.astype(dict.fromkeys(floats, "float64"))


def sites_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A Sites table for people: capture rates in percent and their changes in percentage points."""
    return frame.assign(
        capture_rate=frame["capture_rate"] * 100, capture_rate_change=frame["capture_rate_change"] * 100
    )


def sites_csv(sites: pd.DataFrame, groups: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """The Sites page's figures in one flat table: every site, then every group and the total (`row` says
    which), in the report's units (capture rate 0..1), with one column of visitors per day."""
    parts = [sites.assign(row="site"), groups.assign(row=np.where(groups["site"] == ALL_SITES, "total", "group"))]
    frame = pd.concat(parts, ignore_index=True)
    daily = pd.DataFrame(
        [list(values) + [None] * (len(days) - len(values)) for values in frame["daily_visitors"]],
        columns=[f"visitors {day.isoformat()}" for day in days],
    )
    columns = ["row", *(key for key in sites.columns if key != "daily_visitors")]
    return pd.concat([frame.loc[:, columns].reset_index(drop=True), daily], axis=1)


# --- trends ------------------------------------------------------------------------------------------------------


def week_over_week(daily_frame: pd.DataFrame, this_monday: date, weeks_averaged: int = 4) -> pd.DataFrame:
    """Daily visitors by weekday for the week of `this_monday` ("The week"), the week before and the mean of the
    `weeks_averaged` weeks before it (the week before included): weekday, series, visitors. A week still running
    shows only the days it has had so far."""
    frame = daily_frame.assign(
        monday=(daily_frame["date"] - pd.to_timedelta(daily_frame["date"].dt.day_of_week, unit="D")).dt.date,
        weekday=daily_frame["date"].dt.day_of_week,
    )
    monday = pd.Timestamp(this_monday).date()
    last_monday = monday - timedelta(days=7)
    earlier = {monday - timedelta(days=7 * n) for n in range(1, weeks_averaged + 1)}
    parts = [
        frame.loc[frame["monday"] == monday].assign(series="The week"),
        frame.loc[frame["monday"] == last_monday].assign(series="The week before"),
        frame.loc[frame["monday"].isin(earlier)]
        .groupby("weekday", as_index=False)["visitors"]
        .mean()
        .assign(series=f"{weeks_averaged}-week average"),
    ]
    result = pd.concat([part.loc[:, ["weekday", "series", "visitors"]] for part in parts], ignore_index=True)
    result["weekday"] = [WEEKDAYS[day] for day in result["weekday"]]
    return result.astype({"visitors": "float64"})


def hour_of_week(matrix: pd.DataFrame) -> pd.DataFrame:
    """`analytics.report.hour_of_week`'s weekday x hour matrix as weekday, hour, visitors rows."""
    wide = matrix.rename_axis(index="weekday", columns="hour").reset_index()
    long = wide.melt(id_vars="weekday", var_name="hour", value_name="visitors")
    return long.astype({"weekday": "str", "hour": "int64", "visitors": "float64"})


def weekday_means(daily_frame: pd.DataFrame) -> pd.DataFrame:
    """Mean daily visitors per weekday over the days given: weekday, visitors, days (how many were averaged)."""
    grouped = daily_frame.groupby(daily_frame["date"].dt.day_of_week)["visitors"]
    frame = pd.DataFrame({"visitors": grouped.mean(), "days": grouped.size()}).reindex(range(7))
    frame = frame.dropna(subset=["visitors"])
    return pd.DataFrame(
        {
            "weekday": [WEEKDAYS[day] for day in frame.index],
            "visitors": frame["visitors"].to_numpy(dtype="float64"),
            "days": frame["days"].to_numpy(dtype="int64"),
        }
    )


# --- zones -------------------------------------------------------------------------------------------------------


def zone_stats(report: Mapping[str, Any]) -> pd.DataFrame:
    """The report's zone rows: zone, visitors, visits, median_dwell_minutes."""
    return pd.DataFrame(report["zones"], columns=["zone", "visitors", "visits", "median_dwell_minutes"])


def transitions(matrix: pd.DataFrame) -> pd.DataFrame:
    """`analytics.report.zone_transitions`'s from x to matrix as from, to, moves rows."""
    wide = matrix.rename_axis(index="from", columns="to").reset_index()
    long = wide.melt(id_vars="from", var_name="to", value_name="moves")
    return long.astype({"from": "str", "to": "str", "moves": "int64"})


def zone_occupancy(visitor_visits: pd.DataFrame, occupancy_of: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    """Mean occupancy per zone and site-local hour of day: hour, zone, visitors.

    `occupancy_of(visits_of_one_zone)` returns regular samples indexed by site-local time (e.g.
    `analytics.occupancy.occupancy_series` over the window); each hour's value is the mean of its samples.
    """
    parts = []
    for zone, visits in visitor_visits.groupby("zone", sort=True):
        series = occupancy_of(visits)
        hours = pd.DatetimeIndex(series.index).hour
        means = series.groupby(hours).mean()
        parts.append(
            pd.DataFrame({"hour": means.index.astype("int64"), "zone": str(zone), "visitors": means.to_numpy()})
        )
    if not parts:
        return pd.DataFrame({"hour": pd.Series(dtype="int64"), "zone": pd.Series(dtype="str"), "visitors": []})
    return pd.concat(parts, ignore_index=True).astype({"visitors": "float64"})


def floor_aps(access_points: Mapping[str, Any]) -> pd.DataFrame:
    """Configured APs with a floor position: name, mac, x, y."""
    rows = [
        {"name": ap.name, "mac": mac, "x": ap.x, "y": ap.y}
        for mac, ap in access_points.items()
        if ap.x is not None and ap.y is not None
    ]
    return pd.DataFrame(rows, columns=["name", "mac", "x", "y"])


def floor_positions(visitor_visits: pd.DataFrame, limit: int = 1500) -> pd.DataFrame:
    """Estimated positions (x, y in metres) of visitor visits that have one, at most `limit` (the latest)."""
    placed = visitor_visits.loc[visitor_visits["x"].notna() & visitor_visits["y"].notna()]
    placed = placed.sort_values("first_seen").tail(limit)
    return pd.DataFrame({"x": placed["x"].to_numpy(dtype="float64"), "y": placed["y"].to_numpy(dtype="float64")})
