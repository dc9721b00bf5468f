"""Meraki Scanning API v2 and v3: validator, secret, version routing, leniency, Bluetooth acknowledged only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver.app import create_app
from receiver.vendors.meraki import V2_NOISE_FLOOR_DBM
from store import quarantine as stored_quarantine
from tests.conftest import all_observations, count_observations, dumps, make_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
V2 = json.loads((FIXTURES / "meraki_v2_sample.json").read_text())
V3 = json.loads((FIXTURES / "meraki_v3_sample.json").read_text())


@pytest.fixture
def meraki(tmp_path, database_url):
    app = create_app(
        make_settings(
            tmp_path,
            PRESENCE_DATABASE_URL=database_url,
            PRESENCE_MERAKI_VALIDATOR="da6a17c407bb11dfeec7392a5042be0a4cc034b6",
            PRESENCE_MERAKI_SECRET="supersecret",
        )
    )
    yield app
    app.extensions["presence"]["engine"].dispose()


def test_validator_is_answered_verbatim_as_plain_text(meraki):
    response = meraki.test_client().get("/ingest/meraki")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "da6a17c407bb11dfeec7392a5042be0a4cc034b6"
    assert response.mimetype == "text/plain"


def test_without_configuration_meraki_is_refused(tmp_path):
    client = create_app(make_settings(tmp_path)).test_client()
    assert client.get("/ingest/meraki").status_code == 401
    response = client.post("/ingest/meraki", data=dumps(V2))
    assert response.status_code == 401
    assert "PRESENCE_MERAKI_SECRET" in response.json["error"]


@pytest.mark.parametrize("secret", [None, "wrong", 42])
def test_wrong_or_missing_secret_is_refused(meraki, secret):
    document = {key: value for key, value in V2.items() if key != "secret"}
    if secret is not None:
        document["secret"] = secret
    response = meraki.test_client().post("/ingest/meraki", data=dumps(document))
    assert response.status_code == 401
    assert count_observations(meraki.extensions["presence"]["engine"]) == 0


def test_v2_sample_is_stored_with_rssi_converted_to_dbm(meraki):
    response = meraki.test_client().post("/ingest/meraki", data=dumps(V2))
    assert response.json == {"ok": True, "stored": 2, "duplicates": 0}
    rows = all_observations(meraki.extensions["presence"]["engine"])
    assert [row["vendor"] for row in rows] == ["meraki", "meraki"]
    assert rows[0]["ap_mac"] == "00:18:0a:13:dd:b0"
    assert rows[0]["rssi_max"] == 47 + V2_NOISE_FLOOR_DBM == -48
    assert rows[0]["first_seen"] == datetime(2016, 9, 24, 0, 6, 23, tzinfo=UTC)
    assert (rows[0]["manufacturer"], rows[0]["ssid"], rows[0]["associated"]) == ("Espressif", ".interwebs", True)
    assert (rows[0]["lat"], rows[0]["x"], rows[0]["y"]) == (52.5355157, None, None)


def test_v3_sample_gives_one_observation_per_ap_per_location_and_falls_back_to_latest_record(meraki):
    response = meraki.test_client().post("/ingest/meraki", data=dumps(V3))
    assert response.json == {"ok": True, "stored": 4, "duplicates": 0}
    rows = all_observations(meraki.extensions["presence"]["engine"])
    summary = [(row["ap_mac"], row["rssi_avg"], row["x"], row["lat"], row["unc"]) for row in rows]
    assert summary == [
        ("00:18:0a:13:dd:b0", -52, 10.4, 37.7749295, 2.4),
        ("00:18:0a:13:dd:b1", -71, 10.4, 37.7749295, 2.4),
        ("00:18:0a:13:dd:b0", -55, None, None, 3.1),
        ("00:18:0a:13:dd:b1", -84, None, None, None),
    ]
    assert rows[3]["randomized"] is True
    assert rows[3]["associated"] is False
    assert rows[0]["first_seen"] == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("version", "fragment"),
    [("4.0", "not supported"), ("banana", "not a Meraki Scanning API version")],
)
def test_unknown_versions_are_refused_with_422(meraki, version, fragment):
    response = meraki.test_client().post("/ingest/meraki", data=dumps(V3 | {"version": version}))
    assert response.status_code == 422
    assert fragment in response.json["error"]
    assert response.json["field"] == "version"


BLUETOOTH = {
    "BluetoothDevicesSeen": {
        "version": "2.0",
        "data": {
            "apMac": "00:18:0a:13:dd:b0",
            "observations": [{"clientMac": "c4:7c:8d:00:00:01", "seenTime": "2016-09-24T00:06:23Z", "rssi": 20}],
        },
    },
    "BLE": {"version": "3.0", "data": {"networkId": "N_1", "observations": [{"clientMac": "c4:7c:8d:00:00:01"}]}},
    # What v3 networks that scan both send in the wild: "Bluetooth", not the documentation's "BLE", with records
    # of their own shape (a beacon name, locations whose rssiRecords carry no AP MAC the Wi-Fi model would want).
    "Bluetooth": {
        "version": "3.0",
        "data": {
            "networkId": "N_1",
            "observations": [
                {"clientMac": "c4:7c:8d:00:00:01", "name": "Tile", "bleBeacons": [{"uuid": "fda50693", "major": 1}],
                 "latestRecord": {"time": "2026-11-23T10:15:20Z", "nearestApMac": "", "nearestApRssi": "NaN"},
                 "locations": [{"time": "2026-11-23T10:15:00Z", "rssiRecords": [{"apMac": None, "rssi": "n/a"}]}]},
            ],
        },
    },
}  # fmt: skip


@pytest.mark.parametrize("kind", ["BluetoothDevicesSeen", "BLE", "Bluetooth"])
def test_bluetooth_payloads_are_acknowledged_and_counted_but_not_stored(meraki, kind):
    document = {"secret": "supersecret", "type": kind, **BLUETOOTH[kind]}
    response = meraki.test_client().post("/ingest/meraki", data=dumps(document))
    assert response.json == {"ok": True, "stored": 0, "duplicates": 0, "ignored": 1}
    engine = meraki.extensions["presence"]["engine"]
    assert count_observations(engine) == 0
    assert stored_quarantine.entries(engine) == []  # nothing to look at: a Bluetooth post is not a refusal


def test_a_missing_secret_is_explained_in_the_way_meraki_sends_it(meraki):
    document = {key: value for key, value in V3.items() if key != "secret"}
    response = meraki.test_client().post("/ingest/meraki", data=dumps(document))
    assert response.status_code == 401
    assert response.json["error"] == (
        "missing Meraki secret: Meraki sends it as the 'secret' field of the body (the Secret set with the Post URL)"
    )


def test_v3_type_must_match_its_version(meraki):
    response = meraki.test_client().post("/ingest/meraki", data=dumps(V3 | {"type": "DevicesSeen"}))
    assert response.status_code == 422
    assert response.json["field"] == "type"
