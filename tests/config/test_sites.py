"""[[sites]] in the config: time zone, group, opening hours, day boundary and capacity, with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from config.settings import ConfigError, Settings

CHAIN = """
timezone = "Europe/London"

[[sites]]
name = "West Mall"
timezone = "America/New_York"
group = "US East"
hours = { default = "09:00-21:00", sun = "11:00-17:00", mon = "closed" }
day_starts = "04:00"
capacity = 120

[[sites]]
name = "Night Club"
hours = { default = "22:00-04:00" }

[[aps]]
mac = "aa:bb:cc:00:00:01"
site = "West Mall"

[[aps]]
mac = "aa:bb:cc:00:00:02"
site = "Soho"
"""


def settings_with(tmp_path, text: str, **env: str) -> Settings:
    config = tmp_path / "presence.toml"
    config.write_text(text)
    return Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_CONFIG": str(config), **env})


def test_a_site_has_its_time_zone_group_hours_day_start_and_capacity(tmp_path):
    settings = settings_with(tmp_path, CHAIN)
    west = settings.site("West Mall")
    assert (west.timezone, west.group, west.capacity, west.day_starts) == ("America/New_York", "US East", 120, time(4))
    assert west.hours_text() == "Mon closed, Tue-Sat 09:00-21:00, Sun 11:00-17:00"
    assert settings.site_names() == ["West Mall", "Night Club", "Soho"]
    assert settings.groups() == {"US East": ["West Mall"]}


def test_a_site_named_only_by_an_ap_gets_the_defaults(tmp_path):
    soho = settings_with(tmp_path, CHAIN, PRESENCE_TIMEZONE="Asia/Tokyo").site("Soho")
    # The config's top-level timezone comes before PRESENCE_TIMEZONE for sites.
    assert (soho.timezone, soho.group, soho.capacity, soho.hours, soho.configured) == (
        "Europe/London",
        None,
        None,
        {},
        False,
    )
    assert settings_with(tmp_path, "", PRESENCE_TIMEZONE="Asia/Tokyo").site("x").timezone == "Asia/Tokyo"


def test_opening_hours_are_site_local_and_run_past_midnight(tmp_path):
    settings = settings_with(tmp_path, CHAIN)
    west, club = settings.site("West Mall"), settings.site("Night Club")
    # Tuesday 1 Dec 2026, 09:30 in New York is 14:30 UTC.
    assert west.open_at(datetime(2026, 12, 1, 14, 30, tzinfo=UTC))
    assert not west.open_at(datetime(2026, 12, 1, 13, 59, tzinfo=UTC))
    assert not west.open_at(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # Monday: closed
    # London: 03:00 on Wednesday is still Tuesday night's 22:00-04:00.
    assert club.open_at(datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    assert not club.open_at(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    assert settings.site("Soho").open_at(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))  # no hours: always open


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('timezone = "Mars/Olympus"', "not an IANA time zone"),
        ('hours = { default = "9-21" }', 'not "HH:MM-HH:MM"'),
        ('hours = { monday = "09:00-17:00" }', "unknown day"),
        ('hours = { default = "25:00-26:00" }', "not a time of day"),
        ('day_starts = "4 am"', "day_starts"),
        ("capacity = 0", "capacity"),
        ("capacity = 10000000000000000000", "capacity"),
        ('capacity = "lots"', "capacity"),
        ("seats = 3", "unknown key"),
    ],
)
def test_a_malformed_site_is_refused_naming_the_site_and_the_key(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=message) as caught:
        settings_with(tmp_path, f'[[sites]]\nname = "West Mall"\n{entry}\n')
    assert "West Mall" in str(caught.value)


def test_a_site_needs_a_name_and_only_one_entry(tmp_path):
    with pytest.raises(ConfigError, match="needs a name"):
        settings_with(tmp_path, '[[sites]]\ntimezone = "UTC"\n')
    with pytest.raises(ConfigError, match="twice"):
        settings_with(tmp_path, '[[sites]]\nname = "A"\n[[sites]]\nname = "A"\n')
