"""Occupancy: how many visitors are inside at a time, its peaks, the live count, and the hour-of-week pattern."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import numpy as np
import pandas as pd

from analytics.classify import PARTY

# Occupancy samples per hour of the week: four an hour, as the Zones page samples it.
HOUR_OF_WEEK_FREQ = "15min"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _instants(times: pd.Series) -> np.ndarray:
    return times.to_numpy(dtype="datetime64[ns]").view("int64")


def open_bounds(visits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """When each visit is inside (ns since the epoch): from its estimated arrival to its estimated departure.

    The estimated stay (`dwell`, analytics.stays) adds the same expected unheard time before first_seen and
    after last_seen, so a visit is open on [first_seen - e, last_seen + e) with e = (dwell - span) / 2; with the
    span as dwell (or without a dwell column) that is [first_seen, last_seen).
    """
    starts, ends = _instants(visits["first_seen"]), _instants(visits["last_seen"])
    if "dwell" not in visits or visits.empty:
        return starts, ends
    extension = (visits["dwell"].to_numpy(dtype="timedelta64[ns]").view("int64") - (ends - starts)) // 2
    return starts - extension, ends + extension


def occupancy_changes(visits: pd.DataFrame) -> pd.Series:
    """Occupancy after each change: a visit is open on [arrival, departure) (`open_bounds`).

    Indexed by UTC time, in time order; where a visit ends as another starts, the end comes first, so two
    back-to-back visits never count twice.
    """
    starts, ends = open_bounds(visits)
    times = np.concatenate((starts, ends))
    deltas = np.concatenate((np.ones(len(starts), dtype="int64"), -np.ones(len(ends), dtype="int64")))
    order = np.lexsort((deltas, times))
    index = pd.DatetimeIndex(times[order].astype("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(np.cumsum(deltas[order]), index=index, name="occupancy")


def peak_occupancy(visits: pd.DataFrame) -> tuple[int, pd.Timestamp | None]:
    """The most visits open at once and the first UTC time it was reached (0 and None without visits)."""
    changes = occupancy_changes(visits)
    if changes.empty:
        return 0, None
    position = int(np.argmax(changes.to_numpy()))
    return int(changes.iloc[position]), changes.index[position]


def occupancy_at(visits: pd.DataFrame, times: pd.DatetimeIndex) -> pd.Series:
    """How many visits are open (arrival <= t < departure, `open_bounds`) at each of `times`."""
    instants = times.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view("int64")
    arrivals, departures = open_bounds(visits)
    starts, ends = np.sort(arrivals), np.sort(departures)
    open_count = np.searchsorted(starts, instants, side="right") - np.searchsorted(ends, instants, side="right")
    return pd.Series(open_count.astype("int64"), index=times, name="occupancy")


def occupancy_series(
    visits: pd.DataFrame, start: datetime, end: datetime, tz: tzinfo, freq: str = "15min"
) -> pd.Series:
    """Occupancy sampled every `freq` over [start, end), indexed by site-local time."""
    times = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=freq, inclusive="left").tz_convert(tz)
    return occupancy_at(visits, times)


def daily_peaks(
    visits: pd.DataFrame, days: pd.DatetimeIndex, tz: tzinfo, day_start: timedelta = timedelta(0)
) -> pd.Series:
    """The peak occupancy of each site-local day in `days` (naive midnights), 0 for a day nobody was in.

    A site's day begins `day_start` after local midnight; a visit open across the day's start counts on both days.
    """
    changes = occupancy_changes(visits)
    offset = pd.Timedelta(day_start)
    midnights = (days + offset).tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    at_midnight = occupancy_at(visits, midnights)
    samples = pd.concat([changes, pd.Series(at_midnight.to_numpy(), index=midnights.tz_convert("UTC"))])
    local_days = (samples.index.tz_convert(tz).tz_localize(None) - offset).normalize()
    peaks = samples.groupby(local_days).max()
    return peaks.reindex(days, fill_value=0).astype("int64").rename("peak_occupancy")


def live_occupancy(
    visits: pd.DataFrame, now: datetime, live_window: timedelta, zone_column: str = "last_zone"
) -> tuple[int, pd.Series]:
    """Visitors heard within `live_window` before `now`: the total and the count per zone (their latest zone).

    Pass visitor visits (qualifying, not staff) computed from observations up to `now`.
    """
    recent = _heard_within(visits, now, live_window)
    latest = recent.sort_values("last_seen").drop_duplicates(PARTY, keep="last")
    zones = latest[zone_column] if zone_column in latest else pd.Series(dtype="str")
    per_zone = zones.value_counts().sort_index().astype("int64").rename("visitors")
    return len(latest), per_zone


def live_occupancy_per_site(visits: pd.DataFrame, now: datetime, live_window: timedelta) -> pd.Series:
    """`live_occupancy`'s total for every site at once (a count per site, sites with nobody inside absent): one
    pass over the visits, where a filter per site of a hundred cost a hundred."""
    return (
        _heard_within(visits, now, live_window)
        .drop_duplicates(PARTY)["site"]
        .value_counts()
        .astype("int64")
        .rename("visitors")
    )


def _heard_within(visits: pd.DataFrame, now: datetime, live_window: timedelta) -> pd.DataFrame:
    """The visits heard within `live_window` before `now` (and begun by then)."""
    moment = pd.Timestamp(now)
    return visits.loc[(visits["last_seen"] > moment - pd.Timedelta(live_window)) & (visits["first_seen"] <= moment)]


def hour_of_week(
    visits: pd.DataFrame, start: datetime, end: datetime, tz: tzinfo, freq: str = HOUR_OF_WEEK_FREQ
) -> pd.DataFrame:
    """Mean occupancy in each site-local hour of the week over [start, end) (rows Mon..Sun, columns 0..23).

    Occupancy is sampled every `freq` as `occupancy_series` samples it (the Zones page's hourly chart), and each
    cell is the mean of the samples that fall in that weekday and hour: on a window of two Mondays, the mean over
    both. A weekday or hour the window does not reach is 0.
    """
    samples = occupancy_series(visits, start, end, tz, freq)
    local = samples.index.tz_localize(None)
    means = samples.groupby([local.day_of_week, local.hour]).mean()
    matrix = np.zeros((7, 24), dtype="float64")
    if len(means):
        weekday, hour = (means.index.get_level_values(level).to_numpy(dtype="int64") for level in (0, 1))
        matrix[weekday, hour] = means.to_numpy(dtype="float64")
    return pd.DataFrame(matrix, index=pd.Index(WEEKDAYS, name="weekday"), columns=pd.Index(range(24), name="hour"))
