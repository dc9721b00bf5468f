"""Quarantine: authenticated posts that fail validation are kept (redacted, capped) and can be replayed."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

from receiver import quarantine
from receiver.errors import InvalidPayload
from store import quarantine as stored_quarantine
from tests.conftest import AEROHIVE_SECRET, count_observations, dumps, make_settings, sign
from tests.servers import PRESENCE


def bad_engenius() -> bytes:
    return dumps(
        {
            "network_id": 1,
            "node_mac": "ac:86:74:82:9a:30",
            "probe_requests": [
                {"mac": "f0:18:98:00:00:01", "min_signal": -70, "max_signal": -60, "avg_signal": -65,
                 "last_seen_signal": -61, "first_seen": 1763889601, "last_seen": 1763889655, "rssi_dbm": 5}
            ],
            "firmware": "7.1",
        }
    )  # fmt: skip


def test_authenticated_invalid_posts_are_quarantined_and_forged_ones_are_not(client, engine):
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": [{"mac": "nope"}]})
    client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    client.post("/ingest/engenius", data=body, headers={"Signature": "0" * 64})
    client.post("/ingest/engenius", data=b"{half", headers={"Signature": sign(b"{half")})

    rows = stored_quarantine.entries(engine)
    assert [(row["vendor"], row["status"], row["field"]) for row in rows] == [
        ("engenius", 400, None),
        ("engenius", 422, "probe_requests[0].mac"),
    ]
    assert "'nope' is not a MAC address" in rows[1]["reason"]
    assert stored_quarantine.entry(engine, rows[1]["id"])["body"] == body
    assert count_observations(engine) == 0


def test_secrets_in_the_body_are_redacted(client, engine):
    body = dumps({"ownerId": 1, "apMac": "3a1e6d8c785c", "observations": [{"rssi": 1}], "secret": AEROHIVE_SECRET})
    assert client.post("/ingest/aerohive", data=body).status_code == 422
    [row] = stored_quarantine.entries(engine)
    stored = stored_quarantine.entry(engine, row["id"])["body"]
    assert AEROHIVE_SECRET.encode() not in stored
    assert json.loads(stored)["secret"] == quarantine.REDACTED


def test_table_is_trimmed_by_age_count_and_body_size(engine):
    policy = stored_quarantine.QuarantinePolicy(max_body_bytes=10, days=7, max_rows=3)
    error = InvalidPayload("broken", field="x")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    quarantine.keep(engine, "engenius", b"old" * 10, error, now - timedelta(days=8), policy)
    for day in range(5):
        quarantine.keep(engine, "aerohive", b"x" * (5 + day), error, now + timedelta(minutes=day), policy)
    rows = stored_quarantine.entries(engine)
    assert [row["body_bytes"] for row in rows] == [9, 8, 7]
    assert [row["truncated"] for row in rows] == [False, False, False]
    quarantine.keep(engine, "aerohive", b"y" * 50, error, now + timedelta(minutes=9), policy)
    newest = stored_quarantine.entries(engine)[0]
    assert newest["truncated"] is True
    assert newest["body_bytes"] == 50
    assert len(stored_quarantine.entry(engine, newest["id"])["body"]) == 10


def test_cli_lists_shows_and_replays_after_the_cause_is_fixed(tmp_path):
    """A post refused for an unconfigured-but-valid reason is replayed once the operator can accept it."""
    env = {**os.environ, "PRESENCE_DATA_DIR": str(tmp_path / "data")}
    from receiver.app import create_app

    app = create_app(make_settings(tmp_path))
    body = bad_engenius().replace(b'"min_signal": -70', b'"min_signal": -170')
    app.test_client().post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    engine = app.extensions["presence"]["engine"]
    [row] = stored_quarantine.entries(engine)

    listing = subprocess.run([PRESENCE, "quarantine", "list"], env=env, capture_output=True, text=True, check=True)
    assert f"{row['id']}" in listing.stdout
    assert "min_signal" in listing.stdout
    shown = subprocess.run([PRESENCE, "quarantine", "show", str(row["id"])], env=env, capture_output=True, text=True)
    assert '"firmware": "7.1"' in shown.stdout
    refused = subprocess.run(
        [PRESENCE, "quarantine", "replay", str(row["id"])], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "still refused" in refused.stdout

    # The operator fixes the stored body (as a newer parser would accept it) and replays it.
    with engine.begin() as connection:
        connection.execute(
            stored_quarantine.TABLE.update()
            .where(stored_quarantine.TABLE.c.id == row["id"])
            .values(body=bad_engenius())
        )
    replayed = subprocess.run([PRESENCE, "quarantine", "replay", "--all"], env=env, capture_output=True, text=True)
    assert replayed.returncode == 0, replayed.stdout
    assert "stored 1, duplicates 0; released" in replayed.stdout
    assert stored_quarantine.entries(engine) == []
    assert count_observations(engine) == 1
