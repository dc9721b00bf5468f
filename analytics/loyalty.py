"""Loyalty (Cisco CMX categories), repeat visitors and new visitors, from visitors' qualifying visit days."""

from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np
import pandas as pd

from analytics.classify import PARTY
from analytics.settings import AnalyticsSettings

LOYALTY_CATEGORIES = ("first_time", "daily", "weekly", "occasional")


def visitor_visits(classified_visits: pd.DataFrame) -> pd.DataFrame:
    """The qualifying visits of non-staff devices: the visits every visitor metric counts."""
    return classified_visits.loc[classified_visits["qualifying"] & ~classified_visits["staff"]]


def last_local_day(window_end: datetime, tz: tzinfo) -> pd.Timestamp:
    """The site-local day holding the window's last instant (window_end is exclusive), as naive midnight."""
    end = pd.Timestamp(window_end) - pd.Timedelta(1, "ns")
    return end.tz_convert(tz).tz_localize(None).normalize()


def loyalty(
    classified_visits: pd.DataFrame,
    window_end: datetime,
    tz: tzinfo,
    settings: AnalyticsSettings,
    last_day: pd.Timestamp | None = None,
) -> pd.Series:
    """Loyalty category per (site, device) visitor, from its qualifying visit days up to the window's last day.

    Looking at the `loyalty_history` (28) site-local days that end with the window's last day, in this order:
    daily = visited on >= daily_min_days of the last 7 days; weekly = visited in >= weekly_min_weeks different
    7-day weeks (counted back from the last day); first_time = visited on exactly one day; occasional = the rest.
    Visitors seen only before the look-back are not returned. Staff are never visitors.
    """
    if last_day is None:  # given when the sites keep days of their own (analytics.clocks)
        last_day = last_local_day(window_end, tz)
    history_days = pd.Timedelta(settings.loyalty_history).days
    days = visitor_visits(classified_visits).loc[:, [*PARTY, "day"]].drop_duplicates()
    days_ago = (last_day - days["day"]).dt.days
    days = days.assign(days_ago=days_ago).loc[(days_ago >= 0) & (days_ago < history_days)]
    days = days.assign(last_week=days["days_ago"] < 7, week=days["days_ago"] // 7)
    per_device = days.groupby(PARTY, sort=True).agg(
        days=("day", "size"), last_week_days=("last_week", "sum"), weeks=("week", "nunique")
    )
    category = np.select(
        [
            per_device["last_week_days"] >= settings.daily_min_days,
            per_device["weeks"] >= settings.weekly_min_weeks,
            per_device["days"] == 1,
        ],
        ["daily", "weekly", "first_time"],
        default="occasional",
    )
    return pd.Series(category, index=per_device.index, name="loyalty", dtype="str")


def repeat_visitors(window_visitor_visits: pd.DataFrame, settings: AnalyticsSettings) -> pd.Index:
    """(site, device) visitors with qualifying visits on >= repeat_min_days distinct site-local days."""
    days = window_visitor_visits.groupby(PARTY, sort=True)["day"].nunique()
    return days.index[days.to_numpy() >= settings.repeat_min_days]


def new_visitors(
    classified_visits: pd.DataFrame,
    window_start: datetime | pd.Series,
    window_end: datetime | pd.Series,
    settings: AnalyticsSettings,
) -> pd.Index:
    """(site, device) visitors of the window with no qualifying visit in the loyalty_history before it.

    The window's bounds may be Series aligned with `classified_visits` (each visit's site's own window)."""
    keep = classified_visits["qualifying"] & ~classified_visits["staff"]
    visits = classified_visits.loc[keep]
    start = window_start.loc[keep] if isinstance(window_start, pd.Series) else pd.Timestamp(window_start)
    end = window_end.loc[keep] if isinstance(window_end, pd.Series) else pd.Timestamp(window_end)
    first = visits["first_seen"]
    in_window = (first >= start) & (first < end)
    before = (first >= start - pd.Timedelta(settings.loyalty_history)) & (first < start)
    current = pd.MultiIndex.from_frame(visits.loc[in_window, PARTY]).unique()
    returning = pd.MultiIndex.from_frame(visits.loc[before, PARTY]).unique()
    return current.difference(returning)
