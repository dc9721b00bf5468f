"""End to end against a real `presence serve` (gunicorn) process, and the export command on what it stored."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import AEROHIVE_SECRET, ENGENIUS_KEY, dumps, sign
from tests.servers import PRESENCE, running_receiver

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS_BODY = (FIXTURES / "engenius_sample.json").read_bytes()
AEROHIVE_BODY = (FIXTURES / "aerohive_sample.json").read_bytes()

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET,
        "PRESENCE_MAX_BODY_BYTES": "65536",
    }


@pytest.fixture
def receiver(env, tmp_path):
    with running_receiver(env, log=tmp_path / "server.log") as base_url:
        yield base_url


def export(env: dict[str, str], fmt: str, *extra: str) -> str:
    result = subprocess.run(
        [PRESENCE, "export", "observations", "--format", fmt, *extra],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_samples_are_stored_exactly_once_through_gunicorn_and_exported(receiver, env):
    health = requests.get(f"{receiver}/healthz", timeout=5)
    assert health.json() == {"ok": True, "database": "sqlite"}

    for encoding in ("hex", "HEX", "base64", "base64url"):
        response = requests.post(
            f"{receiver}/ingest/engenius",
            data=ENGENIUS_BODY,
            headers={"Signature": sign(ENGENIUS_BODY, encoding=encoding)},
            timeout=5,
        )
        assert response.status_code == 200
    basic = requests.auth.HTTPBasicAuth("hm", AEROHIVE_SECRET)
    for kwargs in (
        {"headers": {"Authorization": f"Bearer {AEROHIVE_SECRET}"}},
        {"auth": basic},
        {"params": {"secret": AEROHIVE_SECRET}},
        {"data": dumps(json.loads(AEROHIVE_BODY) | {"secret": AEROHIVE_SECRET})},
    ):
        kwargs.setdefault("data", AEROHIVE_BODY)
        assert requests.post(f"{receiver}/ingest/aerohive", timeout=5, **kwargs).status_code == 200

    rows = list(csv.DictReader(io.StringIO(export(env, "csv"))))
    assert len(rows) == 4
    assert list(rows[0]) == [
        "vendor", "site", "ap_mac", "device", "randomized", "manufacturer", "os", "ssid", "associated",
        "first_seen", "last_seen", "rssi_min", "rssi_max", "rssi_avg", "rssi_last", "count", "manufacturer_full",
    ]  # fmt: skip
    by_vendor = {(row["vendor"], row["randomized"], row["manufacturer"], row["manufacturer_full"]) for row in rows}
    assert by_vendor == {  # one name per company; the payload's or the registry's own in manufacturer_full
        ("aerohive", "False", "Apple", "Apple"),
        ("engenius", "False", "Apple", "Apple, Inc."),
        ("engenius", "True", "", ""),
    }
    assert rows[0]["first_seen"] == "2015-10-09T07:00:00Z"
    assert all(len(row["device"]) == 16 and ":" not in row["device"] for row in rows)

    as_json = json.loads(export(env, "json", "--from", "2025-11-23", "--to", "2025-11-23"))
    assert [row["vendor"] for row in as_json] == ["engenius"] * 3
    assert as_json[0]["last_seen"] == "2025-11-23T09:20:41Z"


def test_forged_malformed_and_oversized_posts_are_refused_and_store_nothing(receiver, env):
    forged = requests.post(
        f"{receiver}/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": "0" * 64}, timeout=5
    )
    malformed = requests.post(
        f"{receiver}/ingest/engenius", data=b"{oops", headers={"Signature": sign(b"{oops")}, timeout=5
    )
    wrong = requests.post(
        f"{receiver}/ingest/aerohive", data=AEROHIVE_BODY, headers={"Authorization": "Bearer x"}, timeout=5
    )
    big = b'{"probe_requests": [' + b" " * 70_000 + b"]}"
    oversized = requests.post(f"{receiver}/ingest/engenius", data=big, headers={"Signature": sign(big)}, timeout=5)

    def chunks():
        for _ in range(100):
            yield b" " * 1000

    streamed = requests.post(f"{receiver}/ingest/engenius", data=chunks(), headers={"Signature": "0" * 64}, timeout=5)

    assert [r.status_code for r in (forged, malformed, wrong, oversized, streamed)] == [401, 400, 401, 413, 413]
    assert all(r.json()["ok"] is False for r in (forged, malformed, wrong, oversized, streamed))
    assert export(env, "csv").strip().count("\n") == 0  # header only


def test_receivers_on_one_host_leave_no_shared_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    base = {"PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run")}
    (home / "run").mkdir()
    first = {**base, "PRESENCE_DATA_DIR": str(tmp_path / "one")}
    second = {**base, "PRESENCE_DATA_DIR": str(tmp_path / "two")}
    with running_receiver(first) as one, running_receiver(second) as two:
        for url in (one, two):
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        assert not (home / ".gunicorn").exists()
        assert not (home / "run" / "gunicorn.ctl").exists()
        assert all(path.name.startswith("presence-serve-") for path in (home / "run").iterdir())  # their scratch
