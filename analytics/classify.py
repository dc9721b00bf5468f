"""Who a device is: visitor, passerby or staff; and the capture rate those make."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from analytics.settings import AnalyticsSettings

PARTY = ["site", "device"]  # a device at a site: the unit every count counts
CATEGORIES = ("visitor", "passerby", "staff")


def qualifying(visits: pd.DataFrame, settings: AnalyticsSettings) -> pd.Series:
    """True for visits long and strong enough to be inside: dwell >= min_dwell and max_rssi >= visitor_rssi_dbm."""
    return (visits["dwell"] >= pd.Timedelta(settings.min_dwell)) & (visits["max_rssi"] >= settings.visitor_rssi_dbm)


def staff_devices(
    visits: pd.DataFrame,
    window_start: datetime | pd.Series,
    window_end: datetime | pd.Series,
    settings: AnalyticsSettings,
) -> pd.MultiIndex:
    """(site, device) pairs with visits of >= staff_min_visit on >= staff_min_days distinct site-local days,
    counting visits that started in the window or the staff_history before it. The bounds may be Series aligned
    with `visits` (each visit's site's own window, analytics.clocks)."""
    since = _bound(window_start) - pd.Timedelta(settings.staff_history)
    long = visits.loc[
        (visits["dwell"] >= pd.Timedelta(settings.staff_min_visit))
        & (visits["first_seen"] >= since)
        & (visits["first_seen"] < _bound(window_end))
    ]
    days = long.groupby(PARTY, sort=True)["day"].nunique()
    index = days.index[days.to_numpy() >= settings.staff_min_days]
    if not isinstance(index, pd.MultiIndex):  # an empty groupby result has a plain index
        index = pd.MultiIndex.from_arrays([[], []], names=PARTY)
    return index


def classify_visits(
    visits: pd.DataFrame,
    window_start: datetime | pd.Series,
    window_end: datetime | pd.Series,
    settings: AnalyticsSettings,
) -> pd.DataFrame:
    """A copy of `visits` with `qualifying`, `staff`, `in_window` and `category` columns.

    category is "staff" for every visit of a staff device, "visitor" for a qualifying visit and "passerby"
    otherwise. in_window marks visits that started in [window_start, window_end), which may be Series aligned
    with `visits` (each visit's site's own window).
    """
    result = visits.copy()
    result["qualifying"] = qualifying(result, settings)
    staff = staff_devices(result, window_start, window_end, settings)
    result["staff"] = pd.MultiIndex.from_frame(result[PARTY]).isin(staff) if len(result) else []
    result["staff"] = result["staff"].astype(bool)
    result["category"] = "passerby"
    result.loc[result["qualifying"], "category"] = "visitor"
    result.loc[result["staff"], "category"] = "staff"
    result["in_window"] = (result["first_seen"] >= _bound(window_start)) & (result["first_seen"] < _bound(window_end))
    return result


def _bound(value: datetime | pd.Series) -> pd.Timestamp | pd.Series:
    return value if isinstance(value, pd.Series) else pd.Timestamp(value)


def devices(classified_visits: pd.DataFrame) -> pd.DataFrame:
    """One row per (site, device) among `classified_visits`: its category and what it did.

    A device is staff if it is a staff device, a visitor if any of its visits qualified, else a passerby;
    connected means a visitor that was associated during a qualifying visit. Pass the visits of the period to
    classify (e.g. those in the window, or of one day).
    """
    frame = classified_visits.assign(
        visitor_visit=classified_visits["qualifying"] & ~classified_visits["staff"],
        connected_visit=classified_visits["qualifying"] & ~classified_visits["staff"] & classified_visits["associated"],
    )
    result = frame.groupby(PARTY, sort=True).agg(
        staff=("staff", "max"),
        visitor=("visitor_visit", "max"),
        connected=("connected_visit", "max"),
        randomized=("randomized", "max"),
        visits=("visitor_visit", "sum"),
        first_seen=("first_seen", "min"),
    )
    result["category"] = "passerby"
    result.loc[result["visitor"].astype(bool), "category"] = "visitor"
    result.loc[result["staff"].astype(bool), "category"] = "staff"
    return result.astype({"staff": bool, "visitor": bool, "connected": bool, "randomized": bool, "visits": "int64"})


def capture_rate(visitors: int, passersby: int) -> float | None:
    """visitors / (visitors + passersby); None when nobody was seen."""
    total = visitors + passersby
    return visitors / total if total else None
