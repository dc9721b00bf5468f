"""Both vendors' published samples, posted as published, are stored exactly as the normalization promises."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import AEROHIVE_SECRET, all_observations, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_aerohive_sample_is_stored_once_with_seen_time_winning(client, engine):
    body = (FIXTURES / "aerohive_sample.json").read_bytes()

    response = client.post("/ingest/aerohive", data=body, headers={"Authorization": f"Bearer {AEROHIVE_SECRET}"})

    assert response.status_code == 200
    assert response.json == {"ok": True, "stored": 1, "duplicates": 2}
    [row] = all_observations(engine)
    assert row["vendor"] == "aerohive"
    assert row["ap_mac"] == "3a:1e:6d:8c:78:5c"
    assert row["first_seen"] == row["last_seen"] == datetime(2015, 10, 9, 7, 0, tzinfo=UTC)
    assert (row["rssi_min"], row["rssi_max"], row["rssi_avg"], row["rssi_last"], row["count"]) == (
        -50,
        -50,
        -50,
        -50,
        1,
    )
    assert (row["ssid"], row["manufacturer"], row["os"], row["associated"]) == ("Retail World", "Apple", "ios", True)
    assert (row["lat"], row["lng"], row["unc"], row["x"], row["y"]) == (45, 122, 5, 0, 0)
    assert row["randomized"] is False
    assert row["device"] != "dc:ac:3d:a5:06:b4"
    assert len(row["device"]) == 16


def test_engenius_sample_is_stored_with_manufacturers_and_randomized_flag(client, engine):
    body = (FIXTURES / "engenius_sample.json").read_bytes()

    response = client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})

    assert response.status_code == 200
    assert response.json == {"ok": True, "stored": 3, "duplicates": 0}
    rows = all_observations(engine)
    assert [row["ap_mac"] for row in rows] == ["ac:86:74:82:9a:30"] * 3
    assert [row["manufacturer"] for row in rows] == ["Apple, Inc.", None, "Apple, Inc."]
    assert [row["randomized"] for row in rows] == [False, True, False]
    assert [row["associated"] for row in rows] == [True, False, False]
    first = rows[0]
    assert first["first_seen"] == datetime.fromtimestamp(1763889601, UTC)
    assert first["last_seen"] == datetime.fromtimestamp(1763889655, UTC)
    assert (first["rssi_min"], first["rssi_max"], first["rssi_avg"], first["rssi_last"], first["count"]) == (
        -81,
        -52,
        -63,
        -58,
        14,
    )
    assert all(row["first_seen"].tzinfo is UTC for row in rows)
