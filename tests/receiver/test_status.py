"""AP reports and `presence status`: an AP that posts an empty list is alive; one that stops is flagged."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

from app.commands.status import status
from store.queries import ap_reports
from tests.conftest import dumps, sign
from tests.servers import PRESENCE


def report(ap_mac: str, records: int) -> bytes:
    return dumps(
        {
            "network_id": 1,
            "node_mac": ap_mac,
            "probe_requests": [
                {"mac": f"f0:18:98:00:00:{i:02x}", "min_signal": -70, "max_signal": -60, "avg_signal": -65,
                 "last_seen_signal": -61, "first_seen": 1763889601, "last_seen": 1763889655}
                for i in range(records)
            ],
        }
    )  # fmt: skip


def test_every_accepted_post_updates_its_ap_even_when_empty(client, engine):
    for ap_mac, records in [("ac:86:74:00:00:01", 3), ("ac:86:74:00:00:01", 3), ("ac:86:74:00:00:02", 0)]:
        body = report(ap_mac, records)
        assert client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)}).status_code == 200
    rows = {row["ap_mac"]: row for row in ap_reports(engine)}
    assert (rows["ac:86:74:00:00:01"]["reports"], rows["ac:86:74:00:00:01"]["records"]) == (2, 3)
    assert (rows["ac:86:74:00:00:02"]["reports"], rows["ac:86:74:00:00:02"]["records"]) == (1, 0)
    assert rows["ac:86:74:00:00:02"]["last_report_at"] > datetime.now(UTC) - timedelta(minutes=1)


def test_status_flags_silent_aps_and_counts_quarantine(client, engine, settings):
    body = report("ac:86:74:00:00:01", 1)
    client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    bad = dumps({"node_mac": "ac:86:74:00:00:01", "probe_requests": "nope"})
    client.post("/ingest/engenius", data=bad, headers={"Signature": sign(bad)})

    now = datetime.now(UTC)
    assert status(settings, timedelta(minutes=10), now)["silent_aps"] == 0
    later = status(settings, timedelta(minutes=10), now + timedelta(minutes=30))
    assert later["silent_aps"] == 1
    assert later["aps"][0]["silent_for_seconds"] >= 30 * 60
    assert later["quarantined_last_24h"] == 1
    assert later["observations"] == 1


def test_status_command_exit_code_says_whether_an_ap_is_silent(tmp_path):
    from receiver.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path))
    body = report("ac:86:74:00:00:01", 2)
    app.test_client().post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    env = {**os.environ, "PRESENCE_DATA_DIR": str(tmp_path / "data")}
    fresh = subprocess.run([PRESENCE, "status"], env=env, capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "reporting" in fresh.stdout
    silent = subprocess.run(
        [PRESENCE, "status", "--silent-after", "0", "--format", "json"], env=env, capture_output=True, text=True
    )
    assert silent.returncode == 1
    assert json.loads(silent.stdout)["aps"][0]["silent"] is True


def test_ap_reports_can_be_rebuilt_from_observations_after_a_bulk_load(client, engine):
    from store.observations import rebuild_ap_reports

    for ap_mac in ("ac:86:74:00:00:01", "ac:86:74:00:00:02"):
        body = report(ap_mac, 4)
        client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    before = {row["ap_mac"]: (row["reports"], row["records"], row["last_report_at"]) for row in ap_reports(engine)}
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM ap_report")
    rebuild_ap_reports(engine)
    after = {row["ap_mac"]: (row["reports"], row["records"], row["last_report_at"]) for row in ap_reports(engine)}
    assert after == before
