"""A chain in the dashboard: three simulated shops in two time zones (`presence simulate --sites 3`), the site
selector, the Sites page, Live for one site and for several, capacity; every figure held to `presence report
--site/--group` for the same days."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analytics.zones
from analytics.occupancy import live_occupancy
from analytics.report import analyse
from analytics.settings import AnalyticsSettings
from app import cli
from app.dashboard import data, filters, products, tables, ui
from config.settings import Settings
from store import db
from store.frames import load_observations
from store.sites import clocks_of
from store.visits import visits_watermark
from tests.dashboard.conftest import PRESENCE, PRESENCE_VARIABLES, clean_env
from tests.dashboard.test_pages import app, assert_clean, cli_report

pytestmark = pytest.mark.slow

SEED = 20261116
DAYS = 15  # the period before the default week lies wholly within the data, whatever the time of day
TIMEZONE = "Europe/Amsterdam"  # Shop 001 and Shop 003 ("Europe"); Shop 002 is in New York ("US East")
SITES = ("Shop 001", "Shop 002", "Shop 003")
GROUPS = {"Europe": ["Shop 001", "Shop 003"], "US East": ["Shop 002"]}
NEVER_REPORTED = '\n[[aps]]\nmac = "02:00:00:00:02:99"\nname = "Stockroom"\nsite = "Shop 002"\n'
FIGURES = {  # the Sites table's column -> how to read it from a report, and its scale on the page
    "visitors": (lambda report: report["visitors"], 1),
    "passersby": (lambda report: report["passersby"], 1),
    "capture_rate": (lambda report: report["capture_rate"], 100),  # shown in percent
    "median_dwell_minutes": (lambda report: report["dwell_minutes"]["median"], 1),
    "repeat_visitors": (lambda report: report["repeat_visitors"], 1),
}


@dataclass(frozen=True)
class Chain:
    """A data directory holding a simulated chain: its database and the presence.toml `--sites` wrote there."""

    data_dir: Path

    @property
    def config(self) -> Path:
        return self.data_dir / "presence.toml"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PRESENCE_DATA_DIR": str(self.data_dir),
            "PRESENCE_TIMEZONE": TIMEZONE,
            "PRESENCE_SQLITE_SYNCHRONOUS": "OFF",
        }

    def set_capacity(self, capacities: dict[str, int]) -> None:
        """Give sites a `capacity` in their [[sites]] entries."""
        text = self.config.read_text()
        for site, capacity in capacities.items():
            text = text.replace(f'name = "{site}"\n', f'name = "{site}"\ncapacity = {capacity}\n', 1)
        self.config.write_text(text)


def build_chain(root: Path) -> Chain:
    """DAYS of a simulated chain of three shops up to now, by `presence simulate --sites 3`, with its stored
    visits brought up to date (one report) as a live installation has them."""
    chain = Chain(root / "data")
    env = {**clean_env(), **chain.env}
    subprocess.run(
        [PRESENCE, "simulate", "--sites", "3", "--days", str(DAYS), "--seed", str(SEED)],
        env=env,
        check=True,
        capture_output=True,
    )
    today = datetime.now(UTC).date()
    subprocess.run(
        [PRESENCE, "report", "--from", str(today - timedelta(days=1)), "--to", str(today), "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return chain


@pytest.fixture(scope="session")
def chain_template(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The simulated chain, made once per session (never written again)."""
    return build_chain(tmp_path_factory.mktemp("simulated-chain"))


@pytest.fixture
def chain(chain_template: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Chain:
    """A private copy of the chain, with an AP configured at Shop 002 that never reported, and the environment
    set for in-process runs (AppTest, CLI)."""
    copy = Chain(tmp_path / "data")
    shutil.copytree(chain_template.data_dir, copy.data_dir)
    copy.config.write_text(copy.config.read_text() + NEVER_REPORTED)
    for key in PRESENCE_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in copy.env.items():
        monkeypatch.setenv(key, value)
    return copy


def default_days() -> tuple[date, date]:
    """The sidebar's default range: the last seven complete days (in the installation's time zone)."""
    src = data.Source.from_settings(Settings.from_env())
    held = data.span(src)
    return filters.default_range(held.first_day, held.last_day, data.today(src))


def previous_days(first: date, last: date) -> tuple[date, date]:
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)


def row_of(frame: pd.DataFrame, name: str) -> pd.Series:
    [row] = [row for _, row in frame.iterrows() if row["site"] == name]
    return row


def assert_row_is_report(row: pd.Series, now: dict, before: dict) -> None:
    """A Sites table row shows the report's figures, each with its change against the previous period's."""
    for column, (read, scale) in FIGURES.items():
        current, previous = read(now), read(before)
        shown, change = row[column], row[f"{column}_change"]
        if current is None:
            assert pd.isna(shown), column
        else:
            assert shown == pytest.approx(current * scale), column
        if current is None or previous is None:
            assert pd.isna(change), column
        else:
            assert change == pytest.approx((current - previous) * scale, abs=1e-9), column
    assert list(row["daily_visitors"]) == [day["visitors"] for day in now["daily"]]


