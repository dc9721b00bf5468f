"""Visitors, passersby, staff, connected, capture rate and dwell buckets on hand-built visits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from analytics.classify import capture_rate, classify_visits, devices, qualifying, staff_devices
from analytics.dwell import dwell_buckets, dwell_stats
from analytics.schema import typed_observations
from analytics.settings import SPAN, AnalyticsSettings
from analytics.visits import label_visits, visits
from tests.analytics.builders import MONDAY, at, frame, observation, stay

# The thresholds are checked on the span heard, so a visit's dwell is exactly what it was built with.
SETTINGS = AnalyticsSettings(dwell_estimate=SPAN)
WINDOW = (MONDAY, MONDAY + timedelta(days=7))


def found(observations: pd.DataFrame) -> pd.DataFrame:
    return visits(label_visits(typed_observations(observations), SETTINGS.visit_gap), UTC, SETTINGS)


def classified(observations: pd.DataFrame, window: tuple[datetime, datetime] = WINDOW) -> pd.DataFrame:
    return classify_visits(found(observations), window[0], window[1], SETTINGS)


@pytest.mark.parametrize(
    ("dwell_seconds", "rssi", "expected"),
    [
        (300, -75.0, True),  # exactly the minimum dwell and exactly the RSSI level
        (299, -60.0, False),
        (3600, -75.5, False),
        (3600, -40.0, True),
    ],
)
def test_a_visit_qualifies_with_min_dwell_and_visitor_rssi(dwell_seconds, rssi, expected):
    observations = frame(observation("a", at(), at(second=dwell_seconds), rssi=rssi))

    assert qualifying(found(observations), SETTINGS).tolist() == [expected]


def test_one_strong_moment_is_enough_for_the_rssi_rule():
    observations = frame(stay("a", at(), 10, rssi=-85), observation("a", at(minute=4), rssi=-74))

    assert qualifying(found(observations), SETTINGS).tolist() == [True]


def long_day(device: str, day: int, hours: float = 4) -> list[dict]:
    return stay(device, at(day=day, hour=9), int(hours * 60), step=5)


@pytest.mark.parametrize(
    ("days", "hours", "is_staff"),
    [
        ((0, 1, 2), 4, True),  # three days of exactly four hours
        ((0, 1), 8, False),  # two days are not enough
        ((0, 1, 2), 3.9, False),  # three days, but too short
        ((-14, -13, 0), 4, True),  # the 14 days before the window count
        ((-15, -14, 0), 4, False),  # the day 15 days before does not
    ],
)
def test_staff_need_long_visits_on_three_distinct_days_in_the_window_or_the_14_days_before(days, hours, is_staff):
    observations = frame(*(long_day("s", day, hours) for day in days))

    staff = staff_devices(found(observations), *WINDOW, SETTINGS)

    assert list(staff) == ([("shop", "s")] if is_staff else [])


def test_three_long_visits_on_one_day_are_not_staff():
    observations = frame(*(stay("s", at(hour=hour), 240, step=5) for hour in (0, 5, 10)))

    assert list(staff_devices(found(observations), *WINDOW, SETTINGS)) == []


def test_staff_are_excluded_from_visitors_and_passersby_and_every_visit_is_staff():
    observations = frame(
        long_day("s", 0),
        long_day("s", 1),
        long_day("s", 2),
        stay("s", at(day=3), 2),  # a short visit of a staff phone is still staff
        stay("v", at(), 30),
        stay("p", at(), 2),
    )

    result = classified(observations)
    table = devices(result.loc[result["in_window"]])

    assert result.set_index("device").loc["s", "category"].tolist() == ["staff"] * 4
    assert table["category"].to_dict() == {("shop", "p"): "passerby", ("shop", "s"): "staff", ("shop", "v"): "visitor"}


def test_a_device_is_a_visitor_if_any_visit_qualified_and_connected_only_if_associated_during_one():
    observations = frame(
        stay("a", at(), 1, associated=True, ssid="Guest"),  # passing by, associated
        stay("a", at(hour=12), 30),  # qualifying, not associated
        stay("b", at(), 30, associated=True, ssid="Guest"),
        stay("c", at(), 3, associated=True, ssid="Guest"),  # associated passerby
    )

    table = devices(classified(observations))

    assert table["category"].to_dict() == {
        ("shop", "a"): "visitor",
        ("shop", "b"): "visitor",
        ("shop", "c"): "passerby",
    }
    assert table["connected"].to_dict() == {("shop", "a"): False, ("shop", "b"): True, ("shop", "c"): False}
    assert table["visits"].to_dict() == {("shop", "a"): 1, ("shop", "b"): 1, ("shop", "c"): 0}


def test_in_window_is_by_visit_start():
    observations = frame(stay("a", at(day=-1, hour=23, minute=50), 30), stay("b", at(day=7, hour=0), 30))

    assert classified(observations)["in_window"].tolist() == [False, False]
    assert classified(observations, (at(day=-1), at(day=8)))["in_window"].tolist() == [True, True]


@pytest.mark.parametrize(("visitors", "passersby", "expected"), [(1, 3, 0.25), (0, 5, 0.0), (2, 0, 1.0), (0, 0, None)])
def test_capture_rate(visitors, passersby, expected):
    assert capture_rate(visitors, passersby) == expected


def test_dwell_bucket_edges_belong_to_the_upper_bucket():
    minutes = pd.Series([4.99, 5.0, 19.99, 20.0, 59.99, 60.0, 359.99, 360.0, 1000.0])

    assert dwell_buckets(minutes, SETTINGS.dwell_bucket_edges_minutes) == {
        "5-20": 2,
        "20-60": 2,
        "60-360": 2,
        "360+": 2,
    }


def test_dwell_stats():
    assert dwell_stats(pd.Series([5.0, 10.0, 30.0, 15.0])) == pytest.approx({"median": 12.5, "mean": 15.0, "p90": 25.5})
    assert dwell_stats(pd.Series([], dtype="float64")) == {"median": None, "mean": None, "p90": None}
