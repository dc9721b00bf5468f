"""A 2xx means committed: SIGKILL the receiver mid-load, restart it, and nothing acknowledged is missing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ENGENIUS_KEY, sign
from tests.servers import PRESENCE, free_port, running_receiver, wait_until_healthy

pytestmark = pytest.mark.slow

RECORDS_PER_POST = 50


def body_for(post: int) -> bytes:
    """A distinct, valid EnGenius report: its records exist nowhere else."""
    base = 1_763_889_600 + post * 60
    records = [
        {
            "mac": f"f0:18:98:{post >> 8 & 0xFF:02x}:{post & 0xFF:02x}:{i:02x}",
            "count": 2,
            "min_signal": -80,
            "max_signal": -60,
            "avg_signal": -70,
            "last_seen_signal": -65,
            "first_seen": base,
            "last_seen": base + 30,
            "associated": False,
        }
        for i in range(RECORDS_PER_POST)
    ]
    return json.dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": records}).encode()


def test_sigkill_during_concurrent_posts_loses_nothing_acknowledged(tmp_path):
    env = {
        **os.environ,
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_PSEUDONYM_KEY": "durability",
    }
    port = free_port()
    server = subprocess.Popen(
        [PRESENCE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(f"{url}/healthz", server)

    acknowledged: set[int] = set()
    attempted: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def post(number: int) -> None:
        if killed.is_set():
            return
        body = body_for(number)
        with lock:
            attempted.add(number)
        try:
            response = requests.post(f"{url}/ingest/engenius", data=body, headers={"Signature": sign(body)}, timeout=10)
        except requests.RequestException:
            return
        if response.status_code == 200:
            assert response.json()["stored"] == RECORDS_PER_POST
            with lock:
                acknowledged.add(number)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(post, number) for number in range(4000)]
        deadline = time.monotonic() + 30
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-transaction
        killed.set()
        server.wait()
        for future in futures:
            future.result()

    assert len(acknowledged) >= 150, "the load did not get going before the kill"

    database = tmp_path / "data" / "presence.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # Re-deliver everything: an acknowledged POST must be all duplicates; one cut off by the kill was
    # stored whole or not at all, never in part.
    with running_receiver({**env}) as restarted:
        for number in sorted(attempted):
            body = body_for(number)
            answer = requests.post(
                f"{restarted}/ingest/engenius", data=body, headers={"Signature": sign(body)}, timeout=10
            )
            stored = answer.json()["stored"]
            if number in acknowledged:
                assert stored == 0, f"acknowledged POST {number} lost {stored} records"
            else:
                assert stored in (0, RECORDS_PER_POST), f"POST {number} was half-written"
