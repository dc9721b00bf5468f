"""Which index SQLite reads the staff candidates' long visits from: their number, not the database's age or the
staff history's every visit, decides what a report, the Sites page and a Live tick read. And the reads a list of
devices drives look those devices up, whatever sites are chosen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from analytics.filters import Filters
from analytics.settings import AnalyticsSettings
from store import db
from store.frames import filter_condition, long_visits_condition
from store.models import Visit
from tests.conftest import make_settings

END = datetime(2026, 11, 30, 15, tzinfo=UTC)


def plan(tmp_path, filters: Filters) -> str:
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    c = Visit.__table__.c  # type: ignore[attr-defined]
    try:
        with engine.connect() as connection:
            since = END - AnalyticsSettings().staff_history
            condition = long_visits_condition(connection, c, AnalyticsSettings(), since, END, filters)
            keep = c.site.in_(filters.sites) if filters.sites else True
            query = select(c.site, c.device, c.first_seen).where(condition, keep)
            sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
            assert "'2026-11-16 15:00:00.000000'" in sql  # the window is in SQL, in the stored format
            return " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    finally:
        engine.dispose()


def test_long_visits_are_read_from_the_dwell_index_within_the_staff_window(tmp_path) -> None:
    assert "ix_visit_dwell_seconds (dwell_seconds>?)" in plan(tmp_path, Filters())


@pytest.mark.parametrize("sites", [("Shop 001",), ("Shop 001", "Shop 002")])
def test_chosen_sites_read_their_window_from_the_site_index(tmp_path, sites) -> None:
    assert "ix_visit_site_first_seen (site=? AND first_seen>? AND first_seen<?)" in plan(
        tmp_path, Filters(sites=sites)
    )


@pytest.mark.parametrize("sites", [(), ("Shop 001",), ("Shop 001", "Shop 002")])
def test_the_visits_of_listed_devices_are_looked_up_by_device(tmp_path, sites) -> None:
    """The staff candidates' window visits and the returning visitors' history (store.frames._by_device): with a
    site chosen, SQLite had walked the site's whole window by the site index to find a few hundred devices'."""
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    table = Visit.__table__  # type: ignore[attr-defined]
    c = table.c
    try:
        with engine.connect() as connection:
            keep = filter_condition(table, Filters(sites=sites), site_index=False)
            window = (c.first_seen >= END - timedelta(days=7), c.first_seen < END)
            query = select(c.id, c.site).where(*window, keep, c.device.in_(["d1", "d2", "d3"]))
            sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
            found = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "ix_visit_device_first_seen (device=? AND first_seen>? AND first_seen<?)" in found
    finally:
        engine.dispose()


def test_the_window_is_exact(tmp_path) -> None:
    """A long visit counts from the instant the window starts, up to (not at) its end."""
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    c = Visit.__table__.c  # type: ignore[attr-defined]
    since = END - timedelta(days=14)
    long = timedelta(hours=5).total_seconds()
    rows = [
        (1, since - timedelta(microseconds=1), long),
        (2, since, long),
        (3, END - timedelta(microseconds=1), long),
        (4, END, long),
        (5, since + timedelta(days=1), timedelta(hours=3).total_seconds()),
    ]
    try:
        with engine.begin() as connection:
            connection.execute(
                Visit.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "id": visit,
                        "site": "Shop 001",
                        "device": f"d{visit}",
                        "first_seen": first,
                        "last_seen": first + timedelta(seconds=dwell),
                        "dwell_seconds": dwell,
                        "max_rssi": -60.0,
                        "associated": False,
                        "randomized": False,
                        "observations": 2,
                    }
                    for visit, first, dwell in rows
                ],
            )
        with engine.connect() as connection:
            for filters in (Filters(), Filters(sites=("Shop 001",))):
                condition = long_visits_condition(connection, c, AnalyticsSettings(), since, END, filters)
                found = connection.execute(select(c.id).where(condition).order_by(c.id)).scalars().all()
                assert found == [2, 3], filters
    finally:
        engine.dispose()
