"""One configuration for every command: what `presence demo` sets up is what `presence report` reads next."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.commands.demo import demo_environment, fill_history, key_lines, sample_post
from config.settings import ConfigError, Settings
from tests.servers import PRESENCE, running_receiver

SHOP_APS = {"Entrance", "Checkout", "Fitting rooms", "Back"}


@pytest.fixture
def bare_environment(monkeypatch) -> dict[str, str]:
    """The process environment without any PRESENCE_ setting, as on a fresh clone."""
    for name in list(os.environ):
        if name.startswith("PRESENCE_"):
            monkeypatch.delenv(name)
    return dict(os.environ)


def test_demo_writes_keys_time_zone_and_aps_where_every_command_reads_them(tmp_path, bare_environment):
    data = tmp_path / "data"
    env = demo_environment(data)
    demo = Settings.from_env(env)
    plain = Settings.from_env({"PRESENCE_DATA_DIR": str(data)})  # a later command, nothing exported
    assert plain.engenius_key == demo.engenius_key
    assert plain.aerohive_secret == demo.aerohive_secret
    assert plain.meraki_secret == demo.meraki_secret
    assert plain.meraki_validator == demo.meraki_validator
    assert all(len(value or "") >= 20 for value in (plain.engenius_key, plain.aerohive_secret, plain.meraki_secret))
    assert plain.timezone == demo.timezone
    assert {ap.name for ap in plain.access_points.values()} == SHOP_APS
    assert (data / ".env").stat().st_mode & 0o777 == 0o600
    # A second run keeps every key and the time zone (real APs pointed at the demo keep working).
    demo_environment(data)
    again = Settings.from_env({"PRESENCE_DATA_DIR": str(data)})
    assert (again.engenius_key, again.timezone) == (demo.engenius_key, demo.timezone)


def test_the_environment_wins_over_data_env_and_presence_config_over_data_toml(tmp_path, bare_environment):
    data = tmp_path / "data"
    demo_environment(data)
    other = tmp_path / "other.toml"
    other.write_text('[[aps]]\nmac = "00:11:22:33:44:55"\nname = "Door"\n')
    settings = Settings.from_env(
        {
            "PRESENCE_DATA_DIR": str(data),
            "PRESENCE_TIMEZONE": "Asia/Tokyo",
            "PRESENCE_ENGENIUS_KEY": "mine",
            "PRESENCE_AEROHIVE_SECRET": "",  # empty is unset, as everywhere: data/.env's value stays
            "PRESENCE_CONFIG": str(other),
        }
    )
    assert (settings.timezone, settings.engenius_key) == ("Asia/Tokyo", "mine")
    assert settings.aerohive_secret == Settings.from_env({"PRESENCE_DATA_DIR": str(data)}).aerohive_secret
    assert [ap.name for ap in settings.access_points.values()] == ["Door"]


def test_demo_keeps_what_the_user_set_and_takes_over_an_earlier_demo_env(tmp_path, bare_environment, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo.env").write_text("PRESENCE_ENGENIUS_KEY=from-an-earlier-demo\nPRESENCE_TIMEZONE=Europe/Berlin\n")
    (data / ".env").write_text("# mine\nexport PRESENCE_MERAKI_SECRET='my-secret'\n")
    monkeypatch.setenv("PRESENCE_AEROHIVE_SECRET", "exported")
    demo_environment(data)
    written = (data / ".env").read_text()
    assert written.startswith("# mine\nexport PRESENCE_MERAKI_SECRET='my-secret'\n")
    assert "PRESENCE_AEROHIVE_SECRET" not in written  # the environment's value is not copied into a file
    settings = Settings.from_env({"PRESENCE_DATA_DIR": str(data)})
    assert settings.engenius_key == "from-an-earlier-demo"
    assert settings.timezone == "Europe/Berlin"
    assert settings.meraki_secret == "my-secret"


def test_a_malformed_data_env_is_a_configuration_error_naming_the_file(tmp_path):
    (tmp_path / ".env").write_text("PRESENCE_TIMEZONE\n")
    with pytest.raises(ConfigError, match=r"\.env: 'PRESENCE_TIMEZONE' is not NAME=value"):
        Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path)})


def test_presence_report_after_the_demo_gives_the_dashboards_numbers(tmp_path, bare_environment):
    """The dashboard runs with the demo's environment; `presence report` in a new shell has only the data dir."""
    data = tmp_path / "data"
    demo_env = demo_environment(data)
    now = datetime.now(UTC)
    said = fill_history(Settings.from_env(demo_env), 1, now)
    assert said.startswith(f"backfilled {now - timedelta(days=1):%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC in ")
    today = now.astimezone(Settings.from_env(demo_env).tz).date()
    command = [PRESENCE, "report", "--from", str(today - timedelta(days=1)), "--to", str(today), "--format", "json"]

    def report(env: dict[str, str]) -> dict:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=120)
        return json.loads(done.stdout)

    dashboards = report(demo_env)
    plain = report({**bare_environment, "PRESENCE_DATA_DIR": str(data)})
    assert {zone["zone"] for zone in plain["zones"]} == SHOP_APS  # named, not MACs
    assert plain == dashboards
    assert Path(data / "presence.toml").read_text().count("[[aps]]") == 4


@pytest.mark.slow
def test_the_banners_curl_line_posts_a_signed_sample_the_receiver_stores(tmp_path, bare_environment):
    data = tmp_path / "data"
    env = demo_environment(data)
    settings = Settings.from_env(env)
    assert f"PRESENCE_ENGENIUS_KEY={settings.engenius_key}" in key_lines(settings)  # the demo's own value, shown
    with running_receiver(env) as url:
        curl = sample_post(settings, url)
        assert curl is not None
        done = subprocess.run(curl, shell=True, capture_output=True, text=True, check=True, timeout=60)  # noqa: S602
    assert json.loads(done.stdout) == {"ok": True, "stored": 3, "duplicates": 0}
