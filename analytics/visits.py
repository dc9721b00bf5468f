"""Visits: a device's observations at one site, merged across the site's APs, split where it went unheard too long."""

from __future__ import annotations

from datetime import timedelta, tzinfo

import numpy as np
import pandas as pd

from analytics.schema import TIME_DTYPE
from analytics.settings import AnalyticsSettings
from analytics.stays import estimate_extension, heard_intervals

VISIT_COLUMNS = (
    "visit",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "dwell",
    "dwell_minutes",
    "max_rssi",
    "associated",
    "ssid",
    "manufacturer",
    "randomized",
    "observations",
    "day",
    "ssids",
    "ap_macs",
)
# Between the values of a visit's `ssids` and `ap_macs` (sorted, each once): a substring search of the joined text
# finds a visit by any one of them, in pandas and in SQL alike, and no SSID a filter is asked for spans two.
VALUE_SEPARATOR = "\n"


def label_visits(observations: pd.DataFrame, visit_gap: timedelta) -> pd.DataFrame:
    """A copy of `observations` ordered by site, device and first_seen, with a `visit` number per row.

    A new visit starts where an observation's first_seen is more than `visit_gap` after the latest last_seen of
    the device's earlier observations at that site (a gap of exactly `visit_gap` continues the visit). Observations
    from every AP of the site are merged, so overlapping reports of two APs never split a visit. Vectorized: one
    sort, a grouped running maximum and a cumulative sum. Visit numbers run 0..n-1 in (site, device, time) order.
    """
    if observations.empty:
        labelled = observations.copy()
        labelled["visit"] = pd.Series(dtype="int64")
        return labelled
    party = observations.groupby(["site", "device"], sort=True, observed=True).ngroup().to_numpy()
    first = observations["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    last = observations["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((last, first, party))
    party, first, last = party[order], first[order], last[order]
    latest_so_far = pd.Series(last).groupby(party).cummax().to_numpy()
    previous_latest = np.concatenate(([np.iinfo(np.int64).min], latest_so_far[:-1]))
    new_party = np.concatenate(([True], party[1:] != party[:-1]))
    gap_ns = pd.Timedelta(visit_gap).value
    new_visit = new_party | (first - previous_latest > gap_ns)
    labelled = observations.iloc[order].reset_index(drop=True)
    labelled["visit"] = np.cumsum(new_visit) - 1
    return labelled


def visits(labelled: pd.DataFrame, tz: tzinfo, settings: AnalyticsSettings | None = None) -> pd.DataFrame:
    """One row per visit of `label_visits` output: when, how long, how strong, associated, which SSID.

    first_seen and last_seen are the vendors' own; dwell is the estimated stay, that span plus the expected unheard
    time at each end (analytics.stays), or the span itself with `dwell_estimate = "span"`; max_rssi is the
    strongest rssi_max; associated is true if any observation was; ssid and manufacturer are the first non-empty
    ones; `day` is the site-local day the visit started (a naive midnight timestamp); `ssids` and `ap_macs` are
    every SSID the device was heard on and every AP that heard it (joined by VALUE_SEPARATOR; what the SSID and AP
    filters look at).
    """
    if labelled.empty:
        return empty_visits()
    grouped = labelled.groupby("visit", sort=True)
    result = grouped.agg(
        site=("site", "first"),
        device=("device", "first"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        max_rssi=("rssi_max", "max"),
        associated=("associated", "max"),
        ssid=("ssid", "first"),
        manufacturer=("manufacturer", "first"),
        randomized=("randomized", "max"),
        observations=("device", "size"),
    ).reset_index()
    result["dwell"] = estimated_dwell(labelled, result, settings or AnalyticsSettings())
    result["dwell_minutes"] = result["dwell"].dt.total_seconds() / 60
    result["day"] = local_day(result["first_seen"], tz)
    result["ssids"] = joined_values(labelled, "visit", "ssid").reindex(result["visit"].to_numpy()).to_numpy()
    result["ap_macs"] = joined_values(labelled, "visit", "ap_mac").reindex(result["visit"].to_numpy()).to_numpy()
    return result.loc[:, list(VISIT_COLUMNS)]


def estimated_dwell(labelled: pd.DataFrame, found: pd.DataFrame, settings: AnalyticsSettings) -> pd.Series:
    """Each visit's dwell (timedelta) per `settings.dwell_estimate`, from the heard intervals of its observations."""
    intervals = heard_intervals(
        labelled["visit"].to_numpy(),
        labelled["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
        labelled["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
    )
    extension = estimate_extension(intervals, found.rename(columns={"visit": "key"}), settings)
    return with_extension(found, extension)


def with_extension(found: pd.DataFrame, extension_seconds: pd.Series) -> pd.Series:
    """span + 2 * extension as timedeltas, rounded to the microsecond (what the database keeps of a time)."""
    span = found["last_seen"] - found["first_seen"]
    added = pd.to_timedelta(np.round(2 * extension_seconds.to_numpy(dtype="float64") * 1e6), unit="us")
    return span + pd.Series(added, index=found.index)


def joined_values(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Per `key`, the distinct non-empty values of `column`, sorted and joined by VALUE_SEPARATOR (str dtype)."""
    pairs = frame.loc[frame[column].notna(), [key, column]]
    pairs = pairs.loc[pairs[column].astype(str) != ""].astype({column: str}).drop_duplicates()
    if pairs.empty:
        return pd.Series(dtype="str")
    pairs = pairs.sort_values([key, column], kind="stable")
    return pairs.groupby(key, sort=True)[column].agg(VALUE_SEPARATOR.join).astype("str")


def split_values(joined: pd.Series) -> pd.Series:
    """The inverse of `joined_values`: one row per value, indexed like `joined` (missing values give none)."""
    present = joined.dropna()
    present = present.loc[present != ""]
    return present.str.split(VALUE_SEPARATOR).explode()


def local_day(times: pd.Series, tz: tzinfo) -> pd.Series:
    """The site-local calendar day of each UTC time, as naive midnight timestamps (DST-safe)."""
    return times.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()


def empty_visits() -> pd.DataFrame:
    """No visits, with the dtypes `visits` returns."""
    return pd.DataFrame(
        {
            "visit": pd.Series(dtype="int64"),
            "site": pd.Series(dtype="str"),
            "device": pd.Series(dtype="str"),
            "first_seen": pd.Series(dtype=TIME_DTYPE),
            "last_seen": pd.Series(dtype=TIME_DTYPE),
            "dwell": pd.Series(dtype="timedelta64[ns]"),
            "dwell_minutes": pd.Series(dtype="float64"),
            "max_rssi": pd.Series(dtype="float64"),
            "associated": pd.Series(dtype="bool"),
            "ssid": pd.Series(dtype="str"),
            "manufacturer": pd.Series(dtype="str"),
            "randomized": pd.Series(dtype="bool"),
            "observations": pd.Series(dtype="int64"),
            "day": pd.Series(dtype="datetime64[ns]"),
            "ssids": pd.Series(dtype="str"),
            "ap_macs": pd.Series(dtype="str"),
        }
    )
