"""Loyalty categories (Cisco CMX), repeat visitors and new visitors."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from analytics.classify import classify_visits
from analytics.loyalty import loyalty, new_visitors, repeat_visitors, visitor_visits
from analytics.schema import typed_observations
from analytics.settings import AnalyticsSettings
from analytics.visits import label_visits, visits
from tests.analytics.builders import MONDAY, at, frame, stay

SETTINGS = AnalyticsSettings()
# A one-week window, Monday 2 to Sunday 8 November; its last day is Sunday (day 6).
START, END = MONDAY, MONDAY + timedelta(days=7)


def classified(observations: pd.DataFrame, tz=UTC) -> pd.DataFrame:
    found = visits(label_visits(typed_observations(observations), SETTINGS.visit_gap), tz)
    return classify_visits(found, START, END, SETTINGS)


def visiting(device: str, days: list[int]) -> list[dict]:
    rows: list[dict] = []
    for day in days:
        rows.extend(stay(device, at(day=day, hour=12), 20))
    return rows


@pytest.mark.parametrize(
    ("days", "category"),
    [
        ([6], "first_time"),
        ([2, 3, 4, 5, 6], "daily"),  # 5 of the last 7 days
        ([0, 2, 3, 4, 6], "daily"),
        ([1, 2, 3, 4], "occasional"),  # 4 of the last 7, all in one week
        ([3, -4], "weekly"),  # day -4 is 10 days before the last day: the second week back
        ([3, -21], "weekly"),  # day -21 is 27 days back: the fourth week
        ([3, -22], "first_time"),  # 28 days back is outside the look-back
        ([0, 6], "occasional"),
    ],
)
def test_loyalty_categories(days, category):
    result = loyalty(classified(frame(visiting("a", days))), END, UTC, SETTINGS)

    assert result.to_dict() == {("shop", "a"): category}


def test_loyalty_counts_only_qualifying_visits_of_non_staff():
    observations = frame(visiting("a", [6]), stay("a", at(day=5, hour=12), 2))  # day 5 only passing by

    assert loyalty(classified(observations), END, UTC, SETTINGS).to_dict() == {("shop", "a"): "first_time"}


def test_loyalty_days_are_site_local():
    # 23:30 UTC on days 1..5 is 00:30 of days 2..6 in Amsterdam; the window's last local day is day 6 either way.
    rows: list[dict] = []
    for day in range(1, 6):
        rows.extend(stay("a", at(day=day, hour=23, minute=30), 20))
    tz = ZoneInfo("Europe/Amsterdam")
    local_end = pd.Timestamp("2026-11-09", tz=tz)

    assert loyalty(classified(frame(rows), tz), local_end, tz, SETTINGS).to_dict() == {("shop", "a"): "daily"}
    assert loyalty(classified(frame(rows)), END, UTC, SETTINGS).to_dict() == {("shop", "a"): "daily"}


def test_repeat_visitors_need_two_distinct_days_in_the_window():
    observations = frame(visiting("a", [0, 1]), stay("b", at(hour=9), 20), stay("b", at(hour=15), 20))

    window = classified(observations)
    result = repeat_visitors(visitor_visits(window.loc[window["in_window"]]), SETTINGS)

    assert list(result) == [("shop", "a")]


def test_new_visitors_had_no_qualifying_visit_in_the_28_days_before_the_window():
    observations = frame(
        visiting("old", [-3, 1]),
        visiting("long_ago", [-29, 1]),
        stay("passed", at(day=-3), 2),
        visiting("passed", [1]),
        visiting("new", [2]),
    )

    result = new_visitors(classified(observations), START, END, SETTINGS)

    assert sorted(device for _site, device in result) == ["long_ago", "new", "passed"]
