"""Times in the future of the receive time (beyond the clock skew) are refused and quarantined; an age bound is a
setting, off by default; `presence import` holds captures to the time they were written (issue 14, item 4)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from receiver import quarantine
from receiver.app import create_app
from receiver.errors import InvalidPayload
from receiver.imports import captures, import_capture
from receiver.ingest import Ingestor
from store import db
from store import quarantine as stored_quarantine
from store.records import Normalizer
from tests.conftest import AEROHIVE_SECRET, count_observations, dumps, make_settings, sign
from tests.servers import PRESENCE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS_BODY = (FIXTURES / "engenius_sample.json").read_bytes()


def engenius_at(last_seen: datetime) -> bytes:
    epoch = int(last_seen.timestamp())
    return dumps(
        {
            "network_id": 1,
            "node_mac": "ac:86:74:82:9a:30",
            "probe_requests": [
                {"mac": "f0:18:98:00:00:01", "min_signal": -70, "max_signal": -60, "avg_signal": -65,
                 "last_seen_signal": -61, "first_seen": epoch - 30, "last_seen": epoch}
            ],
        }
    )  # fmt: skip


def aerohive_at(seen: datetime) -> bytes:
    record = {"clientMac": "dcac3da506b4", "seenTime": seen.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "rssi": -50}
    return dumps({"ownerId": "1", "apMac": "3a1e6d8c785c", "observations": [record]})


def meraki_at(seen: datetime) -> bytes:
    heard = [{"apMac": "00:18:0a:13:dd:b0", "rssi": -52}]
    location = {"time": seen.isoformat().replace("+00:00", "Z"), "rssiRecords": heard}
    observation = {"clientMac": "f0:18:98:3b:61:7c", "locations": [location]}
    return dumps({"version": "3.0", "secret": "m", "type": "WiFi", "data": {"observations": [observation]}})


BODIES = {"engenius": engenius_at, "aerohive": aerohive_at, "meraki": meraki_at}


def make_app(tmp_path, **env):
    return create_app(make_settings(tmp_path, PRESENCE_MERAKI_SECRET="m", **env))


def post(client, vendor: str, body: bytes):
    return client.post(
        f"/ingest/{vendor}", data=body, headers={"Signature": sign(body), "Authorization": f"Bearer {AEROHIVE_SECRET}"}
    )


@pytest.mark.parametrize("vendor", sorted(BODIES))
def test_a_record_a_year_ahead_is_refused_with_the_reason_and_quarantined(tmp_path, vendor):
    app = make_app(tmp_path)
    engine = app.extensions["presence"]["engine"]
    response = post(app.test_client(), vendor, BODIES[vendor](datetime.now(UTC) + timedelta(days=365)))
    assert response.status_code == 422
    error = response.json["error"]
    assert "after the time the POST was received" in error
    assert "PRESENCE_CLOCK_SKEW_SECONDS" in error
    assert response.json["field"] == "last_seen"
    [kept] = stored_quarantine.entries(engine)
    assert (kept["vendor"], kept["status"]) == (vendor, 422)
    assert count_observations(engine) == 0
    with engine.connect() as connection:  # no AP's last report was refreshed by it
        assert connection.exec_driver_sql("SELECT count(*) FROM ap_report").scalar_one() == 0


@pytest.mark.parametrize("vendor", sorted(BODIES))
def test_a_few_minutes_of_clock_skew_are_allowed(tmp_path, vendor):
    app = make_app(tmp_path)
    response = post(app.test_client(), vendor, BODIES[vendor](datetime.now(UTC) + timedelta(minutes=4)))
    assert response.status_code == 200, response.json
    assert response.json["stored"] == 1


def test_the_allowed_skew_is_a_setting(tmp_path):
    app = make_app(tmp_path, PRESENCE_CLOCK_SKEW_SECONDS="60")
    response = post(app.test_client(), "engenius", engenius_at(datetime.now(UTC) + timedelta(minutes=4)))
    assert response.status_code == 422
    assert "at most 1 min ahead" in response.json["error"]


def test_old_records_are_accepted_unless_an_age_bound_is_set(tmp_path):
    assert post(make_app(tmp_path / "a").test_client(), "engenius", ENGENIUS_BODY).status_code == 200  # 2025
    bounded = make_app(tmp_path / "b", PRESENCE_MAX_RECORD_AGE_SECONDS=str(7 * 86400))
    response = post(bounded.test_client(), "engenius", ENGENIUS_BODY)
    assert response.status_code == 422
    assert response.json["field"] == "first_seen"
    assert "records older than 7 days are refused (PRESENCE_MAX_RECORD_AGE_SECONDS)" in response.json["error"]
    fresh = engenius_at(datetime.now(UTC) - timedelta(days=6))
    assert post(bounded.test_client(), "engenius", fresh).status_code == 200


def test_imports_are_held_to_the_time_the_capture_was_written(tmp_path):
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url, writer=True)
    db.migrate(engine)
    ingestor = Ingestor(engine, Normalizer(settings))
    written = datetime.now(UTC) - timedelta(days=30)
    capture = tmp_path / "capture.ndjson"
    lines = [
        engenius_at(written - timedelta(minutes=1)),  # heard before the file was written: fine
        engenius_at(written + timedelta(days=1)),  # after the file was written, though before now
        engenius_at(datetime.now(UTC) + timedelta(days=365)),
        ENGENIUS_BODY.replace(b"\n", b""),  # old captures are fine: no age bound on imports
    ]
    capture.write_bytes(b"\n".join(lines) + b"\n")
    os.utime(capture, (written.timestamp(), written.timestamp()))
    outcomes = [import_capture(ingestor, body) for body in captures(capture)]
    assert [outcome.refused is None for outcome in outcomes] == [True, False, False, True]
    assert "after the time the capture was written" in outcomes[1].refused
    assert outcomes[1].refused.startswith("422: record 0 was last seen at")
    engine.dispose()


def test_the_import_command_applies_the_configured_skew(tmp_path):
    capture = tmp_path / "capture.ndjson"
    capture.write_bytes(engenius_at(datetime.now(UTC) + timedelta(minutes=4)) + b"\n")
    env = {**os.environ, "PRESENCE_DATA_DIR": str(tmp_path / "data"), "PRESENCE_CLOCK_SKEW_SECONDS": "60"}
    result = subprocess.run([PRESENCE, "import", str(capture)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "at most 1 min ahead" in result.stdout


def test_a_replay_is_held_to_the_time_the_post_first_came(tmp_path):
    app = make_app(tmp_path)
    engine = app.extensions["presence"]["engine"]
    post(app.test_client(), "engenius", engenius_at(datetime.now(UTC) + timedelta(days=2)))
    [kept] = stored_quarantine.entries(engine)
    ingestor = app.extensions["presence"]["ingestor"]
    with pytest.raises(InvalidPayload, match="after the time it was first received"):
        quarantine.replay(engine, ingestor, kept["id"], datetime.now(UTC) + timedelta(days=3))
    assert count_observations(engine) == 0


def test_a_record_just_heard_is_fine_everywhere(tmp_path):
    app = make_app(tmp_path)
    for vendor, body in BODIES.items():
        assert post(app.test_client(), vendor, body(datetime.now(UTC))).status_code == 200