def metrics(test: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in test.metric}


def shop_hours_moment() -> datetime:
    """The latest Monday to Saturday before today at 15:00 UTC: 16:00 in Amsterdam and 10:00 in New York, every
    shop open (on a Sunday New York opens at 11:00, after Amsterdam has closed)."""
    day = datetime.now(UTC).date() - timedelta(days=1)
    while day.weekday() == 6:
        day -= timedelta(days=1)
    return datetime.combine(day, time(15), tzinfo=UTC)


# --- the Sites page ----------------------------------------------------------------------------------------------


def test_the_sites_page_shows_each_sites_presence_report_against_the_period_before(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = default_days()
    test = app("sites")
    assert_clean(test)
    assert test.title[0].value == "Sites"
    table, groups = (frame.value for frame in test.dataframe)
    assert table["site"].tolist() == list(SITES)
    before_first, before_last = previous_days(first, last)
    reports = {}
    for site in SITES:
        now = cli_report(capsys, first, last, "--site", site)
        before = cli_report(capsys, before_first, before_last, "--site", site)
        assert now["visitors"] > 0  # the change columns compare two periods with visitors
        assert before["visitors"] > 0
        assert_row_is_report(row_of(table, site), now, before)
        assert len(row_of(table, site)["daily_visitors"]) == (last - first).days + 1
        reports[site] = now
    assert row_of(table, "Shop 002")["group"] == "US East"

    # Each group's subtotal is `presence report --group`, and adds its sites up; the total is the chain's report.
    for group, members in GROUPS.items():
        now = cli_report(capsys, first, last, "--group", group)
        before = cli_report(capsys, before_first, before_last, "--group", group)
        row = row_of(groups, group)
        assert_row_is_report(row, now, before)
        for column in ("visitors", "passersby", "repeat_visitors"):
            assert row[column] == sum(row_of(table, site)[column] for site in members), column
        daily = [
            sum(values) for values in zip(*(row_of(table, site)["daily_visitors"] for site in members), strict=True)
        ]
        assert list(row["daily_visitors"]) == daily
    total = row_of(groups, tables.ALL_SITES)
    assert_row_is_report(total, cli_report(capsys, first, last), cli_report(capsys, before_first, before_last))
    assert total["visitors"] == sum(report["visitors"] for report in reports.values())
    assert groups["site"].tolist() == [*GROUPS, tables.ALL_SITES]


def test_the_sites_csv_has_the_tables_figures_and_every_day(chain: Chain) -> None:
    first, last = default_days()
    src = data.Source.from_settings(Settings.from_env())
    view = products.sites_view(src, first, last, filters.Selection(first, last).filters)
    csv = tables.sites_csv(view.sites, view.groups, view.days)
    assert csv["row"].tolist() == ["site"] * 3 + ["group"] * 2 + ["total"]
    assert csv["site"].tolist() == [*SITES, *GROUPS, tables.ALL_SITES]
    days = [f"visitors {first + timedelta(days=n)}" for n in range((last - first).days + 1)]
    assert [column for column in csv.columns if column.startswith("visitors ")] == days
    for _, row in csv.iterrows():
        shown = pd.concat([view.sites, view.groups]).set_index("site").loc[row["site"]]
        assert row[days].astype(int).tolist() == list(shown["daily_visitors"])
        assert row["visitors"] == shown["visitors"]
        assert row["capture_rate"] == shown["capture_rate"]  # the report's unit, 0..1
    assert ui.csv(csv).decode().splitlines()[0].startswith("row,site,group,timezone,visitors,visitors_change")


def test_choosing_a_site_on_the_sites_page_opens_its_pages(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    first, last = default_days()
    test = app("sites")
    test.selectbox(key="open-site").select("Shop 003").run()
    test.button[0].click().run()
    assert_clean(test)
    assert test.title[0].value == "Visitors"
    assert test.sidebar.multiselect(key=filters.SITE).value == ["Shop 003"]
    assert test.query_params[filters.SITE] == "Shop 003"  # the link to share says so
    report = cli_report(capsys, first, last, "--site", "Shop 003")
    assert metrics(test)["Visitors"][0] == f"{report['visitors']:,}"


# --- the site selector -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ({filters.SITE: "Shop 002"}, ("--site", "Shop 002")),
        ({filters.SITE: ["Shop 001", "Shop 002"]}, ("--site", "Shop 001", "--site", "Shop 002")),
        ({filters.GROUP: "Europe"}, ("--group", "Europe")),
        ({filters.OPEN_HOURS: "true"}, ("--open-hours",)),
    ],
    ids=["one-site", "two-sites", "group", "open-hours"],
)
def test_the_selector_in_the_url_narrows_the_other_pages(
    chain: Chain, capsys: pytest.CaptureFixture[str], query: dict, options: tuple[str, ...]
) -> None:
    first, last = default_days()
    test = app("visitors", **query)
    assert_clean(test)
    report = cli_report(capsys, first, last, *options)
    previous = cli_report(capsys, *previous_days(first, last), *options)
    shown = metrics(test)
    assert report["visitors"] > 0
    assert shown["Visitors"] == (f"{report['visitors']:,}", ui.delta(report["visitors"], previous["visitors"], "count"))
    assert shown["Passersby"][0] == f"{report['passersby']:,}"
    assert shown["Capture rate"][0] == ui.percent(report["capture_rate"])
    assert shown["Median dwell"][0] == ui.minutes(report["dwell_minutes"]["median"])
    assert shown["Repeat visitors"][0] == f"{report['repeat_visitors']:,}"
    everything = cli_report(capsys, first, last)
    assert (report["visitors"], report["passersby"]) != (everything["visitors"], everything["passersby"])


