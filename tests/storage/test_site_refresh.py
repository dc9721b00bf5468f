"""Refreshing site by site (issue 16): each site has its own lease and watermark, so processes refreshing
different sites work at the same time, and whatever order sites are refreshed in, the visits are the ones one
refresh of everything makes."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from store import db
from store.analytics_settings import analytics_settings_of
from store.models import Observation, VisitRefresh, ZoneModelRow
from store.visits import RefreshBusy, rebuild_visits, refresh_visits, visits_watermark, zone_models
from store.visits.lease import add_sites, hold_lease
from store.visits.refresh import catch_up
from store.visits.shared import CHUNK_ROWS
from tests.storage.builders import AP1, AP2, at, post, stay, stored_visits

REFRESH = VisitRefresh.__table__
ZONE_MODEL = ZoneModelRow.__table__


def chain_traffic(day: int, sites: tuple[str, ...] = ("east", "west")) -> list[list[dict]]:
    """A few devices at each site on `day`, one of them at both sites (the same phone in two shops)."""
    groups = []
    for number, site in enumerate(sites):
        ap = AP1 if number % 2 == 0 else AP2
        groups.append(stay("both", at(10 * number, day), 20, site=site, ap=ap))
        groups.append(stay(f"only-{site}", at(5, day), 30, step=3, site=site, ap=ap))
        groups.append(stay(f"later-{site}", at(120, day), 12, step=2, site=site, ap=ap))
    return groups


def visits_of(engine, site: str | None = None):
    frame = stored_visits(engine)
    frame = frame if site is None else frame.loc[frame["site"] == site]
    return frame.drop(columns=["zone", "last_zone", "x", "y", "zone_moves"], errors="ignore").reset_index(drop=True)


def site_marks(engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(REFRESH.c.site, REFRESH.c.watermark).where(REFRESH.c.site.is_not(None)))
        return {site: int(mark) for site, mark in rows}


def test_a_site_refreshed_alone_moves_only_its_own_watermark_and_visits(engine, settings):
    post(engine, *chain_traffic(0))

    done = refresh_visits(engine, settings, sites=["east"])

    assert set(visits_of(engine)["site"]) == {"east"}
    assert done.observations == sum(len(group) for group in chain_traffic(0, ("east",)))
    marks = site_marks(engine)
    assert marks["east"] == done.watermark > marks["west"] == 0
    assert visits_watermark(engine) == 0  # west's observations are not merged yet

    refresh_visits(engine, settings)
    assert set(visits_of(engine)["site"]) == {"east", "west"}
    assert len(set(site_marks(engine).values())) == 1


def test_sites_refreshed_in_any_order_give_the_visits_of_one_refresh_of_everything(engine, settings):
    post(engine, *chain_traffic(0))
    refresh_visits(engine, settings, sites=["west"])
    post(engine, *chain_traffic(1))
    refresh_visits(engine, settings, sites=["east"])
    post(engine, *chain_traffic(2, ("east", "west", "north")))  # a site never seen before
    refresh_visits(engine, settings, sites=["north"])
    post(engine, *chain_traffic(3, ("north", "west")))
    refresh_visits(engine, settings)
    stepwise = visits_of(engine)

    rebuild_visits(engine, settings)

    assert set(stepwise["site"]) == {"east", "west", "north"}
    assert stepwise.equals(visits_of(engine))
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
    assert stepwise["observations"].sum() == stored  # each merged once


def test_a_site_another_process_holds_does_not_hold_up_the_others(engine, settings):
    post(engine, *chain_traffic(0))
    refresh_visits(engine, settings)
    post(engine, *chain_traffic(1))
    with engine.begin() as connection:  # another process is refreshing east, for another minute
        connection.execute(
            update(REFRESH)
            .where(REFRESH.c.site == "east")
            .values(locked_by="other-host:1:abc", locked_until=datetime.now(UTC) + timedelta(minutes=1))
        )

    west = refresh_visits(engine, settings, sites=["west"], wait=timedelta(0))
    assert west.observations == sum(len(group) for group in chain_traffic(1, ("west",)))
    with pytest.raises(RefreshBusy, match="east"):
        refresh_visits(engine, settings, wait=timedelta(0))  # every site: east is still someone else's

    with engine.begin() as connection:  # that process is gone: its lease runs out
        connection.execute(
            update(REFRESH).where(REFRESH.c.site == "east").values(locked_until=datetime.now(UTC) - timedelta(1))
        )
    east = refresh_visits(engine, settings, wait=timedelta(0))
    assert east.observations == sum(len(group) for group in chain_traffic(1, ("east",)))


def test_a_rebuild_waits_for_a_site_being_refreshed_and_refreshes_wait_for_it(engine, settings):
    post(engine, *chain_traffic(0))
    refresh_visits(engine, settings)
    with engine.begin() as connection:
        connection.execute(
            update(REFRESH)
            .where(REFRESH.c.site == "west")
            .values(locked_by="other-host:1:abc", locked_until=datetime.now(UTC) + timedelta(minutes=1))
        )
    with pytest.raises(RefreshBusy):
        rebuild_visits(engine, settings, wait=timedelta(seconds=0.5))
    with engine.connect() as connection:  # the rebuild let go of everything it took
        holders = connection.execute(select(REFRESH.c.locked_by).where(REFRESH.c.locked_by.is_not(None))).all()
    assert holders == [("other-host:1:abc",)]

    with engine.begin() as connection:  # now a rebuild holds the installation: no site can be taken
        connection.execute(
            update(REFRESH)
            .where(REFRESH.c.site.is_(None))
            .values(locked_by="rebuilder:1:abc", locked_until=datetime.now(UTC) + timedelta(minutes=1))
        )
    post(engine, *chain_traffic(1))
    with pytest.raises(RefreshBusy):
        refresh_visits(engine, settings, sites=["east"], wait=timedelta(0))


def test_concurrent_refreshes_of_different_sites_merge_every_observation_once(settings):
    engines = [db.make_engine(settings.database_url) for _ in range(4)]
    db.migrate(engines[0])
    sites = ("east", "west", "north", "south")
    for day in range(3):
        post(engines[0], *chain_traffic(day, sites))
    errors: list[Exception] = []

    def work(engine, scope) -> None:
        try:
            refresh_visits(engine, settings, chunk_rows=40, sites=scope)
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    scopes = [["east"], ["west", "north"], ["south"], None]  # the last wants every site
    threads = [threading.Thread(target=work, args=pair) for pair in zip(engines, scopes, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent = visits_of(engines[0])
    rebuild_visits(engines[0], settings)
    rebuilt = visits_of(engines[0])
    for engine in engines:
        engine.dispose()

    assert errors == []
    assert set(concurrent["site"]) == set(sites)
    assert concurrent.equals(rebuilt)


def test_a_site_another_refresh_meets_while_a_rebuild_holds_every_site_is_taken_by_the_rebuild(engine, settings):
    post(engine, *chain_traffic(0, ("east",)))
    refresh_visits(engine, settings)
    analytics_settings = analytics_settings_of(settings)
    with hold_lease(engine, analytics_settings, settings, timedelta(0), rebuilding=True) as lease:
        post(engine, *chain_traffic(1, ("east", "north")))
        with engine.begin() as connection:  # another process's refresh gave north its row, and then waits
            add_sites(connection, ["north"])
        catch_up(lease, settings, analytics_settings, CHUNK_ROWS)  # takes north too: no LeaseLost

    assert set(visits_of(engine)["site"]) == {"east", "north"}
    assert len(set(site_marks(engine).values())) == 1


def migrate_to(engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def test_a_downgrade_keeps_visits_at_one_watermark_and_marks_them_for_rebuild_when_sites_differ(engine, settings):
    post(engine, *chain_traffic(0))
    refresh_visits(engine, settings)
    mark = max(site_marks(engine).values())

    migrate_to(engine, "0010")  # every site at one watermark: it becomes the installation's
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, watermark, settings FROM visit_refresh")).all()
    assert [(name, watermark) for name, watermark, _ in rows] == [("visits", mark)]
    assert "rebuild" not in json.loads(rows[0][2])

    migrate_to(engine, "head")
    post(engine, *chain_traffic(1))
    refresh_visits(engine, settings, sites=["east"])  # west is left behind
    migrate_to(engine, "0010")
    with engine.connect() as connection:
        (settings_text,) = connection.execute(text("SELECT settings FROM visit_refresh")).one()
    assert json.loads(settings_text)["rebuild"] == "site_refresh"  # the older code refuses them until rebuilt


def zoned_traffic(day: int, sites: tuple[str, ...] = ("east", "west", "north")) -> list[list[dict]]:
    """At each site, shoppers near one AP or the other (heard 25 dB weaker by the other AP), so the zone models
    have two zones to tell apart."""
    groups = []
    for number, site in enumerate(sites):
        for shopper in range(3 + number):
            near, far = (AP1, AP2) if shopper % 2 == 0 else (AP2, AP1)
            device, start = f"{site}-{day}-{shopper}", at(7 * shopper + number, day)
            groups.append(stay(device, start, 15, site=site, ap=near, rssi=-52.0 - shopper))
            groups.append(stay(device, start, 15, step=2, site=site, ap=far, rssi=-77.0 - number))
    return groups


def zone_state(engine) -> tuple[list[dict], list[tuple]]:
    """Every zone model (without when it was fitted) and every visit's zone, last zone, position and moves."""
    with engine.connect() as connection:
        models = [
            {key: value for key, value in row.items() if key != "fitted_at"}
            for row in connection.execute(select(ZONE_MODEL).order_by(ZONE_MODEL.c.site)).mappings()
        ]
    visits = stored_visits(engine)
    return models, [tuple(row) for row in visits[["site", "device", "zone", "last_zone", "zone_moves"]].to_numpy()]


def test_zone_models_fitted_together_are_the_ones_fitted_site_by_site(engine, settings, tmp_path, monkeypatch):
    other = db.make_engine(f"sqlite:///{tmp_path / 'site-by-site.db'}")
    db.migrate(other)
    for one_at_a_time, target in ((False, engine), (True, other)):
        if one_at_a_time:  # every site alone in its batch: the site-by-site fit, its visits read a few at a time
            monkeypatch.setattr(zone_models, "FIT_BATCH_VISITS", 1)
            monkeypatch.setattr(zone_models, "REZONE_CHUNK", 3)
        for day in (0, 1, 3):  # a first fit, then refits as the data doubles
            post(target, *zoned_traffic(day))
            refresh_visits(target, settings)
    together, alone = zone_state(engine), zone_state(other)
    other.dispose()

    assert together == alone
    models, visits = together
    assert [model["site"] for model in models] == ["east", "north", "west"]
    assert all(model["version"] >= 2 and model["centers"] for model in models)
    assert {zone for _, _, zone, _, _ in visits} == {AP1, AP2}
