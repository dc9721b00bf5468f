"""Every dashboard page under streamlit's AppTest, against a simulated shop: no exception, and the numbers shown are
exactly what `presence report` prints for the same days and filters."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from analytics.report import analyse, live_occupancy
from analytics.settings import AnalyticsSettings
from app import cli
from app.dashboard import data, filters, ui
from config.settings import Settings
from store import db
from store.frames import load_observations
from store.queries import local_day_bounds
from tests.dashboard.conftest import ENTRY, Shop, yesterday_at

TIMEOUT = 300  # a cold first run reads and analyses the whole simulated database
PAGES = ("live", "visitors", "trends", "zones")
KPI_LABELS = {
    "Visitors": ("visitors", "count"),
    "Passersby": ("passersby", "count"),
    "Connected": ("connected", "count"),
    "Capture rate": ("capture_rate", "percent"),
    "Median dwell": ("median_dwell_minutes", "minutes"),
    "Repeat visitors": ("repeat_visitors", "count"),
}


def app(page: str = "live", **query: str | list[str]) -> AppTest:
    """The dashboard opened on `page` with `query` in the URL, run to the end."""
    test = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    for key, value in query.items():
        test.query_params[key] = value
    test.run()
    if page != "live":
        test.switch_page(f"views/{page}.py").run()
    return test


def assert_clean(test: AppTest) -> None:
    assert not test.exception, [exception.message for exception in test.exception]
    assert not test.error, [error.value for error in test.error]


def cli_report(capsys: pytest.CaptureFixture[str], first: date, last: date, *options: str) -> dict:
    capsys.readouterr()
    assert (
        cli.main(["report", "--from", first.isoformat(), "--to", last.isoformat(), "--format", "json", *options]) == 0
    )
    return json.loads(capsys.readouterr().out)


def default_days(shop: Shop) -> tuple[date, date]:
    """The sidebar's default range for the simulated shop: the last seven complete days."""
    today = data.today(data.Source.from_settings(Settings.from_env()))
    return filters.default_range(today - timedelta(days=shop.days), today, today)


def metrics(test: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in test.metric}


def kpi_value(report: dict, key: str) -> float | None:
    return report["dwell_minutes"]["median"] if key == "median_dwell_minutes" else report[key]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(simulated_shop: Shop, page: str) -> None:
    test = app(page)
    assert_clean(test)
    assert test.title[0].value == page.capitalize()
    assert test.sidebar.date_input[0].label == "Dates"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "options"),
    [
        ({}, ()),
        ({"ssid": "Guest"}, ("--ssid", "Guest")),
        ({"norandom": "true"}, ("--exclude-randomized",)),
        ({"zone": "Back"}, ("--zone", "Back")),
        ({"ap": "Entrance"}, ("--ap", "88:dc:96:10:00:01")),
    ],
    ids=["no-filter", "ssid", "exclude-randomized", "zone", "ap"],
)
def test_visitor_kpis_are_presence_reports(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str], query: dict, options: tuple[str, ...]
) -> None:
    first, last = default_days(simulated_shop)
    test = app("visitors", **query)
    assert_clean(test)
    length = (last - first).days + 1
    report = cli_report(capsys, first, last, *options)
    previous = cli_report(capsys, first - timedelta(days=length), first - timedelta(days=1), *options)
    shown = metrics(test)
    assert shown["Visitors"][0] == f"{report['visitors']:,}"
    assert report["visitors"] > 0
    for label, (key, kind) in KPI_LABELS.items():
        now, before = kpi_value(report, key), kpi_value(previous, key)
        assert shown[label] == (ui.FORMATS[kind](now), ui.delta(now, before, kind) or ""), label


@pytest.mark.slow
def test_a_shared_link_restores_dates_and_manufacturer(simulated_shop: Shop, capsys: pytest.CaptureFixture[str]):
    _, last = default_days(simulated_shop)
    first = last - timedelta(days=2)
    test = app("visitors", dates=[first.isoformat(), last.isoformat()], maker="Apple, Inc.")
    assert_clean(test)
    assert test.sidebar.date_input[0].value == (first, last)
    assert test.sidebar.selectbox(key=filters.MANUFACTURER).value == "Apple, Inc."
    report = cli_report(capsys, first, last, "--manufacturer", "Apple, Inc.")
    assert metrics(test)["Visitors"][0] == f"{report['visitors']:,}"