def test_a_chosen_site_offers_only_its_own_access_points(chain: Chain) -> None:
    every = app("visitors").sidebar.selectbox(key=filters.AP).options
    assert "Entrance (88:dc:96:00:01:01)" in every  # every shop has an Entrance: told apart by MAC
    one = app("visitors", **{filters.SITE: "Shop 002"}).sidebar.selectbox(key=filters.AP).options
    assert sorted(one) == ["Back", "Checkout", "Entrance", "Fitting rooms", "Stockroom"]


def test_an_unknown_site_or_group_in_the_url_is_named_and_not_applied(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = default_days()
    test = app("live", **{filters.SITE: ["Shop 999", "Shop 002"], filters.GROUP: "Asia"})  # the page a link opens
    assert_clean(test)
    [warning] = [warning.value for warning in test.warning if "not known" in warning.value]
    assert "site “Shop 999”" in warning
    assert "group “Asia”" in warning
    assert "known sites: Shop 001, Shop 002, Shop 003" in warning
    # The known site of the link still applies; the unknown one is dropped, not shown as an empty site.
    assert test.sidebar.multiselect(key=filters.SITE).value == ["Shop 002"]
    test.switch_page("views/visitors.py").run()
    report = cli_report(capsys, first, last, "--site", "Shop 002")
    assert metrics(test)["Visitors"][0] == f"{report['visitors']:,}"


def test_the_selector_offers_sites_groups_and_opening_hours(chain: Chain) -> None:
    test = app("live")
    assert_clean(test)
    assert test.sidebar.multiselect(key=filters.SITE).options == list(SITES)
    assert test.sidebar.selectbox(key=filters.GROUP).options == list(GROUPS)
    assert test.sidebar.toggle(key=filters.OPEN_HOURS).label == "Opening hours only"


# --- Live --------------------------------------------------------------------------------------------------------


@pytest.fixture
def forbid_zone_fits(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Call it to make every k-means fit of a zone model fail the test (each is recorded in the list it returns):
    a live tick must only read the stored zone models."""
    fits: list[str] = []

    def forbidden(name: str):
        def fit(*args, **kwargs):
            fits.append(name)
            raise AssertionError(f"{name} was called: a zone model was fitted")

        return fit

    def forbid() -> list[str]:
        monkeypatch.setattr(analytics.zones, "fit_zones", forbidden("fit_zones"))
        monkeypatch.setattr(analytics.zones, "fit_site_zones", forbidden("fit_site_zones"))
        return fits

    return forbid


def naive_inside(now: datetime) -> dict[str, int]:
    """Visitors inside each site at `now`, as the analytics count them from the observations (what Live showed
    before it read the stored visits; `analyse` fits its own zone model)."""
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    start = now - timedelta(hours=6)
    try:
        observations = load_observations(engine, start, now, history=AnalyticsSettings().history)
    finally:
        engine.dispose()
    clocks = clocks_of(settings)
    analysis = analyse(observations, start, now, AnalyticsSettings(), None, UTC, settings.access_points, clocks)
    visits = analysis.visitor_visits
    return {
        site: live_occupancy(visits.loc[visits["site"] == site], now, AnalyticsSettings().live_window)[0]
        for site in SITES
    }


def test_live_for_several_sites_shows_each_site_against_typical_and_capacity(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, forbid_zone_fits: Callable[[], list[str]]
) -> None:
    now = shop_hours_moment()
    monkeypatch.setattr(data, "clock", lambda: now)
    expected = naive_inside(now)
    chain.set_capacity({"Shop 001": 4, "Shop 003": 400})
    fits = forbid_zone_fits()
    test = app("live")
    assert_clean(test)
    [table, aps] = [frame.value for frame in test.dataframe]
    assert table["site"].tolist() == list(SITES)
    inside = {site: int(row_of(table, site)["inside"]) for site in SITES}
    assert inside == expected
    assert all(count > 0 for count in inside.values()), inside
    assert metrics(test)["In the stores now"][0] == str(sum(inside.values()))
    shop1, shop2, shop3 = (row_of(table, site) for site in SITES)
    assert (shop1["capacity"], shop1["share"]) == (4, pytest.approx(inside["Shop 001"] / 4))
    assert pd.isna(shop2["capacity"])
    assert pd.isna(shop2["share"])
    assert shop3["share"] == pytest.approx(inside["Shop 003"] / 400)
    assert shop1["level"] == tables.capacity_level(inside["Shop 001"], 4)
    assert shop1["status"] == tables.CAPACITY_STATUS[shop1["level"]] != ""
    assert (shop3["level"], shop3["status"]) == ("ok", "")
    assert shop2["silent_aps"] == "Stockroom"  # configured, never reported
    assert shop1["silent_aps"] == shop3["silent_aps"] == ""
    assert all(value >= 0 for value in table["typical"]), table["typical"].tolist()
    assert set(aps["site"]) == set(SITES)
    # Each site's own Live page shows the same count.
    for site in SITES:
        one = app("live", **{filters.SITE: site})
        assert_clean(one)
        assert metrics(one)["In the store now"][0] == str(inside[site]), site
    assert fits == []


@pytest.mark.parametrize(
    ("capacity_of", "level", "badge"),
    [
        (lambda inside: inside * 10, "ok", ":green-badge[:material/check_circle: Below capacity]"),
        (lambda inside: math.floor(inside / 0.8), "near", ":orange-badge[:material/warning: Near capacity]"),
        (lambda inside: inside, "over", ":red-badge[:material/block: At or over capacity]"),
        (lambda inside: max(inside - 1, 1), "over", ":red-badge[:material/block: At or over capacity]"),
    ],
    ids=["below", "amber-from-80-percent", "red-at-100-percent", "red-above"],
)
def test_live_for_one_site_turns_amber_and_red_with_its_capacity(
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    forbid_zone_fits: Callable[[], list[str]],
    capacity_of: Callable[[int], int],
    level: str,
    badge: str,
) -> None:
    now = shop_hours_moment()
    monkeypatch.setattr(data, "clock", lambda: now)
    inside = naive_inside(now)["Shop 001"]
    assert inside >= 5  # so that 80 % and 100 % are different counts
    capacity = capacity_of(inside)
    chain.set_capacity({"Shop 001": capacity})
    fits = forbid_zone_fits()
    test = app("live", **{filters.SITE: "Shop 001"})
    assert_clean(test)
    assert [header.value for header in test.main.subheader][:1] == ["Shop 001"]
    shown = metrics(test)
    assert shown["In the store now"][0] == str(inside)
    assert shown["Capacity used"][0] == f"{inside / capacity * 100:.0f} %"
    assert tables.capacity_level(inside, capacity) == level
    assert [block.value for block in test.markdown if "-badge[" in block.value] == [badge]
    assert fits == []


def test_capacity_thresholds() -> None:
    assert tables.capacity_level(7, None) is None
    shares = [tables.capacity_level(inside, 100) for inside in (0, 79, 80, 99, 100, 130)]
    assert shares == ["ok", "ok", "near", "near", "over", "over"]
    assert tables.capacity_share(30, 120) == 0.25


def test_the_guard_fails_when_a_zone_model_is_fitted(chain: Chain, forbid_zone_fits: Callable[[], list[str]]) -> None:
    """The guard of the Live tests can fail: working visits out from the observations fits a zone model."""
    fits = forbid_zone_fits()
    with pytest.raises(AssertionError, match="a zone model was fitted"):
        naive_inside(shop_hours_moment())
    assert fits == ["fit_zones"]


def test_a_live_tick_merges_new_observations_without_fitting_a_zone_model(
    chain: Chain, forbid_zone_fits: Callable[[], list[str]]
) -> None:
    """Observations that arrived since the last refresh are merged into the stored visits by the tick itself,
    zoned by the stored models."""
    settings = Settings.from_env()
    before = watermark(settings)
    # A quarter of an hour more of the chain's traffic, up to now (its config rewritten as --sites writes it).
    assert cli.main(["simulate", "--sites", "3", "--days", "0.01", "--seed", str(SEED + 1)]) == 0
    fits = forbid_zone_fits()
    test = app("live")
    assert_clean(test)
    assert watermark(settings) > before
    assert fits == []


def watermark(settings: Settings) -> int:
    engine = db.make_engine(settings.database_url)
    try:
        return visits_watermark(engine) or 0
    finally:
        engine.dispose()
