"""Site clocks: days in each site's own time zone and from its day start, windows per site, opening hours."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from analytics.clocks import Clock, Clocks

NEW_YORK = Clock("America/New_York")
LATE = Clock("Europe/Amsterdam", day_start=timedelta(hours=4))
CLOCKS = Clocks.of(Clock("Europe/Amsterdam"), {"ny": NEW_YORK, "club": LATE, "ams": Clock("Europe/Amsterdam")})


def utc(*texts: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(texts), utc=True))


def test_only_sites_that_differ_from_the_default_are_listed():
    assert [name for name, _ in CLOCKS.sites] == ["club", "ny"]
    assert CLOCKS.clock("ams") == CLOCKS.clock("elsewhere") == CLOCKS.default


def test_each_site_counts_its_own_day():
    # 02:30 UTC on Tuesday: Tuesday 03:30 in Amsterdam, Monday 21:30 in New York, still Monday night at the club.
    moments = utc("2026-11-03T02:30:00Z", "2026-11-03T02:30:00Z", "2026-11-03T02:30:00Z")
    days = CLOCKS.days_of(pd.Series(["ams", "ny", "club"]), moments)
    assert [day.date() for day in days] == [date(2026, 11, 3), date(2026, 11, 2), date(2026, 11, 2)]


def test_a_window_of_days_is_each_sites_own():
    starts, ends = CLOCKS.window_bounds(pd.Series(["ams", "ny", "club"]), date(2026, 11, 2), date(2026, 11, 2))
    assert [moment.isoformat() for moment in starts] == [
        "2026-11-01T23:00:00+00:00",
        "2026-11-02T05:00:00+00:00",
        "2026-11-02T03:00:00+00:00",
    ]
    assert [moment - start for moment, start in zip(ends, starts, strict=True)] == [pd.Timedelta(days=1)] * 3
    low, high = CLOCKS.envelope(["ams", "ny"], date(2026, 11, 2), date(2026, 11, 2))
    assert (low.isoformat(), high.isoformat()) == ("2026-11-01T23:00:00+00:00", "2026-11-03T05:00:00+00:00")


def test_a_day_across_the_clock_change_is_23_or_25_hours():
    start, end = NEW_YORK.bounds(date(2026, 11, 1), date(2026, 11, 1))  # DST ends in New York
    assert end - start == timedelta(hours=25)


def test_opening_hours_in_local_time_and_past_midnight():
    # Mon-Sat 09:00-21:00 (540-1260), Sunday closed; in New York.
    shop = Clock("America/New_York", hours=((540, 1260),) * 6 + (None,))
    bar = Clock("Europe/Amsterdam", hours=((1200, 1560),) * 7)  # 20:00-02:00 every day
    times = utc("2026-11-02T14:00:00Z", "2026-11-02T13:59:00Z", "2026-11-08T15:00:00Z")
    assert shop.open_at(times).tolist() == [True, False, False]
    assert bar.open_at(utc("2026-11-03T00:30:00Z", "2026-11-03T01:00:00Z", "2026-11-02T18:59:00Z")).tolist() == [
        True,
        False,
        False,
    ]
    assert Clock().open_at(times).all()  # no hours: always open


def test_a_night_venue_counts_the_night_to_the_evening_before():
    """day_starts 04:00: a visit at 01:30 on Tuesday is Monday's, in the daily rows, the peak and the window."""
    from analytics.report import analyse, report
    from tests.analytics.builders import at, frame, stay

    clocks = Clocks.of(Clock("UTC"), {"club": Clock("UTC", day_start=timedelta(hours=4))})
    observations = frame(
        stay("a", at(0, 23), 30, site="club"),  # Monday 23:00
        stay("b", at(1, 1.5), 30, site="club"),  # Tuesday 01:30: still Monday night
        stay("c", at(1, 5), 30, site="club"),  # Tuesday 05:00
        stay("d", at(1, 1.5), 30, site="shop"),  # a shop keeps midnight: Tuesday
    )
    dates = (date(2026, 11, 2), date(2026, 11, 3))
    start, end = clocks.envelope(["club", "shop"], *dates)
    result = report(analyse(observations, start, end, clocks=clocks, dates=dates))
    assert [(row["date"], row["visitors"]) for row in result["daily"]] == [("2026-11-02", 2), ("2026-11-03", 2)]
    monday = analyse(observations, *clocks.envelope(["club"], dates[0], dates[0]), clocks=clocks, dates=dates[:1] * 2)
    assert sorted(monday.window_visits.loc[monday.window_visits["site"] == "club", "device"]) == ["a", "b"]
    # Tuesday: the club's peak within its day (c) plus the shop's within its own (d), as their days differ.
    assert [row["peak_occupancy"] for row in result["daily"]] == [1, 2]


def test_open_spans_hold_exactly_the_instants_open_at_keeps_across_both_clock_changes():
    """The spans SQL selects open-hours visits by: every second-resolution instant of a spring and an autumn
    week (with DST nights inside a night venue's hours and at a shop's opening) is in a span iff open_at keeps it."""
    night = Clock("Europe/Amsterdam", hours=((22 * 60, 28 * 60),) * 7)  # 22:00-04:00, over both DST nights
    early = Clock("America/New_York", hours=((150, 20 * 60),) * 5 + (None, (11 * 60, 17 * 60)))  # opens 02:30
    repeated = Clock("Europe/Amsterdam", hours=((150, 20 * 60),) * 7)  # opens 02:30, inside the hour that repeats
    for clock in (night, early, repeated, Clock("Asia/Kolkata", hours=((9 * 60 + 30, 21 * 60),) * 7)):
        for first in ("2026-03-26", "2026-10-22", "2026-03-05", "2026-10-29"):
            start = pd.Timestamp(first, tz="UTC").to_pydatetime()
            end = start + timedelta(days=7, seconds=17)
            spans = clock.open_spans(start, end)
            assert all(low < high for low, high in spans)
            assert all(high < low for (_, high), (low, _) in zip(spans, spans[1:], strict=False))
            moments = pd.Series(pd.date_range(start, end, freq="37s", inclusive="left"))
            inside = pd.Series(False, index=moments.index)
            for low, high in spans:
                inside |= (moments >= low) & (moments < high)
            assert inside.tolist() == clock.open_at(moments).tolist()
    always = Clock("UTC")
    start = pd.Timestamp("2026-11-02", tz="UTC").to_pydatetime()
    assert always.open_spans(start, start + timedelta(days=1)) == [(start, start + timedelta(days=1))]
