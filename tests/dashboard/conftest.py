"""A simulated shop for the dashboard tests: built once per session with `presence simulate` (fixed seed), copied
into a fresh data directory for every test, so no test sees another's database or caches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit import config

from simulator.layout import default_shop

PRESENCE = str(Path(sys.executable).with_name("presence"))
ENTRY = Path(__file__).resolve().parents[2] / "app" / "dashboard" / "streamlit_app.py"
SEED = 20261102
DAYS = int(os.environ.get("PRESENCE_DASHBOARD_TEST_DAYS", "10"))  # 28 for the README's screenshots
TIMEZONE = "Europe/Amsterdam"
# Variables of the installation that must not leak in from the developer's shell.
PRESENCE_VARIABLES = (
    "PRESENCE_DATABASE_URL",
    "PRESENCE_DATA_DIR",
    "PRESENCE_CONFIG",
    "PRESENCE_TIMEZONE",
    "PRESENCE_PSEUDONYM_KEY",
    "PRESENCE_ENGENIUS_KEY",
    "PRESENCE_AEROHIVE_SECRET",
    "PRESENCE_MERAKI_SECRET",
    "PRESENCE_MERAKI_VALIDATOR",
    "PRESENCE_DASHBOARD_PASSWORD",
)


@dataclass(frozen=True)
class Shop:
    """A data directory holding the simulated database, and the environment that points `presence` at it."""

    data_dir: Path
    config: Path
    days: int

    @property
    def env(self) -> dict[str, str]:
        return {
            "PRESENCE_DATA_DIR": str(self.data_dir),
            "PRESENCE_CONFIG": str(self.config),
            "PRESENCE_SQLITE_SYNCHRONOUS": "OFF",
        }

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(TIMEZONE)


def write_config(path: Path) -> Path:
    """The simulator's default shop as a PRESENCE_CONFIG: AP names (zones) and floor positions."""
    lines = [f'timezone = "{TIMEZONE}"', ""]
    for ap in default_shop().aps:
        lines += ["[[aps]]", f'mac = "{ap.mac}"', f'name = "{ap.name}"', f"x = {ap.x}", f"y = {ap.y}", ""]
    path.write_text("\n".join(lines))
    return path


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in PRESENCE_VARIABLES}


@pytest.fixture(scope="session")
def simulated_template(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """DAYS of the simulated default shop up to now, made once by `presence simulate` (never written again)."""
    root = tmp_path_factory.mktemp("simulated-shop")
    shop = Shop(root / "data", write_config(root / "presence.toml"), DAYS)
    env = {**clean_env(), **shop.env}
    subprocess.run(
        [PRESENCE, "simulate", "--days", str(DAYS), "--seed", str(SEED)], env=env, check=True, capture_output=True
    )
    # One report brings the stored visits up to date, so each test's copy starts with them (as a live
    # installation does) instead of building them again.
    today = datetime.now(shop.tz).date()
    subprocess.run(
        [PRESENCE, "report", "--from", str(today - timedelta(days=1)), "--to", str(today), "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return shop


@pytest.fixture
def simulated_shop(simulated_template: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shop:
    """A private copy of the simulated shop, with the environment set for in-process runs (AppTest, CLI)."""
    shop = Shop(tmp_path / "data", write_config(tmp_path / "presence.toml"), simulated_template.days)
    shutil.copytree(simulated_template.data_dir, shop.data_dir)
    for key in PRESENCE_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in shop.env.items():
        monkeypatch.setenv(key, value)
    return shop


@pytest.fixture
def empty_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installation whose database does not exist yet, with every vendor's keys configured."""
    for key in PRESENCE_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PRESENCE_ENGENIUS_KEY", "a-long-engenius-key")
    monkeypatch.setenv("PRESENCE_AEROHIVE_SECRET", "a-long-aerohive-secret")
    monkeypatch.setenv("PRESENCE_MERAKI_SECRET", "a-long-meraki-secret")
    monkeypatch.setenv("PRESENCE_MERAKI_VALIDATOR", "the-validator-meraki-shows")
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def secrets_file(tmp_path: Path) -> Iterator[Path]:
    """Where Streamlit reads secrets (the dashboard's passwords) during this test: a file of its own, absent unless
    the test writes it, instead of the developer's ~/.streamlit/secrets.toml or ./.streamlit/secrets.toml."""
    path = tmp_path / "streamlit" / "secrets.toml"
    path.parent.mkdir()
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    yield path
    config.set_option("secrets.files", saved)


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    """Streamlit's caches are per process: empty them around every test."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def yesterday_at(shop: Shop, hour: int) -> datetime:
    """Yesterday (site-local) at `hour`: inside the simulated window and, at 15:00, inside opening hours."""
    yesterday: date = datetime.now(shop.tz).date() - timedelta(days=1)
    return datetime.combine(yesterday, time(hour), tzinfo=shop.tz)
