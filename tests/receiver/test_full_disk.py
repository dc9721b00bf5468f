"""A full disk: every POST a 503 that says so, /healthz degraded, nothing acknowledged lost, recovery by itself
once space frees up; and nothing `presence serve` writes as it runs lives on the data disk (issue 14, item 2).

SQLite is made "full" with `PRAGMA max_page_count` on every connection of the receiver's own engine: the database
then fails writes with SQLITE_FULL ("database or disk is full") exactly as on a full disk, without needing one.
"""

from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import event, text

from receiver.app import create_app
from receiver.health import StorageHealth
from tests.conftest import ENGENIUS_KEY, all_observations, dumps, make_settings, sign
from tests.servers import running_receiver


def report(first: int, records: int) -> bytes:
    return dumps(
        {
            "network_id": 1,
            "node_mac": "ac:86:74:82:9a:30",
            "probe_requests": [
                {"mac": f"f0:18:98:00:{n // 256:02x}:{n % 256:02x}", "min_signal": -70, "max_signal": -60,
                 "avg_signal": -65, "last_seen_signal": -61, "first_seen": 1763889601 + n, "last_seen": 1763889700 + n}
                for n in range(first, first + records)
            ],
        }
    )  # fmt: skip


class Disk:
    """The receiver's SQLite database, capped at its current size on demand (and uncapped again)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.max_pages: int | None = None
        event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_connection, _record) -> None:
        if self.max_pages is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {self.max_pages}")

    def fill(self) -> None:
        with self.engine.connect() as connection:
            self.max_pages = connection.execute(text("PRAGMA page_count")).scalar_one()
        self.engine.dispose()  # every connection from now on is capped

    def free(self) -> None:
        self.max_pages = None
        self.engine.dispose()


def test_a_full_disk_is_a_503_that_says_so_and_the_receiver_recovers_losing_nothing(tmp_path):
    app = create_app(make_settings(tmp_path))
    engine = app.extensions["presence"]["engine"]
    disk = Disk(engine)
    client = app.test_client()

    def post(first: int, records: int):
        body = report(first, records)
        return client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})

    acknowledged = 0
    for number in range(5):
        answer = post(number * 10, 10)
        assert answer.status_code == 200
        acknowledged += answer.json["stored"]

    disk.fill()
    refused = [post(1000 + number * 500, 500) for number in range(5)]
    assert [answer.status_code for answer in refused] == [503] * 5
    assert refused[0].json["error"] == (
        "the disk holding the database is full: nothing was stored (the receiver recovers by itself once space "
        "is freed)"
    )
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["ok"] is False
    assert "degraded: the disk holding the database is full" in health.json["error"]

    disk.free()
    answer = post(1000, 500)  # the first POST after space frees up is stored, and clears the mark
    assert answer.status_code == 200
    acknowledged += answer.json["stored"]
    assert client.get("/healthz").status_code == 200

    assert len(all_observations(engine)) == acknowledged == 5 * 10 + 500
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    engine.dispose()


@pytest.mark.slow
def test_presence_serve_keeps_its_scratch_off_the_data_disk(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    data = tmp_path / "data"
    env = {"PRESENCE_DATA_DIR": str(data), "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY, "XDG_RUNTIME_DIR": str(runtime)}
    with running_receiver(env) as base_url:
        body = report(0, 3)
        assert requests.post(f"{base_url}/ingest/engenius", data=body, headers={"Signature": sign(body)}).ok
        metrics = requests.get(f"{base_url}/metrics", timeout=5).text
        assert 'presence_records_stored_total{vendor="engenius"} 3.0' in metrics  # summed over the workers
        [run_dir] = runtime.iterdir()
        assert run_dir.name.startswith("presence-serve-")
        assert (run_dir / "prometheus").is_dir()
        assert sorted(path.name for path in data.iterdir() if not path.name.startswith("presence.db")) == [
            "pseudonym.key"
        ]
    assert list(runtime.iterdir()) == []  # removed when the server stops


def test_storage_health_is_shared_through_the_run_directory(tmp_path):
    one, two = StorageHealth(tmp_path), StorageHealth(tmp_path)
    assert one.full_since() is None
    one.full()
    assert two.full_since() is not None
    two.stored()
    assert one.full_since() is None
    assert os.listdir(tmp_path) == []
