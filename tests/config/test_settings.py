"""Settings from the environment and the TOML file, with clear errors for what is wrong."""

from __future__ import annotations

import pytest

from config.settings import AccessPoint, ConfigError, Settings


def test_defaults_put_everything_under_the_data_directory(tmp_path):
    settings = Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'presence.db'}"
    assert settings.timezone == "UTC"
    assert settings.store_raw_macs is False
    assert settings.max_body_bytes == 8 * 1024 * 1024
    assert not settings.engenius_configured()
    assert not settings.aerohive_configured()
    assert len(settings.pseudonym_key) == 64
    assert Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path)}).pseudonym_key == settings.pseudonym_key


def test_toml_file_adds_sources_sites_and_access_points(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text(
        'site = "Main Street"\n'
        '[engenius.networks]\n"12" = "k12"\n'
        '[aerohive.owners]\n42 = "s42"\n'
        '[[aps]]\nmac = "AC-86-74-82-9A-30"\nname = "Entrance"\nx = 2\ny = 1.5\n'
        '[[aps]]\nmac = "ac8674829a31"\nsite = "Annex"\n'
    )
    settings = Settings.from_env(
        {"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_CONFIG": str(config), "PRESENCE_ENGENIUS_KEY": "global"}
    )
    assert settings.engenius_key_for("12") == "k12"
    assert settings.engenius_key_for("13") == "global"
    assert settings.aerohive_secret_for("42") == "s42"
    assert settings.aerohive_secret_for("43") is None
    assert settings.access_points["ac:86:74:82:9a:30"] == AccessPoint(
        "ac:86:74:82:9a:30", "Entrance", "Main Street", 2.0, 1.5
    )
    assert settings.site_of("ac:86:74:82:9a:31") == "Annex"
    assert settings.site_of("00:00:00:00:00:01") == "Main Street"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PRESENCE_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"PRESENCE_MAX_BODY_BYTES": "lots"}, "not a whole number"),
        ({"PRESENCE_MAX_BODY_BYTES": "0"}, "must be positive"),
        ({"PRESENCE_CONFIG": "/nonexistent/presence.toml"}, "does not exist"),
        ({"PRESENCE_SQLITE_SYNCHRONOUS": "SOMETIMES"}, "must be one of"),
    ],
)
def test_bad_settings_are_reported_clearly(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), **env})


def test_malformed_toml_and_ap_entries_are_reported(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("site = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_CONFIG": str(broken)})
    bad_ap = tmp_path / "bad_ap.toml"
    bad_ap.write_text('[[aps]]\nmac = "nope"\n')
    with pytest.raises(ConfigError, match="needs a valid mac"):
        Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_CONFIG": str(bad_ap)})


def test_the_dwell_measures_are_the_analytics_own(tmp_path, monkeypatch):
    """config names the dwell measures without importing analytics (it sits below it); they must be the same, and
    the configured one reaches the analytics' settings."""
    from analytics import settings as analytics
    from config import settings as config
    from store.analytics_settings import analytics_settings_of

    assert config.DWELL_ESTIMATES == analytics.DWELL_ESTIMATES
    assert config.DEFAULT_DWELL_ESTIMATE == analytics.DEFAULT_DWELL_ESTIMATE
    assert analytics.AnalyticsSettings().dwell_estimate == analytics.DEFAULT_DWELL_ESTIMATE
    env = {"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_PSEUDONYM_KEY": "k"}
    assert analytics_settings_of(config.Settings.from_env(env)).dwell_estimate == "recurrence"
    spanning = config.Settings.from_env({**env, "PRESENCE_DWELL_ESTIMATE": "span"})
    assert analytics_settings_of(spanning) == analytics.AnalyticsSettings(dwell_estimate="span")
    with pytest.raises(config.ConfigError, match="PRESENCE_DWELL_ESTIMATE"):
        config.Settings.from_env({**env, "PRESENCE_DWELL_ESTIMATE": "median"})
