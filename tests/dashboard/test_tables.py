"""The dashboard's own small shaping steps, on hand-made frames with exact expected values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.filters import Filters
from app.dashboard import filters, setup, tables, ui
from config.settings import Settings

NOW = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def test_typical_occupancy_is_the_mean_of_the_same_weekday_and_time() -> None:
    times = pd.DatetimeIndex(["2026-10-28 15:00", "2026-11-04 15:00", "2026-11-04 15:15", "2026-11-05 15:00"])
    typical = tables.typical_occupancy(pd.Series([4, 6, 9, 100], index=times))
    assert typical.to_dict("records") == [
        {"weekday": 2, "minute": 900, "visitors": 5.0},
        {"weekday": 2, "minute": 915, "visitors": 9.0},
        {"weekday": 3, "minute": 900, "visitors": 100.0},
    ]
    looked_up = tables.typical_at(typical, pd.DatetimeIndex(["2026-11-11 15:07", "2026-11-11 03:00"]), 15)
    np.testing.assert_array_equal(looked_up, [5.0, np.nan])
    # One time at once, as each site's row of Live asks: the same values, None where history has none.
    assert tables.typical_at_one(typical, pd.Timestamp("2026-11-11 15:07"), 15) == 5.0
    assert tables.typical_at_one(typical, pd.Timestamp("2026-11-12 15:14"), 15) == 100.0
    assert tables.typical_at_one(typical, pd.Timestamp("2026-11-11 03:00"), 15) is None
    assert tables.typical_at_one(typical.iloc[0:0], pd.Timestamp("2026-11-11 15:07"), 15) is None


def test_ap_status_flags_silent_and_never_heard_access_points() -> None:
    last_seen = pd.Series(
        [NOW - timedelta(minutes=2), NOW - timedelta(minutes=25)], index=["aa:00:00:00:00:01", "aa:00:00:00:00:02"]
    )
    names = {"aa:00:00:00:00:01": "Entrance", "aa:00:00:00:00:03": "Back"}
    status = tables.ap_status(last_seen, names, NOW, timedelta(minutes=10), UTC)
    assert status[["name", "silent", "status"]].to_dict("records") == [
        {"name": "Back", "silent": True, "status": "⚠ silent"},
        {"name": "aa:00:00:00:00:02", "silent": True, "status": "⚠ silent"},
        {"name": "Entrance", "silent": False, "status": "✓ reporting"},
    ]
    assert status.loc[status["name"] == "Entrance", "minutes_ago"].item() == 2.0


def visitor_visits(rows: list[tuple[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({"site": "shop", "device": [d for d, _ in rows], "manufacturer": [m for _, m in rows]})


def test_breakdown_counts_each_visitor_once_per_value_and_reports_the_unknown() -> None:
    visits = visitor_visits([("a", "Apple"), ("a", "Apple"), ("b", "Apple"), ("c", "Samsung"), ("d", None)])
    frame, unknown = tables.breakdown(visits, "manufacturer")
    assert frame.to_dict("records") == [
        {"value": "Apple", "visitors": 2, "share": 0.5},
        {"value": "Samsung", "visitors": 1, "share": 0.25},
    ]
    assert unknown == 1


def test_breakdown_sums_the_tail_into_other() -> None:
    visits = visitor_visits([(f"d{i}", f"M{i % 4}") for i in range(8)])
    frame, _ = tables.breakdown(visits, "manufacturer", top=2)
    assert frame["value"].tolist() == ["M0", "M1", "Other"]
    assert frame["visitors"].tolist() == [2, 2, 4]


def test_week_over_week_compares_weekdays_of_this_week_last_week_and_the_four_before() -> None:
    days = pd.date_range("2026-10-05", "2026-11-04", freq="D")  # Monday 5 Oct .. Wednesday 4 Nov
    daily = pd.DataFrame({"date": days, "visitors": np.arange(len(days)) * 10})
    frame = tables.week_over_week(daily, date(2026, 11, 2), 4)
    this_week = frame.loc[frame["series"] == "The week"]
    assert this_week[["weekday", "visitors"]].to_dict("records") == [
        {"weekday": "Mon", "visitors": 280.0},
        {"weekday": "Tue", "visitors": 290.0},
        {"weekday": "Wed", "visitors": 300.0},
    ]
    assert frame.loc[frame["series"] == "The week before", "visitors"].tolist()[0] == 210.0
    average = frame.loc[frame["series"] == "4-week average"]
    assert average["visitors"].tolist()[0] == (0 + 70 + 140 + 210) / 4  # the Mondays 5, 12, 19 and 26 October
    assert len(average) == 7


def test_weekday_means_average_each_weekday_over_the_days_given() -> None:
    days = pd.date_range("2026-11-02", periods=9, freq="D")  # two Mondays and two Tuesdays
    frame = tables.weekday_means(pd.DataFrame({"date": days, "visitors": [10, 20, 0, 0, 0, 0, 0, 30, 40]}))
    assert frame.iloc[0].to_dict() == {"weekday": "Mon", "visitors": 20.0, "days": 2}
    assert frame.iloc[1].to_dict() == {"weekday": "Tue", "visitors": 30.0, "days": 2}


def test_matrices_become_long_frames() -> None:
    matrix = pd.DataFrame([[0, 2], [1, 0]], index=["A", "B"], columns=["A", "B"])
    moves = tables.transitions(matrix)
    assert moves.to_dict("records") == [
        {"from": "A", "to": "A", "moves": 0},
        {"from": "B", "to": "A", "moves": 1},
        {"from": "A", "to": "B", "moves": 2},
        {"from": "B", "to": "B", "moves": 0},
    ]
    week = pd.DataFrame(np.ones((7, 24)), index=pd.Index(tables.WEEKDAYS, name="weekday"), columns=range(24))
    assert tables.hour_of_week(week).shape == (168, 3)


@pytest.mark.parametrize(
    ("first_day", "last_day", "today", "expected"),
    [
        (date(2026, 10, 1), date(2026, 11, 4), date(2026, 11, 4), (date(2026, 10, 28), date(2026, 11, 3))),
        (date(2026, 10, 1), date(2026, 10, 20), date(2026, 11, 4), (date(2026, 10, 14), date(2026, 10, 20))),
        (date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 4), (date(2026, 11, 2), date(2026, 11, 3))),
        (date(2026, 11, 4), date(2026, 11, 4), date(2026, 11, 4), (date(2026, 11, 4), date(2026, 11, 4))),
    ],
    ids=["complete-days", "old-data", "short-history", "only-today"],
)
def test_default_range_is_the_last_seven_complete_days(first_day, last_day, today, expected) -> None:
    assert filters.default_range(first_day, last_day, today) == expected


def test_previous_period_has_equal_length_and_the_same_filters() -> None:
    selection = filters.Selection(date(2026, 11, 2), date(2026, 11, 8), Filters(ssid="Guest"), include_staff=True)
    previous = selection.previous()
    assert (previous.first, previous.last, previous.filters) == (
        date(2026, 10, 26),
        date(2026, 11, 1),
        selection.filters,
    )
    assert selection.describe() == "Mon 02 Nov 2026 – Sun 08 Nov 2026 · ssid Guest · staff shown"


@pytest.mark.parametrize(
    ("current", "previous", "kind", "value", "change"),
    [
        (1234, 1200, "count", "1,234", "+34"),
        (0.1284, 0.1301, "percent", "12.8 %", "-0.2 pp"),
        (18.25, 20.0, "minutes", "18.2 min", "-1.8 min"),
        (None, 3, "minutes", "–", None),
    ],
)
def test_kpi_formatting(current, previous, kind, value, change) -> None:
    assert ui.FORMATS[kind](current) == value
    assert ui.delta(current, previous, kind) == change


@pytest.mark.parametrize(
    ("inside", "typical", "expected"), [(7, 4.2, "+3 vs typical"), (4, 4.4, "as usual"), (2, None, None)]
)
def test_live_count_against_typical(inside, typical, expected) -> None:
    assert ui.versus_typical(inside, typical) == expected


def test_setup_guide_points_at_the_receiver_on_the_dashboards_host(tmp_path) -> None:
    settings = Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_AEROHIVE_SECRET": "s3cret"})
    guide = setup.guide(settings, "shop-pc.local:8501")
    assert guide.engenius_url == "http://shop-pc.local:8000/ingest/engenius"
    assert guide.aerohive_url == "http://shop-pc.local:8000/ingest/aerohive"
    assert guide.meraki_url == "http://shop-pc.local:8000/ingest/meraki"
    assert (guide.engenius_configured, guide.aerohive_configured, guide.meraki_configured) == (False, True, False)
    assert "PRESENCE_ENGENIUS_KEY" in guide.engenius_status
    assert guide.meraki_status == (
        "Not ready for Meraki yet: set PRESENCE_MERAKI_SECRET (any long random text) and "
        "PRESENCE_MERAKI_VALIDATOR (the validator Meraki shows) where the receiver runs."
    )


@pytest.mark.parametrize(
    ("env", "status"),
    [
        ({"PRESENCE_MERAKI_SECRET": "s3cret"}, "set PRESENCE_MERAKI_VALIDATOR (the validator Meraki shows) where"),
        ({"PRESENCE_MERAKI_VALIDATOR": "v4lidator"}, "set PRESENCE_MERAKI_SECRET (any long random text) where"),
        (
            {"PRESENCE_MERAKI_SECRET": "s3cret", "PRESENCE_MERAKI_VALIDATOR": "v4lidator"},
            "The receiver has a Meraki secret and validator",
        ),
    ],
    ids=["secret-only", "validator-only", "both"],
)
def test_setup_guide_says_what_meraki_still_needs(tmp_path, env: dict[str, str], status: str) -> None:
    guide = setup.guide(Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), **env}), None)
    assert guide.meraki_url == "http://<this machine's address>:8000/ingest/meraki"
    assert guide.meraki_configured is (len(env) == 2)
    assert status in guide.meraki_status
