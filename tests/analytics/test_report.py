"""The report dict: every key, exact values, site-local days, and the empty case."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.report import analyse, build_report, daily_series, visit_table
from analytics.schema import typed_observations
from analytics.settings import SPAN, AnalyticsSettings
from config.settings import AccessPoint
from tests.analytics.builders import AP1, frame, observation, stay

TZ = ZoneInfo("Europe/Amsterdam")  # UTC+1 in November
# Site-local Monday 2 and Tuesday 3 November 2026: 2026-11-01 23:00 UTC to 2026-11-03 23:00 UTC.
START = datetime(2026, 11, 2, tzinfo=TZ)
END = datetime(2026, 11, 4, tzinfo=TZ)
ACCESS_POINTS = {AP1: AccessPoint(AP1, "Shop floor", "shop")}
# Exact dwell figures need the span heard as the dwell (the estimated stay is tested in test_stays.py).
HEARD = AnalyticsSettings(dwell_estimate=SPAN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def shop() -> pd.DataFrame:
    return frame(
        stay("a", utc("2026-11-01 23:10"), 30, associated=True, ssid="Guest"),  # 00:10 local on the 2nd
        stay("b", utc("2026-11-02 10:00"), 12),
        stay("b", utc("2026-11-03 10:00"), 60),
        stay("c", utc("2026-11-02 12:00"), 3),
        stay("d", utc("2026-11-03 22:50"), 30, randomized=True, manufacturer=None),  # 23:50 local on the 3rd
        stay("e", utc("2026-11-03 23:05"), 30),  # 00:05 local on the 4th: after the window
        stay("f", utc("2026-10-25 12:00"), 20),  # history: makes f a returning, weekly visitor
        stay("f", utc("2026-11-02 10:05"), 20),
    )


def test_report_has_every_key_with_exact_values():
    report = build_report(shop(), START, END, HEARD, tz=TZ, access_points=ACCESS_POINTS)

    assert report == {
        "from": "2026-11-02",
        "to": "2026-11-03",
        "filters": {
            "ssid": None,
            "manufacturer": None,
            "ap": None,
            "zone": None,
            "exclude_randomized": False,
            "sites": [],
            "open_hours": False,
        },
        "visitors": 4,
        "passersby": 1,
        "connected": 1,
        "staff": 0,
        "visits": 5,
        "capture_rate": 0.8,
        "repeat_visitors": 1,
        "new_visitors": 3,
        "randomized_share": 0.2,
        "dwell_minutes": {"median": 30.0, "mean": 30.4, "p90": 48.0},
        "dwell_buckets": {"5-20": 1, "20-60": 3, "60-360": 1, "360+": 0},
        "loyalty": {"first_time": 2, "daily": 0, "weekly": 1, "occasional": 1},
        "peak_occupancy": {"count": 2, "at": "2026-11-02T11:05:00+01:00"},
        "zones": [{"zone": "Shop floor", "visitors": 4, "visits": 5, "median_dwell_minutes": 30.0}],
        "daily": [
            {
                "date": "2026-11-02",
                "visitors": 3,
                "passersby": 1,
                "connected": 1,
                "median_dwell_minutes": 20.0,
                "peak_occupancy": 2,
            },
            {
                "date": "2026-11-03",
                "visitors": 2,
                "passersby": 0,
                "connected": 0,
                "median_dwell_minutes": 45.0,
                "peak_occupancy": 1,
            },
        ],
    }
    json.dumps(report)  # plain values only


def test_the_same_observations_in_utc_days_fall_on_other_days():
    utc_start, utc_end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)

    report = build_report(shop(), utc_start, utc_end, tz=UTC)

    # a (23:10 UTC on the 1st) drops out; e (23:05 UTC on the 3rd) comes in.
    assert [day["visitors"] for day in report["daily"]] == [2, 3]
    assert report["visitors"] == 4


def test_an_empty_window_reports_zeros_and_nones():
    report = build_report(frame(), START, END, tz=TZ)

    assert (report["visitors"], report["passersby"], report["visits"], report["capture_rate"]) == (0, 0, 0, None)
    assert report["dwell_minutes"] == {"median": None, "mean": None, "p90": None}
    assert report["peak_occupancy"] == {"count": 0, "at": None}
    assert report["zones"] == []
    assert [day["visitors"] for day in report["daily"]] == [0, 0]
    json.dumps(report)


def test_staff_are_reported_separately():
    rows = frame(
        *(stay("s", utc(f"2026-11-0{day} 08:00"), 300, step=5) for day in (2, 3)),
        stay("s", utc("2026-10-30 08:00"), 300, step=5),
    )

    report = build_report(rows, START, END, tz=TZ)

    assert (report["staff"], report["visitors"], report["passersby"]) == (1, 0, 0)
    assert [day["visitors"] for day in report["daily"]] == [0, 0]


def test_build_report_does_not_mutate_its_input():
    rows = shop()
    before = rows.copy()

    build_report(rows, START, END, tz=TZ)

    pd.testing.assert_frame_equal(rows, before)


def test_visit_table_has_one_row_per_window_visit_with_its_category():
    table = visit_table(analyse(shop(), START, END, HEARD, tz=TZ, access_points=ACCESS_POINTS))

    assert list(table.columns) == [
        "device",
        "first_seen",
        "last_seen",
        "dwell_minutes",
        "max_rssi",
        "category",
        "associated",
        "ssid",
        "manufacturer",
        "randomized",
        "zone",
    ]
    assert table["device"].tolist() == ["a", "b", "f", "c", "b", "d"]
    assert table["category"].tolist() == ["visitor", "visitor", "visitor", "passerby", "visitor", "visitor"]
    assert table["dwell_minutes"].tolist() == [30.0, 12.0, 20.0, 3.0, 60.0, 30.0]
    assert table["zone"].unique().tolist() == ["Shop floor"]
    assert table.loc[0, "ssid"] == "Guest"


def test_daily_series_includes_staff_and_visits_columns():
    rows = frame(observation("x", utc("2026-11-02 10:00"), utc("2026-11-02 10:30")))

    daily = daily_series(analyse(typed_observations(rows), START, END, tz=TZ))

    assert daily.columns.tolist() == [
        "date",
        "visitors",
        "passersby",
        "connected",
        "staff",
        "visits",
        "median_dwell_minutes",
        "peak_occupancy",
    ]
    assert daily["visits"].tolist() == [1, 0]
