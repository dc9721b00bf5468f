"""Occupancy at a time, peaks (overall and per site-local day), live occupancy and the hour-of-week matrix."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from analytics import occupancy
from tests.analytics.builders import at


def visit_rows(*spans: tuple, zone: str | None = None) -> pd.DataFrame:
    """Visits from (device, first_seen, last_seen[, zone]) tuples."""
    rows = [
        {
            "site": "shop",
            "device": span[0],
            "first_seen": pd.Timestamp(span[1]),
            "last_seen": pd.Timestamp(span[2]),
            "last_zone": span[3] if len(span) > 3 else zone,
        }
        for span in spans
    ]
    return pd.DataFrame(rows, columns=["site", "device", "first_seen", "last_seen", "last_zone"])


def test_peak_counts_open_visits_and_back_to_back_visits_do_not_overlap():
    visits = visit_rows(
        ("a", at(minute=0), at(minute=30)),
        ("b", at(minute=30), at(minute=40)),  # starts as a ends
        ("c", at(minute=10), at(minute=35)),
        ("d", at(minute=32), at(minute=50)),
    )

    count, moment = occupancy.peak_occupancy(visits)

    assert (count, moment) == (3, pd.Timestamp(at(minute=32)))


def test_peak_of_nothing_is_zero_at_no_time():
    assert occupancy.peak_occupancy(visit_rows()) == (0, None)


def test_occupancy_at_treats_a_visit_as_open_from_first_seen_until_last_seen():
    visits = visit_rows(("a", at(minute=0), at(minute=30)), ("b", at(minute=15), at(minute=45)))
    times = pd.DatetimeIndex([at(minute=m) for m in (-1, 0, 15, 29, 30, 45)])

    assert occupancy.occupancy_at(visits, times).tolist() == [0, 1, 2, 2, 1, 0]


def test_occupancy_series_samples_the_window_in_site_local_time():
    tz = ZoneInfo("Europe/Amsterdam")
    visits = visit_rows(("a", at(hour=10), at(hour=11, minute=30)))

    series = occupancy.occupancy_series(visits, at(hour=9), at(hour=13), tz, freq="1h")

    assert series.tolist() == [0, 1, 1, 0]
    assert str(series.index[0]) == "2026-11-02 10:00:00+01:00"


def test_daily_peaks_use_site_local_days_and_count_a_visit_across_midnight_on_both_days():
    tz = ZoneInfo("Europe/Amsterdam")
    # 22:30-23:30 UTC Monday is 23:30-00:30 local; b and c overlap on Tuesday afternoon; Wednesday is empty.
    visits = visit_rows(
        ("a", at(hour=22, minute=30), at(hour=23, minute=30)),
        ("b", at(day=1, hour=14), at(day=1, hour=15)),
        ("c", at(day=1, hour=14, minute=30), at(day=1, hour=16)),
    )
    days = pd.date_range("2026-11-02", "2026-11-04", freq="D")

    assert occupancy.daily_peaks(visits, days, tz).tolist() == [1, 2, 0]


def test_live_occupancy_counts_visitors_heard_in_the_live_window_per_latest_zone():
    now = at(hour=12)
    visits = visit_rows(
        ("a", at(hour=11), now - timedelta(minutes=2), "Entrance"),
        ("b", at(hour=11), now - timedelta(minutes=9), "Back"),
        ("c", at(hour=11), now - timedelta(minutes=10), "Back"),  # heard exactly 10 min ago: gone
        ("d", at(hour=11, minute=55), now, "Back"),
    )

    total, per_zone = occupancy.live_occupancy(visits, now, timedelta(minutes=10))

    assert total == 3
    assert per_zone.to_dict() == {"Back": 2, "Entrance": 1}


def test_hour_of_week_is_mean_occupancy_per_weekday_and_hour():
    # Two Mondays in the window. On the first, a is inside 10:30-12:10 and c 10:00-10:30; b is inside on Tuesday
    # 9:00-9:20. Sampled every 15 minutes, each cell is the mean of its samples over both Mondays.
    visits = visit_rows(
        ("a", at(hour=10, minute=30), at(hour=12, minute=10)),
        ("c", at(hour=10), at(hour=10, minute=29)),
        ("b", at(day=1, hour=9), at(day=1, hour=9, minute=20)),
    )

    matrix = occupancy.hour_of_week(visits, at(), at(day=14), at().tzinfo)

    assert matrix.shape == (7, 24)
    # 10:00-11:00 on the first Monday: c at :00 and :15, a at :30 and :45 -> 1 each; the second Monday 0.
    assert matrix.loc["Mon", [9, 10, 11, 12, 13]].tolist() == [0.0, 0.5, 0.5, 0.125, 0.0]  # a at 12:00 only
    assert matrix.loc["Tue", 9] == 0.25  # b at 9:00 and 9:15: 2 of the 4 samples of 9:00-10:00, on one of two Tuesdays
    # Never more than the occupancy at any instant: the same definition as the occupancy series.
    series = occupancy.occupancy_series(visits, at(), at(day=14), at().tzinfo)
    assert matrix.to_numpy().max() <= series.max()
