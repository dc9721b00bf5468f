"""A chain of simulated shops: each site its own name, AP MACs, seed and time zone, and a config that says so."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.cli import main
from app.commands import simulate as simulate_command
from config.settings import Settings
from config.sites import Hours
from simulator.chain import (
    APS_PER_SHOP,
    CONFIG_MARK,
    MAX_SITES,
    OTHER_TIMEZONES,
    chain,
    config_toml,
    is_chain_config,
    shop,
    simulate_chain,
)
from simulator.people import OPENING_HOURS
from simulator.run import simulate
from store import db
from store.models import Observation

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # a Wednesday: New York's Tuesday afternoon to Wednesday 13:00
NEW_YORK = ZoneInfo("America/New_York")


def test_every_site_has_its_own_name_ap_macs_and_seed():
    sites = chain(12, seed=7, timezone="Europe/Amsterdam")

    assert [member.name for member in sites[:3]] == ["Shop 001", "Shop 002", "Shop 003"]
    assert len({member.name for member in sites}) == 12
    assert [member.seed for member in sites] == list(range(7, 19))
    macs = [ap.mac for member in sites for ap in member.shop.aps]
    assert len(macs) == len(set(macs)) == 12 * APS_PER_SHOP
    assert sites[1].shop.aps[0].mac == "88:dc:96:00:01:01"  # the template's OUI and last octet, the site number
    assert all(member.shop.timezone == member.timezone for member in sites)


@pytest.mark.parametrize("sites", [3, 10, 30])
def test_a_share_of_the_sites_is_in_other_time_zones(sites):
    zones = Counter(member.timezone for member in chain(sites, timezone="Europe/Amsterdam"))

    assert chain(sites, timezone="Europe/Amsterdam")[0].timezone == "Europe/Amsterdam"
    others = sites - zones["Europe/Amsterdam"]
    assert 1 <= others <= (sites + 2) // 3
    assert set(zones) - {"Europe/Amsterdam"} <= set(OTHER_TIMEZONES)
    if sites >= 10:
        assert set(zones) == {"Europe/Amsterdam", *OTHER_TIMEZONES}


def test_the_other_time_zones_skip_the_base_zone_and_can_be_turned_off():
    assert [m.timezone for m in chain(5, timezone="America/New_York")] == [
        "America/New_York",
        "America/Los_Angeles",
        "America/New_York",
        "America/New_York",
        "Asia/Tokyo",
    ]
    assert {m.timezone for m in chain(5, timezone="UTC", other_timezones=False)} == {"UTC"}


def test_the_aps_of_a_chain_can_end_in_a_partial_shop():
    sites = chain(3, aps=10)
    assert [len(member.shop.aps) for member in sites] == [4, 4, 2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: chain(0), "1 to 65536 sites"),
        (lambda: chain(2, aps=9), "9 APs do not make 2 shops"),
        (lambda: shop(MAX_SITES), "at most 65536 shops"),
    ],
)
def test_a_chain_out_of_range_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_config_maps_every_ap_to_its_site_and_every_site_to_its_time_zone_and_group(tmp_path):
    sites = chain(4, seed=1, timezone="Europe/Amsterdam")
    text = config_toml(sites)
    path = tmp_path / "chain.toml"
    path.write_text(text)

    settings = Settings.from_env(
        {"PRESENCE_DATA_DIR": str(tmp_path / "data"), "PRESENCE_CONFIG": str(path), "PRESENCE_PSEUDONYM_KEY": "k"}
    )

    assert is_chain_config(text)
    assert text.startswith(f"{CONFIG_MARK} 4:")
    assert settings.site_names() == ["Shop 001", "Shop 002", "Shop 003", "Shop 004"]
    for member in sites:
        assert {settings.site_of(ap.mac) for ap in member.shop.aps} == {member.name}
        site = settings.site(member.name)
        assert (site.timezone, site.group, site.configured) == (member.timezone, member.group, True)
        # The simulated shop's own opening hours, so the analytics' "open" is the simulation's.
        assert site.hours[0] == Hours(*(time(h) for h in OPENING_HOURS[0]))
        assert site.hours[6] == Hours(*(time(h) for h in OPENING_HOURS[6]))
    assert settings.site("Shop 002").timezone == "America/New_York"
    assert settings.groups() == {"Europe": ["Shop 001", "Shop 003", "Shop 004"], "US East": ["Shop 002"]}
    assert len(settings.access_points) == 4 * APS_PER_SHOP
    ap = settings.access_points["88:dc:96:00:01:01"]
    assert (ap.name, ap.site, ap.x, ap.y) == ("Entrance", "Shop 002", 5.0, 3.0)


def test_a_chain_simulation_gives_every_sites_reports_of_each_minute_together():
    sites = chain(3, seed=5)
    start = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    merged = simulate_chain(sites, start, start + timedelta(minutes=10))
    alone = [simulate(m.shop, start, start + timedelta(minutes=10), m.seed) for m in sites]

    intervals = list(merged.intervals())
    assert [interval.at for interval in intervals] == [start + timedelta(minutes=n) for n in range(1, 11)]
    expected = [
        [r for part in parts for r in part.reports] for parts in zip(*(s.intervals() for s in alone), strict=True)
    ]
    assert [[(r.vendor, r.aps, r.size) for r in interval.reports] for interval in intervals] == [
        [(r.vendor, r.aps, r.size) for r in reports] for reports in expected
    ]
    assert len(intervals[0].reports) == 3 * 4  # per shop: 2 EnGenius, 1 Aerohive, 1 Meraki network report
    assert len(merged.truth()) == sum(len(s.truth()) for s in alone) > 0


def test_each_shop_keeps_its_own_local_opening_hours():
    new_york = next(member for member in chain(3, seed=3) if member.timezone == "America/New_York")
    wednesday = datetime(2026, 11, 25, tzinfo=NEW_YORK)
    simulation = simulate(new_york.shop, wednesday, wednesday + timedelta(days=1), new_york.seed)
    opens, closes = OPENING_HOURS[wednesday.weekday()]

    starts = [visit.start.astimezone(NEW_YORK) for visit in simulation.truth() if visit.kind == "visitor"]
    assert len(starts) > 100
    assert all(opens <= start.hour < closes for start in starts)


@pytest.fixture
def chain_environment(tmp_path, monkeypatch) -> os.PathLike:
    """A fresh data directory with no PRESENCE_ setting but it, and the simulate command's clock at NOW."""
    for name in list(os.environ):
        if name.startswith("PRESENCE_"):
            monkeypatch.delenv(name)
    data = tmp_path / "data"
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(data))
    monkeypatch.setenv("PRESENCE_PSEUDONYM_KEY", "chain-test")
    monkeypatch.setattr(simulate_command, "_now", lambda: NOW)
    return data


