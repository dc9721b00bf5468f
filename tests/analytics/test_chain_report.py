"""A chain of sites in two time zones, end to end: posts of three shops -> stored visits -> reports per site, per
group and for the chain, each site on its own local days; stored and naive equal; SQLite and PostgreSQL.

Shop 002 is in New York, the others in Amsterdam. Its Monday starts six hours after theirs, so a report of
"Monday" counts each shop's own Monday, and the chain's figures are the sum of the sites'.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from analytics.filters import Filters
from analytics.report import report, site_reports
from analytics.settings import AnalyticsSettings
from analytics.site_table import site_table, table_of
from app import cli
from app.commands import export
from app.commands.export import window_analysis, window_site_tallies
from app.commands.status import status
from config.settings import Settings
from simulator.backfill import backfill_shops
from simulator.chain import chain, config_toml
from store import db, frames
from store.models import Observation
from store.observations import store_observations
from store.visits import refresh_visits
from tests.conftest import fresh_postgres_schema, make_settings

pytestmark = pytest.mark.slow

BASE = "Europe/Amsterdam"
FIRST_DAY = date(2026, 11, 2)  # a Monday
DAYS = 4
WINDOW = (FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2))
SITES = chain(3, seed=11, timezone=BASE)  # Shop 002 is in New York


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def installation(request, tmp_path_factory) -> dict[str, str]:
    directory: Path = tmp_path_factory.mktemp("chain")
    config = directory / "presence.toml"
    text = config_toml(SITES)
    # Capacity for the status check: Shop 001 holds few people.
    text = text.replace('name = "Shop 001"\n', 'name = "Shop 001"\ncapacity = 3\n', 1)
    config.write_text(text)
    env = {"PRESENCE_CONFIG": str(config), "PRESENCE_TIMEZONE": BASE}
    if request.param == "sqlite":
        env["PRESENCE_DATABASE_URL"] = f"sqlite:///{directory / 'presence.db'}"
        yield _built(directory, env)
        return
    with fresh_postgres_schema() as url:
        env["PRESENCE_DATABASE_URL"] = url
        yield _built(directory, env)


def _built(directory: Path, env: dict[str, str]) -> dict[str, str]:
    settings = make_settings(directory, **env)
    start = datetime(2026, 11, 1, 22, tzinfo=UTC)  # Amsterdam's Monday begins at 23:00 UTC
    backfill_shops(
        settings, start, start + timedelta(days=DAYS), [(site.shop, site.seed) for site in SITES], processes=1
    )
    engine = db.make_engine(settings.database_url)
    coming_back_the_same_day(engine)
    refresh_visits(engine, settings)
    engine.dispose()
    return {"PRESENCE_DATA_DIR": str(directory / "data"), **env}


def coming_back_the_same_day(engine, devices: int = 40) -> None:
    """Some shoppers come back later the same day, which the simulator's never do: the observations of the first
    `devices` devices heard strongly on the window's first morning, again four hours later (a day's repeat
    visits, which every figure counts once a day)."""
    table = Observation.__table__
    morning = datetime.combine(WINDOW[0], datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    span = (table.c.first_seen >= morning, table.c.first_seen < morning + timedelta(hours=2))
    with engine.connect() as connection:
        chosen = select(table.c.device).where(*span, table.c.rssi_max >= -60).distinct().order_by(table.c.device)
        wanted = list(connection.execute(chosen.limit(devices)).scalars())
        rows = [
            dict(row._mapping) for row in connection.execute(select(table).where(*span, table.c.device.in_(wanted)))
        ]
    later = timedelta(hours=4)
    for row in rows:
        row.pop("id")
        row.update(first_seen=row["first_seen"] + later, last_seen=row["last_seen"] + later)
        row["dedupe_key"] = hashlib.md5(row["dedupe_key"] + b"again").digest()
    assert len(wanted) == devices
    assert store_observations(engine, rows).stored == len(rows)


def settings_of(env: dict[str, str]) -> Settings:
    return make_settings(Path(env["PRESENCE_DATA_DIR"]).parent, **env)


def analysis(env: dict[str, str], filters: Filters | None = None, *, naive: bool = False):
    return window_analysis(
        settings_of(env),
        AnalyticsSettings(),
        None,
        None,
        filters or Filters(),
        naive=naive,
        dates=WINDOW,
        per_site=True,
    )  # type: ignore[arg-type]


def without_zones(result: dict) -> dict:
    """A report without its zone figures: the naive pipeline fits its own zone model on the window."""
    trimmed = {key: value for key, value in result.items() if key != "zones"}
    if "sites" in trimmed:
        trimmed["sites"] = [without_zones(entry) for entry in trimmed["sites"]]
    return trimmed


def test_each_site_counts_its_own_local_days(installation):
    settings = settings_of(installation)
    whole = analysis(installation)
    assert whole.sites() == ["Shop 001", "Shop 002", "Shop 003"]
    new_york = whole.for_site("Shop 002")
    assert str(new_york.tz) == "America/New_York"
    # Every counted visit of the New York shop started on its own Tuesday or Wednesday, New York time.
    local = new_york.window_visits["first_seen"].dt.tz_convert("America/New_York").dt.date
    assert set(local) == {WINDOW[0], WINDOW[1]}
    amsterdam = whole.for_site("Shop 001").window_visits["first_seen"].dt.tz_convert(BASE).dt.date
    assert set(amsterdam) == {WINDOW[0], WINDOW[1]}
    # A visit that started at 01:00 Amsterdam on Tuesday is Monday evening in New York: not in New York's window.
    start_ny = pd.Timestamp(datetime.combine(WINDOW[0], datetime.min.time()), tz="America/New_York")
    assert (new_york.window_visits["first_seen"] >= start_ny).all()
    assert settings.site("Shop 002").timezone == "America/New_York"


def test_the_chain_adds_up_its_sites(installation):
    whole = analysis(installation)
    total, sites = report(whole), site_reports(whole)
    assert len(sites) == 3
    assert all(entry["visitors"] > 20 for entry in sites)
    for key in ("visitors", "passersby", "connected", "staff", "visits", "repeat_visitors", "new_visitors"):
        assert total[key] == sum(entry[key] for entry in sites), key
    for day, row in enumerate(total["daily"]):
        for key in ("visitors", "passersby", "connected"):
            assert row[key] == sum(entry["daily"][day][key] for entry in sites), (row["date"], key)
        # The most inside at once: at least any one site's peak, at most their sum (peaks need not coincide).
        peaks = [entry["daily"][day]["peak_occupancy"] for entry in sites]
        assert max(peaks) <= row["peak_occupancy"] <= sum(peaks)
    for name in total["loyalty"]:
        assert total["loyalty"][name] == sum(entry["loyalty"][name] for entry in sites)


def test_a_site_alone_is_the_same_as_its_entry_in_the_chain(installation):
    whole = {entry["site"]: entry for entry in site_reports(analysis(installation))}
    for name in ("Shop 001", "Shop 002"):
        alone = report(analysis(installation, Filters(sites=(name,))))
        entry = {key: value for key, value in whole[name].items() if key != "site"}
        assert alone == entry, name


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(sites=("Shop 002",)),
        Filters(sites=("Shop 001", "Shop 002")),
        Filters(open_hours=True),
        Filters(sites=("Shop 002",), ssid="guest"),
    ],
    ids=["chain", "new-york", "two-sites", "open-hours", "site+ssid"],
)
def test_stored_visits_equal_the_naive_pipeline(installation, filters):
    fast, naive = analysis(installation, filters), analysis(installation, filters, naive=True)
    assert without_zones(report(fast)) == without_zones(report(naive))
    if len(fast.sites()) > 1:
        assert [without_zones(entry) for entry in site_reports(fast)] == [
            without_zones(entry) for entry in site_reports(naive)
        ]


def test_opening_hours_keep_only_visits_that_start_while_the_site_is_open(installation):
    settings = settings_of(installation)
    everything, open_only = analysis(installation), analysis(installation, Filters(open_hours=True))
    kept = open_only.window_visits
    assert len(kept)
    assert report(open_only)["passersby"] < report(everything)["passersby"]  # the night's passersby are gone
    for name in ("Shop 001", "Shop 002"):
        site = settings.site(name)
        starts = kept.loc[kept["site"] == name, "first_seen"]
        assert len(starts)
        assert all(site.open_at(moment.to_pydatetime()) for moment in starts)


def run_cli(capsys, env, monkeypatch, *args: str) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_json_lists_the_sites_and_a_group_narrows_it(installation, capsys, monkeypatch):
    window = ("--from", WINDOW[0].isoformat(), "--to", WINDOW[1].isoformat(), "--format", "json")
    code, out, _ = run_cli(capsys, installation, monkeypatch, "report", *window)
    chain_report = json.loads(out)
    assert code == 0
    assert [entry["site"] for entry in chain_report["sites"]] == ["Shop 001", "Shop 002", "Shop 003"]
    assert chain_report["sites"][1]["timezone"] == "America/New_York"
    assert chain_report["sites"][1]["group"] == "US East"
    code, out, _ = run_cli(capsys, installation, monkeypatch, "report", *window, "--group", "us east")
    group = json.loads(out)
    assert code == 0
    assert "sites" not in group  # one site in scope
    assert group["visitors"] == chain_report["sites"][1]["visitors"]
    assert group["filters"]["sites"] == ["Shop 002"]
    text_window = (*window[:-2], "--format", "text")
    code, out, _ = run_cli(capsys, installation, monkeypatch, "report", *text_window)
    new_york = chain_report["sites"][1]
    assert code == 0
    assert any(line.split()[:4] == ["Shop", "002", str(new_york["visitors"]), str(new_york["passersby"])]
               for line in out.splitlines())  # fmt: skip
    code, out, _ = run_cli(capsys, installation, monkeypatch, "report", *window[:-2], "--format", "csv")
    assert code == 0
    assert f"sites.Shop 002.visitors,{new_york['visitors']}" in out.splitlines()
    assert "sites.Shop 002.filters.sites,Shop 002" in out.splitlines()
    code, _, err = run_cli(capsys, installation, monkeypatch, "report", *window, "--site", "Atlantis")
    assert code == 2
    assert "no site 'Atlantis'; known sites: Shop 001, Shop 002, Shop 003" in err
    code, _, err = run_cli(capsys, installation, monkeypatch, "report", *window, "--group", "Mars")
    assert code == 2
    assert "no group 'Mars'" in err
    assert "US East" in err


def test_presence_sites_lists_each_site(installation, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, installation, monkeypatch, "sites", "--format", "json")
    rows = {row["site"]: row for row in json.loads(out)}
    assert code == 0
    assert list(rows) == ["Shop 001", "Shop 002", "Shop 003"]
    assert rows["Shop 002"]["timezone"] == "America/New_York"
    assert rows["Shop 002"]["group"] == "US East"
    assert rows["Shop 001"]["capacity"] == 3
    assert rows["Shop 001"]["aps"] == sorted(ap.name for ap in SITES[0].shop.aps)
    assert rows["Shop 001"]["aps_reported"] == 4
    assert rows["Shop 001"]["last_report_at"]
    assert rows["Shop 001"]["hours"] == "Mon-Sat 09:00-20:00, Sun 11:00-17:00"
    code, out, _ = run_cli(capsys, installation, monkeypatch, "sites")
    assert code == 0
    assert "America/New_York" in out
    assert "4 of 4" in out


def test_status_reports_a_site_over_capacity(installation):
    settings = settings_of(installation)
    busy = datetime(2026, 11, 4, 16, 0, tzinfo=UTC)  # Wednesday 17:00 in Amsterdam
    result = status(settings, timedelta(days=365), busy)
    (row,) = result["capacity"]
    assert row["site"] == "Shop 001"
    assert row["capacity"] == 3
    whole = window_analysis(
        settings, AnalyticsSettings(), busy - timedelta(hours=6), busy, Filters(sites=("Shop 001",)), complete=True
    )
    from analytics.report import live_occupancy

    assert row["inside"] == live_occupancy(whole, busy)[0] >= 3
    assert row["over"]
    assert result["over_capacity"] == 1
    quiet = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)  # 04:00 in Amsterdam: closed
    assert status(settings, timedelta(days=365), quiet)["over_capacity"] == 0
    assert status(replace(settings), timedelta(days=365), busy, ("Shop 002",))["capacity"] == []


def test_the_weekly_report_has_each_site_and_narrows_to_one(installation):
    from app.weekly_report import week_figures, weekly_report_html

    settings = settings_of(installation)
    monday = FIRST_DAY
    page = weekly_report_html(settings, monday)
    week = site_reports(week_figures(settings, AnalyticsSettings(), monday).analysis)
    assert "<h2>Sites</h2>" in page
    for entry in week:
        assert f"<tr><th>{entry['site']}</th><td>{entry['visitors']:,}</td><td>{entry['passersby']:,}</td>" in page
    alone = weekly_report_html(settings, monday, sites=("Shop 002",))
    assert "<h2>Sites</h2>" not in alone
    assert "--site &#x27;Shop 002&#x27;" in alone
    visitors = report(week_figures(settings, AnalyticsSettings(), monday, ("Shop 002",)).analysis)["visitors"]
    assert visitors == week[1]["visitors"]
    assert f"<td class='value'>{visitors:,}</td>" in alone


HEADLINE = ("visitors", "passersby", "connected", "staff", "capture_rate", "repeat_visitors")


def headline(result: dict) -> dict:
    """What analytics.site_table computes of a report: the Sites page's figures, and each day's visitors."""
    return {
        **{key: result[key] for key in HEADLINE},
        "dwell_minutes": {"median": result["dwell_minutes"]["median"]},
        "daily": [{"date": day["date"], "visitors": day["visitors"]} for day in result["daily"]],
    }


@pytest.mark.parametrize(
    "filters",
    [Filters(), Filters(sites=("Shop 001", "Shop 002")), Filters(sites=("Shop 002",)), Filters(open_hours=True)],
    ids=["chain", "two-sites", "new-york", "open-hours"],
)
def test_the_sites_figures_in_one_pass_are_each_sites_report(installation, filters):
    """analytics.site_table (the Sites page) gives each site's, each group's and the chain's figures of the window
    and of the period before, equal to their reports: of `for_site` (`--site`), of `--group` and of the whole."""
    settings = settings_of(installation)
    scope = list(filters.sites) or [site.name for site in SITES]
    groups = {group: [site for site in members if site in scope] for group, members in settings.groups().items()}
    groups = {group: members for group, members in groups.items() if members}
    assert len(groups) == (1 if scope == ["Shop 002"] else 2)  # Europe and US East: Amsterdam and New York days
    length = (WINDOW[1] - WINDOW[0]).days + 1
    before = (WINDOW[0] - timedelta(days=length), WINDOW[0] - timedelta(days=1))
    for dates in (WINDOW, before):
        whole = window_analysis(settings, AnalyticsSettings(), None, None, filters, dates=dates, per_site=True)  # type: ignore[arg-type]
        table = site_table(whole, scope, groups)
        assert list(table.sites) == scope
        for site in scope:
            expected = report(whole.for_site(site)) if len(scope) > 1 else report(whole)
            assert table.sites[site] == headline(expected), (dates, site)
            assert table.sites[site]["visitors"] > 0, (dates, site)  # the period before has data too
        assert table.total == headline(report(whole)), dates
        assert list(table.groups) == list(groups)
        for group, members in groups.items():
            alone = window_analysis(
                settings, AnalyticsSettings(), None, None, replace(filters, sites=tuple(members)), dates=dates
            )  # type: ignore[arg-type]
            assert table.groups[group] == headline(report(alone)), (dates, group)
            for key in ("visitors", "passersby", "connected", "staff", "repeat_visitors"):
                assert table.groups[group][key] == sum(table.sites[site][key] for site in members), (dates, key)


def test_the_sites_figures_of_a_site_without_visits_are_zero(installation):
    whole = analysis(installation)
    table = site_table(whole, ["Shop 001", "Shop 009"], {"Nowhere": ["Shop 009"]})
    nothing = {
        **dict.fromkeys(("visitors", "passersby", "connected", "staff", "repeat_visitors"), 0),
        "capture_rate": None,
        "dwell_minutes": {"median": None},
        "daily": [{"date": day.isoformat(), "visitors": 0} for day in WINDOW],
    }
    assert table.sites["Shop 009"] == nothing
    assert table.groups["Nowhere"] == nothing
    assert table.sites["Shop 001"] == headline(report(whole.for_site("Shop 001")))


def test_the_sites_figures_count_passersby_from_the_visits_when_every_visit_is_loaded(installation):
    """With every visit of the window loaded (`complete`, as opening hours once were) there are no device counts:
    the passersby are counted from the visits, as report() counts them."""
    settings = settings_of(installation)
    whole = window_analysis(settings, AnalyticsSettings(), None, None, Filters(), complete=True, dates=WINDOW)  # type: ignore[arg-type]
    assert whole.device_counts is None
    scope = [site.name for site in SITES]
    table = site_table(whole, scope, {"Europe": ["Shop 001", "Shop 003"]})
    for site in scope:
        assert table.sites[site] == headline(report(whole.for_site(site))), site
        assert table.sites[site]["passersby"] > 0, site
    assert table.total == headline(report(whole))
    europe = window_analysis(
        settings, AnalyticsSettings(), None, None, Filters(sites=("Shop 001", "Shop 003")), complete=True, dates=WINDOW
    )  # type: ignore[arg-type]
    assert table.groups["Europe"] == headline(report(europe))


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(sites=("Shop 001", "Shop 002")),
        Filters(sites=("Shop 002",)),
        Filters(open_hours=True),
        Filters(ssid="guest"),
        Filters(ssid="staff", sites=("Shop 001", "Shop 003")),
        Filters(exclude_randomized=True, open_hours=True),
    ],
    ids=["chain", "two-sites", "new-york", "open-hours", "guest", "staff-ssid", "not-randomized-open"],
)
def test_the_sites_figures_counted_in_the_database_are_those_of_the_analysis(installation, filters, monkeypatch):
    """store.site_figures (the Sites page) counts in the database, without loading the window's visits, exactly
    the figures analytics.site_table takes from the analysis: of every site, group and the whole, both periods."""
    assert_counted_as_analysed(installation, filters, AnalyticsSettings(), monkeypatch)


@pytest.mark.parametrize("filters", [Filters(), Filters(ssid="guest")], ids=["chain", "guest"])
def test_the_sites_figures_counted_with_other_thresholds_are_those_of_the_analysis(installation, filters, monkeypatch):
    """With thresholds under which passersby qualify too (a minute, -90 dBm: the visits are read without the
    partial index) many devices make several visits a day: each counts once a day and once a site."""
    loose = replace(AnalyticsSettings(), min_dwell=timedelta(minutes=1), visitor_rssi_dbm=-90.0, staff_min_days=2)
    assert_counted_as_analysed(installation, filters, loose, monkeypatch)


def assert_counted_as_analysed(installation, filters: Filters, thresholds: AnalyticsSettings, monkeypatch) -> None:
    settings = settings_of(installation)
    scope = list(filters.sites) or [site.name for site in SITES]
    groups = {group: [site for site in members if site in scope] for group, members in settings.groups().items()}
    groups = {group: members for group, members in groups.items() if members}
    length = (WINDOW[1] - WINDOW[0]).days + 1
    before = (WINDOW[0] - timedelta(days=length), WINDOW[0] - timedelta(days=1))
    with monkeypatch.context() as patched:  # counted from the stored visits: no analysis to fall back on
        patched.setattr(export, "window_analysis", lambda *args, **kwargs: pytest.fail("fell back"))
        both = window_site_tallies(settings, thresholds, [WINDOW, before], filters)
    for dates, counted in zip((WINDOW, before), both, strict=True):
        whole = window_analysis(settings, thresholds, None, None, filters, dates=dates, per_site=True)  # type: ignore[arg-type]
        expected = site_table(whole, scope, groups)
        assert table_of(counted, scope, groups, whole.days) == expected, dates
        assert sum(row["visitors"] for row in expected.sites.values()) > 0, dates
    if filters == Filters():  # a site without visits, and a group of it: zero, and a day row for each day
        table = table_of(counted, ["Shop 001", "Shop 009"], {"Nowhere": ["Shop 009"]}, whole.days)
        assert table.sites["Shop 009"]["visitors"] == 0
        assert table.groups["Nowhere"]["daily"] == [{"date": day.isoformat(), "visitors": 0} for day in before]


def test_the_sites_figures_fall_back_to_the_analysis_when_sql_cannot_count_them(installation, monkeypatch):
    """Opening hours of more open spans than one query takes (a long window of many clocks) are applied to loaded
    visits: the Sites page's figures then come from the analysis, and are the same."""
    settings = settings_of(installation)
    filters = Filters(open_hours=True)
    scope = [site.name for site in SITES]
    whole = window_analysis(settings, AnalyticsSettings(), None, None, filters, dates=WINDOW, per_site=True)  # type: ignore[arg-type]
    expected = site_table(whole, scope)
    analysed = []

    def window_analysis_seen(*args, **kwargs):
        analysed.append(kwargs["dates"])
        return window_analysis(*args, **kwargs)

    monkeypatch.setattr(frames, "MAX_OPEN_SPANS", 1)
    monkeypatch.setattr(export, "window_analysis", window_analysis_seen)
    (fallen_back,) = window_site_tallies(settings, AnalyticsSettings(), [WINDOW], filters)
    assert analysed == [WINDOW]
    assert table_of(fallen_back, scope, {}, whole.days) == expected
    assert sum(row["visitors"] for row in expected.sites.values()) > 0


def test_the_sites_figures_of_a_filter_that_matches_nothing_are_zero(installation):
    """An SSID nobody joined: every site's figures are zero (with its devices seen, none), not an error."""
    settings = settings_of(installation)
    filters = Filters(ssid="no such network")
    scope = [site.name for site in SITES]
    (counted,) = window_site_tallies(settings, AnalyticsSettings(), [WINDOW], filters)
    whole = window_analysis(settings, AnalyticsSettings(), None, None, filters, dates=WINDOW, per_site=True)  # type: ignore[arg-type]
    table = table_of(counted, scope, {}, whole.days)
    assert table == site_table(whole, scope)
    assert table.total["visitors"] == table.total["passersby"] == 0
    assert table.total["daily"] == [{"date": day.isoformat(), "visitors": 0} for day in WINDOW]
