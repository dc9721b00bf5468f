"""`presence aps`: list, retire and unretire APs; `presence status` never calls a retired AP silent and calls an
expected (configured) AP that never reported silent."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from app import cli
from app.commands.status import status
from config.settings import Settings
from store import db
from store.observations import rebuild_ap_reports
from store.queries import retire_ap, retired_aps, unretire_ap
from tests.conftest import dumps, sign
from tests.servers import PRESENCE

REPORTED = "ac:86:74:00:00:01"
NEVER = "ac:86:74:00:00:09"  # configured (expected), never reports


def post(client, ap_mac: str) -> None:
    body = dumps(
        {
            "network_id": 1,
            "node_mac": ap_mac,
            "probe_requests": [
                {"mac": "f0:18:98:00:00:01", "min_signal": -70, "max_signal": -60, "avg_signal": -65,
                 "last_seen_signal": -61, "first_seen": 1763889601, "last_seen": 1763889655}
            ],
        }
    )  # fmt: skip
    assert client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)}).status_code == 200


@pytest.fixture
def installation(tmp_path, database_url, monkeypatch) -> Settings:
    """An installation with one configured AP that never reports, seen by in-process CLI runs too."""
    config = tmp_path / "presence.toml"
    config.write_text(f'[[aps]]\nmac = "{NEVER}"\nname = "Stockroom"\nsite = "Annex"\n')
    for name in list(os.environ):
        if name.startswith("PRESENCE_"):
            monkeypatch.delenv(name)
    env = {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_DATABASE_URL": database_url,
        "PRESENCE_CONFIG": str(config),
        "PRESENCE_ENGENIUS_KEY": "engenius-test-key",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env(env)


@pytest.fixture
def reported(installation):
    from receiver.app import create_app

    app = create_app(installation)
    post(app.test_client(), REPORTED)
    app.extensions["presence"]["engine"].dispose()
    return installation


def silent(settings: Settings, now: datetime) -> dict[str, bool]:
    return {ap["ap_mac"]: ap["silent"] for ap in status(settings, timedelta(minutes=10), now)["aps"]}


def test_status_calls_an_expected_ap_that_never_reported_silent_and_a_retired_one_never(reported, capsys):
    now = datetime.now(UTC)
    assert silent(reported, now) == {REPORTED: False, NEVER: True}
    assert silent(reported, now + timedelta(hours=1)) == {REPORTED: True, NEVER: True}
    assert cli.main(["aps", "retire", "AC-86-74-00-00-01"]) == 0
    assert cli.main(["aps", "retire", "ac8674000009"]) == 0  # configured, never reported: retired all the same
    later = status(reported, timedelta(minutes=10), now + timedelta(hours=1))
    assert later["silent_aps"] == 0
    assert {ap["ap_mac"]: ap["retired"] for ap in later["aps"]} == {REPORTED: True, NEVER: True}
    assert cli.main(["aps", "unretire", "AC:86:74:00:00:01"]) == 0
    assert silent(reported, now + timedelta(hours=1)) == {REPORTED: True, NEVER: False}
    capsys.readouterr()
    assert cli.main(["status"]) == 0  # now: the unretired AP reported a moment ago, the one that never did is retired
    out = capsys.readouterr().out
    assert f"{NEVER}  Stockroom" in out
    assert "retired" in out


def test_aps_lists_every_known_ap_as_json(reported, capsys):
    assert cli.main(["aps", "retire", NEVER.upper()]) == 0
    capsys.readouterr()
    assert cli.main(["aps", "--format", "json"]) == 0
    listed = {ap["ap_mac"]: ap for ap in json.loads(capsys.readouterr().out)}
    assert set(listed) == {REPORTED, NEVER}
    assert {key: listed[REPORTED][key] for key in ("name", "site", "vendor", "reports", "records", "retired")} == {
        "name": None,
        "site": "default",
        "vendor": "engenius",
        "reports": 1,
        "records": 1,
        "retired": False,
    }
    assert listed[REPORTED]["last_report_at"].endswith("Z")
    assert {key: listed[NEVER][key] for key in ("name", "site", "vendor", "last_report_at", "records", "retired")} == {
        "name": "Stockroom",
        "site": "Annex",
        "vendor": None,
        "last_report_at": None,
        "records": 0,
        "retired": True,
    }
    assert listed[NEVER]["retired_at"].endswith("Z")
    assert cli.main(["aps"]) == 0
    text = capsys.readouterr().out
    assert f"{NEVER}  Stockroom" in text
    assert f"{REPORTED}  -" in text


@pytest.mark.parametrize(("action", "mac", "what"), [("retire", "00:11:22:33:44:55", "is not a known AP"),
                                                     ("unretire", "not-a-mac", "is not a MAC address")])  # fmt: skip
def test_an_unknown_mac_exits_2_naming_the_known_aps(reported, capsys, action, mac, what):
    assert cli.main(["aps", action, mac]) == 2
    assert capsys.readouterr().err == f"presence aps {action}: {mac} {what}; known APs: {REPORTED}, {NEVER}\n"
    engine = db.make_engine(reported.database_url)
    assert retired_aps(engine) == {}
    engine.dispose()


def test_retirement_is_kept_through_a_rebuild_of_the_ap_reports(reported):
    engine = db.make_engine(reported.database_url)
    moment = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert retire_ap(engine, REPORTED, moment) is True
    assert retire_ap(engine, REPORTED, moment + timedelta(days=1)) is False  # the first retirement stays
    rebuild_ap_reports(engine)  # what a bulk load (the demo's backfill) does
    assert retired_aps(engine) == {REPORTED: moment}
    assert unretire_ap(engine, REPORTED) is True
    assert unretire_ap(engine, REPORTED) is False
    engine.dispose()


@pytest.mark.slow
def test_status_command_exit_status_with_a_retired_ap(tmp_path):
    """In a shell, as a cron job runs it: retiring the silent AP turns exit 1 into 0."""
    from receiver.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path))
    post(app.test_client(), REPORTED)
    app.extensions["presence"]["engine"].dispose()
    env = {name: value for name, value in os.environ.items() if not name.startswith("PRESENCE_")}
    env["PRESENCE_DATA_DIR"] = str(tmp_path / "data")

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([PRESENCE, *command], env=env, capture_output=True, text=True, timeout=60)

    assert run("status", "--silent-after", "0").returncode == 1
    assert run("aps", "retire", REPORTED.upper()).returncode == 0
    done = run("status", "--silent-after", "0")
    assert done.returncode == 0, done.stdout
    assert "retired" in done.stdout


def test_sites_counts_an_ap_reporting_without_an_entry_apart_from_the_configured_ones(tmp_path, monkeypatch, capsys):
    """An AP without an [[aps]] entry reports under the default site, beside that site's configured AP: `presence
    sites` says "1 of 1, +1 unconfigured" (it said "2 of 1") and names it in the JSON."""
    from receiver.app import create_app

    counter = "ac:86:74:00:00:02"
    config = tmp_path / "presence.toml"
    config.write_text(f'[[aps]]\nmac = "{counter}"\nname = "Counter"\n')  # no site: the default one
    for name in list(os.environ):
        if name.startswith("PRESENCE_"):
            monkeypatch.delenv(name)
    env = {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_CONFIG": str(config),
        "PRESENCE_ENGENIUS_KEY": "engenius-test-key",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(Settings.from_env(env))
    post(app.test_client(), counter)
    post(app.test_client(), REPORTED)
    app.extensions["presence"]["engine"].dispose()

    assert cli.main(["sites", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["site"], row["aps"], row["aps_reported"], row["aps_unconfigured"]) == (
        "default",
        ["Counter"],
        2,
        [REPORTED],
    )
    assert cli.main(["sites"]) == 0
    assert "1 of 1, +1 unconfigured" in capsys.readouterr().out