def observations(settings: Settings) -> list[tuple[str, datetime]]:
    engine = db.make_engine(settings.database_url)
    try:
        table = Observation.__table__  # type: ignore[attr-defined]
        with engine.connect() as connection:
            rows = connection.execute(select(table.c.site, table.c.first_seen)).all()
    finally:
        engine.dispose()
    return [(site, seen if seen.tzinfo else seen.replace(tzinfo=UTC)) for site, seen in rows]


@pytest.mark.slow
def test_simulate_sites_stores_a_chain_whose_traffic_follows_local_time(chain_environment, capsys):
    assert main(["simulate", "--sites", "3", "--days", "1", "--seed", "7"]) == 0
    err = capsys.readouterr().err
    config = chain_environment / "presence.toml"
    assert str(config) in err
    assert "Shop 002  America/New_York (US East), seed 8" in err

    settings = Settings.from_env()
    assert settings.site("Shop 002").timezone == "America/New_York"
    rows = observations(settings)
    by_site = Counter(site for site, _ in rows)
    assert set(by_site) == {"Shop 001", "Shop 002", "Shop 003"}
    assert min(by_site.values()) > 5000

    # New York's hours, in New York's time: the busiest local hour is an open one, and before dawn it is quiet
    # (were the shop on UTC's clock, it would open at 04:00 New York time).
    hours = Counter()
    for site, seen in rows:
        if site == "Shop 002":
            local = seen.astimezone(NEW_YORK)
            hours[(local.date(), local.hour)] += 1
    (busiest_day, busiest_hour), busiest = hours.most_common(1)[0]
    opens, closes = OPENING_HOURS[busiest_day.weekday()]
    assert opens <= busiest_hour < closes
    wednesday = NOW.astimezone(NEW_YORK).date()
    assert sum(hours[(wednesday, hour)] for hour in range(3, 8)) < 0.5 * busiest


@pytest.mark.slow
def test_simulate_sites_rewrites_its_own_config_but_never_an_operators(chain_environment, capsys):
    config = chain_environment / "presence.toml"
    assert main(["simulate", "--sites", "3", "--days", "0.01", "--seed", "7"]) == 0
    assert main(["simulate", "--sites", "2", "--days", "0.01", "--seed", "7"]) == 0  # its own file: rewritten
    assert Settings.from_env().site_names() == ["Shop 001", "Shop 002"]

    own = '[[aps]]\nmac = "00:11:22:33:44:55"\nname = "Door"\n'
    config.write_text(own)
    capsys.readouterr()
    assert main(["simulate", "--sites", "3", "--days", "0.01", "--seed", "7"]) == 2
    err = capsys.readouterr().err
    assert str(config) in err
    assert "move it away" in err
    assert config.read_text() == own


def test_simulate_sites_refuses_when_presence_config_names_another_file(chain_environment, tmp_path, monkeypatch):
    other = tmp_path / "other.toml"
    other.write_text("")
    monkeypatch.setenv("PRESENCE_CONFIG", str(other))

    assert main(["simulate", "--sites", "2", "--days", "0.01"]) == 2
    assert not (chain_environment / "presence.toml").exists()
