"""The access log of a real `presence serve` never holds a secret, right or wrong (issue 14, item 7)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import AEROHIVE_SECRET
from tests.servers import PRESENCE, free_port, stop, wait_until_healthy

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
AEROHIVE_BODY = (FIXTURES / "aerohive_sample.json").read_bytes()


def test_the_access_log_shows_the_path_without_the_query(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PRESENCE_DATA_DIR": str(tmp_path / "data"), "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET}
    with open(log, "wb") as output:
        process = subprocess.Popen(  # not --quiet: the access log is what is under test
            [PRESENCE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_healthy(f"{base_url}/healthz", process)
            url = f"{base_url}/ingest/aerohive"
            right = requests.post(url, params={"secret": AEROHIVE_SECRET}, data=AEROHIVE_BODY, timeout=5)
            wrong = requests.post(url, params={"secret": "guessed-wrong-1", "x": "1"}, data=AEROHIVE_BODY, timeout=5)
            assert (right.status_code, wrong.status_code) == (200, 401)
        finally:
            stop(process)
    text = log.read_text()
    assert AEROHIVE_SECRET not in text
    assert "guessed-wrong-1" not in text
    assert "secret=" not in text
    access = [json.loads(line) for line in text.splitlines() if line.startswith('{"remote"')]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in access if entry["method"] == "POST"] == [
        ("POST", "/ingest/aerohive", 200),
        ("POST", "/ingest/aerohive", 401),
    ]
