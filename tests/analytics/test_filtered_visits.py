"""Every filter, and two combined, answered from the stored visits gives the `--naive` pipeline's report.

Two simulated scenarios (the mixed vendors with one seed, Aerohive alone with another), on SQLite and on
PostgreSQL: the report of each filter from `store.frames.load_visits` (conditions in SQL, devices counted in the
database) equals `analytics.report.analyse` of the observations with the same filter, and so do the visit lists.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from analytics.filters import Filters
from analytics.report import Analysis, analyse, analyse_visits, report, visit_table
from analytics.settings import AnalyticsSettings
from config.settings import AccessPoint, Settings
from simulator.backfill import backfill_database
from simulator.layout import default_shop
from store import db
from store.frames import load_observations, load_visits
from store.queries import local_day_bounds
from store.visits import refresh_visits
from tests.conftest import fresh_postgres_schema, make_settings

pytestmark = pytest.mark.slow

TIMEZONE = "Europe/Amsterdam"
FIRST_DAY = date(2026, 11, 2)  # a Monday
DAYS = 5
# Every simulated day: the stored zone model is then fitted on what the naive pipeline fits its own on, so zones
# (and the zone filter) agree exactly too.
WINDOW = (FIRST_DAY, FIRST_DAY + timedelta(days=DAYS - 1))
SCENARIOS = {"mixed vendors": ("mixed", 7), "aerohive": ("aerohive", 23)}
SHOP = default_shop(TIMEZONE)
FILTERS = {
    "ssid": Filters(ssid="guest"),
    "manufacturer": Filters(manufacturer="apple"),
    "ap": Filters(ap=SHOP.aps[-1].mac),
    "zone": Filters(zone=SHOP.aps[-1].name),
    "ssid+manufacturer": Filters(ssid="GUEST", manufacturer="samsung"),
    "ap+no-random": Filters(ap=SHOP.aps[1].mac, exclude_randomized=True),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        yield "sqlite"
        return
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture(scope="module", params=list(SCENARIOS))
def shop(request, backend, tmp_path_factory) -> Settings:
    directory: Path = tmp_path_factory.mktemp("filtered")
    url = f"sqlite:///{directory / 'presence.db'}" if backend == "sqlite" else backend
    settings = make_settings(directory, PRESENCE_TIMEZONE=TIMEZONE, PRESENCE_DATABASE_URL=url)
    settings = replace(
        settings,
        access_points={ap.mac: AccessPoint(ap.mac, ap.name, settings.default_site, ap.x, ap.y) for ap in SHOP.aps},
    )
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    if backend != "sqlite":  # one schema per backend: the second scenario starts from empty tables
        with engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE observation, visit, visit_state, visit_refresh, zone_model, ap_report")
    engine.dispose()
    vendor, seed = SCENARIOS[request.param]
    start, _ = local_day_bounds(FIRST_DAY, None, settings.tz)
    backfill_database(settings, start, start + timedelta(days=DAYS), seed=seed, shop=SHOP, vendor=vendor, processes=1)
    engine = db.make_engine(settings.database_url)
    refresh_visits(engine, settings)
    engine.dispose()
    return settings


def both(settings: Settings, filters: Filters, *, complete: bool = False) -> tuple[Analysis, Analysis]:
    """The window's analysis from observations (naive) and from stored visits, with `filters`."""
    analytics_settings = AnalyticsSettings()
    start, end = local_day_bounds(*WINDOW, settings.tz)
    engine = db.make_engine(settings.database_url)
    try:
        observations = load_observations(
            engine, start, end, history=analytics_settings.history, lookahead=analytics_settings.visit_lookahead
        )
        stored = load_visits(
            engine,
            start,
            end,
            analytics_settings,
            tz=settings.tz,
            complete=complete,
            detail=complete,
            filters=filters,
        )
    finally:
        engine.dispose()
    naive = analyse(observations, start, end, analytics_settings, filters, settings.tz, settings.access_points)
    fast = analyse_visits(stored.visits, start, end, analytics_settings, filters, settings.tz, stored.device_counts)
    return naive, fast


UNFILTERED: dict[str, dict] = {}


def unfiltered_report(settings: Settings) -> dict:
    if str(settings.data_dir) not in UNFILTERED:  # one per scenario (the PostgreSQL scenarios share a URL)
        UNFILTERED[str(settings.data_dir)] = report(both(settings, Filters())[1])
    return UNFILTERED[str(settings.data_dir)]


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_filtered_report_from_stored_visits_is_the_naive_one(shop, name):
    naive, fast = both(shop, FILTERS[name])
    naive_report, fast_report = report(naive), report(fast)
    unfiltered = unfiltered_report(shop)

    assert fast_report == naive_report
    assert fast_report["visitors"] > 0  # the filter matched something, and not everything
    assert (fast_report["visitors"], fast_report["passersby"]) != (unfiltered["visitors"], unfiltered["passersby"])
    assert fast_report["visitors"] <= unfiltered["visitors"]


@pytest.mark.parametrize("name", ["ssid", "ap+no-random"])
def test_a_filtered_visit_list_is_the_naive_one(shop, name):
    naive, fast = both(shop, FILTERS[name], complete=True)
    naive_table, fast_table = visit_table(naive), visit_table(fast)

    assert len(fast_table) > 0
    pd.testing.assert_frame_equal(fast_table, naive_table)