@pytest.mark.slow
def test_trends_compare_this_week_with_the_same_days_last_week(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    _, last = default_days(simulated_shop)
    monday = last - timedelta(days=last.weekday())
    test = app("trends")
    assert_clean(test)
    this_week = cli_report(capsys, monday, last)
    last_week = cli_report(capsys, monday - timedelta(weeks=1), last - timedelta(weeks=1))
    shown = metrics(test)
    assert shown["Visitors this week"] == (
        f"{this_week['visitors']:,}",
        ui.delta(this_week["visitors"], last_week["visitors"], "count") or "",
    )
    assert shown["Capture rate"][0] == ui.percent(this_week["capture_rate"])
    assert len(test.get("vega_lite_chart")) == 3


@pytest.mark.slow
def test_presentation_view_draws_the_same_charts_large(simulated_shop: Shop) -> None:
    test = app("trends", present="true")
    assert_clean(test)
    assert test.toggle(key="present").value is True
    assert len(test.get("vega_lite_chart")) == 3


@pytest.mark.slow
def test_zones_page_shows_the_floor_plan_of_configured_aps(simulated_shop: Shop) -> None:
    test = app("zones")
    assert_clean(test)
    assert [header.value for header in test.main.subheader] == ["Floor plan"]
    assert len(test.get("vega_lite_chart")) == 5


@pytest.mark.slow
def test_live_shows_the_analytics_count_of_visitors_inside(
    simulated_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = yesterday_at(simulated_shop, 15)
    monkeypatch.setattr(data, "clock", lambda: now)
    test = app("live")
    assert_clean(test)

    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    today_start, _ = local_day_bounds(now.date(), None, settings.tz)
    analytics_settings = AnalyticsSettings()
    observations = load_observations(engine, today_start, now, history=analytics_settings.history)
    analysis = analyse(observations, today_start, now, analytics_settings, None, settings.tz, settings.access_points)
    inside, per_zone = live_occupancy(analysis, now)
    engine.dispose()

    shown = metrics(test)
    assert inside > 0
    assert shown["In the store now"][0] == str(inside)
    assert {zone: int(shown[zone][0]) for zone in per_zone.index} == per_zone.to_dict()
    assert not test.warning  # every AP reported within the last ten minutes


@pytest.mark.slow
def test_live_warns_when_access_points_fall_silent(simulated_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    later = yesterday_at(simulated_shop, 15) + timedelta(days=2)  # a day after the simulation stopped
    monkeypatch.setattr(data, "clock", lambda: later)
    test = app("live")
    assert_clean(test)
    assert metrics(test)["In the store now"][0] == "0"
    assert "No access point has reported" in test.warning[0].value


def test_empty_database_explains_how_to_connect_the_access_points(empty_shop) -> None:
    test = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert_clean(test)
    assert test.title[0].value == "No observations yet"
    text = "\n".join(block.value for block in test.markdown)
    for vendor in ("engenius", "aerohive", "meraki"):
        assert f"`http://<this machine's address>:8000/ingest/{vendor}`" in text
    for setting in (
        "PRESENCE_ENGENIUS_KEY",
        "PRESENCE_AEROHIVE_SECRET",
        "PRESENCE_MERAKI_SECRET",
        "PRESENCE_MERAKI_VALIDATOR",
    ):
        assert setting in text
    assert "**Validate**" in text  # Meraki's GET of the Post URL, answered with the validator
    assert [header.value for header in test.subheader[:3]] == [
        "EnGenius Cloud",
        "Aerohive / HiveManager",
        "Cisco Meraki",
    ]
    assert len(test.success) == 3  # every vendor's keys are configured
    assert not test.warning


def test_unreachable_database_is_an_error_message_not_a_traceback(empty_shop, monkeypatch) -> None:
    monkeypatch.setenv("PRESENCE_DATABASE_URL", "postgresql+psycopg://presence:secret@127.0.0.1:9/presence")
    test = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert not test.exception
    assert "cannot read its data" in test.error[0].value
    assert "secret" not in test.error[0].value
    assert "***" in test.error[0].value


def test_configuration_error_is_a_message(empty_shop, monkeypatch) -> None:
    monkeypatch.setenv("PRESENCE_TIMEZONE", "Mars/Olympus_Mons")
    test = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert not test.exception
    assert "Mars/Olympus_Mons" in test.error[0].value
