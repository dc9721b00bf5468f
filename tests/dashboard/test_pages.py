"""Every dashboard page under streamlit's AppTest, against a simulated shop: no exception, and the numbers shown are
exactly what `presence report` prints for the same days and filters."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pandas as pd
import pyarrow.ipc
import pytest
from streamlit.testing.v1 import AppTest

from analytics.filters import Filters
from analytics.report import analyse, live_occupancy
from analytics.settings import AnalyticsSettings
from app import cli
from app.dashboard import data, filters, products, ui
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


def charts_shown(test: AppTest) -> dict[str, pd.DataFrame]:
    """Every chart on the page by its title, with the data it draws (its largest dataset, from the Arrow bytes
    Streamlit sends the browser)."""
    shown = {}
    for chart in test.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        frames = [
            pyarrow.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all().to_pandas()
            for dataset in chart.proto.datasets
        ]
        shown[str(title)] = max(frames, key=len) if frames else pd.DataFrame()
    return shown


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
    # Three days, so that the three before them lie wholly within the shop's days of data: changes are shown.
    last = default_days(simulated_shop)[1]
    first = last - timedelta(days=2)
    test = app("visitors", **query, dates=[first.isoformat(), last.isoformat()])
    assert_clean(test)
    assert "no changes shown" not in test.caption[0].value
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
def test_no_change_is_shown_against_a_period_before_the_first_day_with_data(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    # The third to fifth days with data: of the three days before them the first holds nothing, which is not "no
    # visitors", and two days' visitors against three days' are no change. (The first day with data starts at the
    # hour the shop was simulated, after closing time in the evening: the second is the period before's whole day.)
    src = data.Source.from_settings(Settings.from_env())
    first_day = data.span(src).first_day
    assert first_day is not None
    first, last = first_day + timedelta(days=2), first_day + timedelta(days=4)
    test = app("visitors", dates=[first.isoformat(), last.isoformat()])
    assert_clean(test)
    assert cli_report(capsys, first_day, first_day + timedelta(days=1))["visitors"] > 0  # the period before has data
    assert "starts before the first day with data: no changes shown" in test.caption[0].value
    report = cli_report(capsys, first, last)
    shown = metrics(test)
    assert shown["Visitors"] == (f"{report['visitors']:,}", "")
    assert report["visitors"] > 0
    assert all(delta == "" for _, delta in shown.values()), shown


@pytest.mark.slow
def test_a_shared_link_restores_dates_and_manufacturer(simulated_shop: Shop, capsys: pytest.CaptureFixture[str]):
    _, last = default_days(simulated_shop)
    first = last - timedelta(days=2)
    test = app("visitors", dates=[first.isoformat(), last.isoformat()], maker="Apple")
    assert_clean(test)
    assert test.sidebar.date_input[0].value == (first, last)
    assert test.sidebar.selectbox(key=filters.MANUFACTURER).value == "Apple"
    # One name per company: the registry's "Apple, Inc." and the payloads' "Apple" are one option.
    assert [name for name in test.sidebar.selectbox(key=filters.MANUFACTURER).options if "apple" in name.lower()] == [
        "Apple"
    ]
    report = cli_report(capsys, first, last, "--manufacturer", "Apple")
    assert metrics(test)["Visitors"][0] == f"{report['visitors']:,}"


@pytest.mark.slow
def test_trends_open_on_the_last_complete_week_against_the_week_before(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    today = data.today(data.Source.from_settings(Settings.from_env()))
    monday = today - timedelta(days=today.weekday() + 7)  # last week's Monday: the last complete week
    sunday = monday + timedelta(days=6)
    test = app("trends")
    assert_clean(test)
    assert test.selectbox(key="week").value == f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}"
    week = cli_report(capsys, monday, sunday)
    before = cli_report(capsys, monday - timedelta(weeks=1), sunday - timedelta(weeks=1))
    shown = metrics(test)
    assert shown["Visitors"] == (f"{week['visitors']:,}", ui.delta(week["visitors"], before["visitors"], "count"))
    assert shown["Capture rate"][0] == ui.percent(week["capture_rate"])
    assert [caption.value for caption in test.caption if caption.value.startswith("Week ")] == [
        f"Week {monday.isocalendar()[1]} · {monday:%a %d %b} – {sunday:%a %d %b %Y}, against the same days of the "
        f"week before ({monday - timedelta(weeks=1):%a %d %b} – {sunday - timedelta(weeks=1):%a %d %b})."
    ]
    week_over_week = charts_shown(test)["The week vs the week before vs the 4-week average"]
    # A whole week, not one day: every day of it from the first day with data on (the shop's history may start
    # after that Monday, and a day before the first observation is not a day without visitors).
    first_day = data.span(data.Source.from_settings(Settings.from_env())).first_day
    assert first_day is not None
    shown_days = (sunday - max(monday, first_day)).days + 1
    assert shown_days >= 4
    assert len(week_over_week.loc[week_over_week["series"] == "The week"]) == shown_days

    # The buttons step through the weeks with data: Later to this week, Earlier back. (The week before the last
    # complete one has no data from Thursday on, when the shop's history starts on that Monday or after it.)
    later = test.button[1].click().run()
    this_monday = monday + timedelta(weeks=1)
    assert later.selectbox(key="week").value == f"{this_monday.isocalendar()[0]}-W{this_monday.isocalendar()[1]:02d}"
    earlier = later.button[0].click().run()
    assert earlier.selectbox(key="week").value == test.selectbox(key="week").value
    assert metrics(earlier)["Visitors"] == shown["Visitors"]


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
def test_zones_page_names_the_aps_without_a_floor_position(simulated_shop: Shop) -> None:
    unplaced = '\n[[aps]]\nmac = "88:dc:96:10:00:99"\nname = "Back office AP"\n'
    simulated_shop.config.write_text(simulated_shop.config.read_text() + unplaced)
    test = app("zones")
    assert_clean(test)
    notes = [info.value for info in test.info]
    assert any(note.startswith("No floor position for: Back office AP. Set `x` and `y`") for note in notes), notes
    assert len(test.get("vega_lite_chart")) == 5  # the plan is drawn from the APs that have positions


@pytest.mark.slow
def test_zones_page_without_floor_positions_says_so_instead_of_an_empty_plan(simulated_shop: Shop) -> None:
    config = simulated_shop.config.read_text()
    simulated_shop.config.write_text(re.sub(r"^[xy] = .*$", "", config, flags=re.MULTILINE))
    test = app("zones")
    assert_clean(test)
    [note] = [info.value for info in test.info if "floor position" in info.value]
    assert note.startswith("No access point (Back, Checkout, Entrance, Fitting rooms) has a floor position")
    assert len(test.get("vega_lite_chart")) == 4  # the zone charts, no floor plan


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
    # Every zone has its card, an empty one showing 0, busiest first (the order a phone stacks them in).
    cards = [(metric.label, int(metric.value)) for metric in test.metric if metric.label != "In the store now"]
    assert {label for label, _ in cards} >= set(per_zone.index)
    assert [count for _, count in cards] == sorted((count for _, count in cards), reverse=True)
    assert {ap.name for ap in settings.access_points.values()} >= {label for label, _ in cards}
    assert len(charts_shown(test)["Visitors inside, last hours vs typical"]) > 0
    assert len(test.get("popover")) == 1  # the chart's Download menu, as every chart has


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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "options"), [({}, ()), ({"ssid": "Guest"}, ("--ssid", "Guest"))], ids=["no-filter", "ssid"]
)
def test_visitor_charts_show_what_the_report_counts(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str], query: dict, options: tuple[str, ...]
) -> None:
    """The data behind each chart of the Visitors page, on the default view and filtered: not empty, and the
    `presence report` figures it restates (two charts were empty on the default view while every test passed)."""
    first, last = default_days(simulated_shop)
    test = app("visitors", **query)
    assert_clean(test)
    report = cli_report(capsys, first, last, *options)
    shown = charts_shown(test)

    proximity = shown["Passersby, visitors and connected"]  # Meraki's "Proximity": all three, per day
    for series, key in (("Passersby", "passersby"), ("Visitors", "visitors"), ("Connected", "connected")):
        line = proximity.loc[proximity["series"] == series, "people"].astype(int).tolist()
        assert line == [day[key] for day in report["daily"]], series
    per_day = shown["Visitors per day"]
    assert per_day["Visitors"].astype(int).tolist() == [day["visitors"] for day in report["daily"]]
    assert per_day["passersby"].astype(int).tolist() == [day["passersby"] for day in report["daily"]]
    makers = shown["Visitors by phone manufacturer"]
    assert "Apple" in set(makers["value"])
    unknown = report["visitors"] - int(makers["visitors"].sum())  # each visitor's phone has one manufacturer
    assert 0 <= unknown < report["visitors"]
    networks = shown["Visitors by Wi-Fi network joined"]
    assert len(networks) > 0  # connected through an EnGenius AP names no SSID, so not every connected visitor shows
    assert 0 < int(networks["visitors"].max()) <= report["connected"]
    assert int(shown["How long visits lasted"]["visits"].sum()) == sum(report["dwell_buckets"].values())


@pytest.mark.slow
def test_zone_and_trend_charts_show_occupancy_and_positions(simulated_shop: Shop, capsys) -> None:
    first, last = default_days(simulated_shop)
    report = cli_report(capsys, first, last)
    zones = charts_shown(app("zones"))
    floor = zones["Floor: access points (squares) and estimated visit positions (dots)"]
    assert len(floor) > 0  # the visits' estimated positions, not only the APs
    trends = charts_shown(app("trends"))
    busy = trends["Busy hours: mean visitors inside per hour of the week"]
    # Mean occupancy: never above the highest number of visitors inside at once in these days.
    assert 0 < busy["visitors"].max() <= report["peak_occupancy"]["count"]


@pytest.mark.slow
def test_the_visits_csv_is_presence_export_visits(simulated_shop: Shop, capsys) -> None:
    first, last = default_days(simulated_shop)
    src = data.Source.from_settings(Settings.from_env())
    downloaded = products.visits_csv(src, first, last, Filters(), ("passerby", "staff", "visitor"))
    capsys.readouterr()
    assert cli.main(["export", "visits", "--from", first.isoformat(), "--to", last.isoformat()]) == 0
    exported = capsys.readouterr().out
    assert downloaded.decode() == exported
    assert exported.count("\n") > 100


@pytest.mark.slow
def test_a_shared_link_whose_filter_matches_nothing_says_so(simulated_shop: Shop) -> None:
    test = app("live", ap="Basement", maker="Nokia")  # the page a shared link opens first
    assert_clean(test)
    warned = " ".join(warning.value for warning in test.warning)
    assert "access point “Basement”" in warned
    assert "manufacturer “Nokia”" in warned
    assert "matches nothing" in warned


@pytest.mark.slow
def test_reversed_dates_in_a_link_are_refused_not_shown_as_zero(simulated_shop: Shop, capsys) -> None:
    first, last = default_days(simulated_shop)
    test = app("visitors", dates=[last.isoformat(), first.isoformat()])  # the end before the start
    assert_clean(test)
    assert any("end" in warning.value and "before they start" in warning.value for warning in test.warning)
    assert metrics(test)["Visitors"][0] == f"{cli_report(capsys, first, last)['visitors']:,}"


def test_a_zero_change_is_neutral_and_an_empty_chart_says_no_data() -> None:
    assert ui.delta(120, 120, "count") == "±0"
    assert ui.delta(0.25, 0.25, "percent") == "±0.0 pp"
    assert ui.unchanged("±0")
    assert ui.unchanged("+0.0 min")
    assert not ui.unchanged("+1")
    script = AppTest.from_string(
        "import altair as alt, pandas as pd\n"
        "from app.dashboard import ui\n"
        "frame = pd.DataFrame({'a': pd.Series(dtype='float64')})\n"
        "ui.chart(alt.Chart(frame).mark_bar().encode(x='a').properties(title='Visitors per day'), frame, 'v')\n"
        "ui.kpi('Visitors', 120, 120)\n"
    ).run()
    assert not script.exception
    assert [info.value for info in script.info] == ["No data for “Visitors per day” with these days and filters."]
    assert script.get("vega_lite_chart") == []
    zero = script.metric[0].proto
    shown = (zero.delta, type(zero).MetricDirection.Name(zero.direction), type(zero).MetricColor.Name(zero.color))
    assert shown == ("±0", "NONE", "GRAY")


@pytest.mark.slow
def test_one_day_shows_proximity_hour_by_hour(simulated_shop: Shop, capsys) -> None:
    _, last = default_days(simulated_shop)
    test = app("visitors", dates=[last.isoformat(), last.isoformat()])
    assert_clean(test)
    report = cli_report(capsys, last, last)
    hourly = charts_shown(test)["Passersby, visitors and connected, per hour"]
    assert len(hourly) == 3 * 24
    visitors = hourly.loc[hourly["series"] == "Visitors", "people"]
    # Each visitor counted in the hour its visit started: a day's visitors, hour by hour (none twice in a day
    # unless it came back in another hour).
    assert 0 < visitors.max() <= report["visitors"] <= visitors.sum()
    assert hourly.loc[hourly["series"] == "Passersby", "people"].sum() >= report["passersby"] > 0
