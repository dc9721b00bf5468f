"""The receiver's SQLite fast path (bare sqlite3) must write exactly what the SQLAlchemy Core path writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from store.db import make_engine, migrate
from store.observations import Reporter, _store_core, _store_sqlite, sqlite_time, store_observations
from tests.storage.builders import AP1, AP2, at, row

RECEIVED = datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC)


def rows() -> list[dict]:
    plus_two = timezone(timedelta(hours=2))
    return [
        row("d1", at(0), at(3)),
        row("d2", at(1).astimezone(plus_two), at(2).astimezone(plus_two), ap=AP2, ssid="Guest", randomized=True),
        {**row("d3", at(5)), "manufacturer": None, "os": "iOS", "x": 1.5, "y": -2.0, "lat": 51.5, "lng": -0.1,
         "unc": 3.25, "count": 7},  # fmt: skip
        row("d4", datetime(2026, 11, 2, 9, 0, 0, 0, tzinfo=UTC)),  # whole seconds: the format keeps .000000
    ]


def dump(path: Path) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(path) as connection:
        observations = connection.execute("SELECT * FROM observation ORDER BY id").fetchall()
        reports = connection.execute("SELECT * FROM ap_report ORDER BY ap_mac").fetchall()
    return observations, reports


def test_sqlite_fast_path_writes_the_same_rows_as_core(tmp_path: Path) -> None:
    reporters = [Reporter(AP1, "engenius", "shop"), Reporter(AP2, "engenius", "shop")]
    written = {}
    for name, store in (("core", _store_core), ("fast", _store_sqlite)):
        path = tmp_path / f"{name}.db"
        engine = make_engine(f"sqlite:///{path}", writer=True)
        migrate(engine)
        first = store(engine, rows(), reporters, RECEIVED)
        again = store(engine, rows()[:2], reporters, RECEIVED + timedelta(minutes=1))  # re-delivered: no new rows
        assert (first.total(), again.total()) == (4, 0)
        assert dict(first) == {AP1: 3, AP2: 1}
        engine.dispose()
        written[name] = dump(path)
    assert written["fast"] == written["core"]
    assert written["fast"][1][0][3:] == (
        sqlite_time(RECEIVED),
        sqlite_time(RECEIVED + timedelta(minutes=1)),
        2,
        3,
    )


def test_a_failed_fast_path_transaction_writes_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'presence.db'}", writer=True)
    migrate(engine)
    broken = rows()
    broken[2] = {**broken[2], "vendor": None}  # NOT NULL: the third row fails after two were inserted
    with pytest.raises(IntegrityError, match="NOT NULL"):
        store_observations(engine, broken, [Reporter(AP1, "engenius", "shop")], RECEIVED)
    assert dump(tmp_path / "presence.db") == ([], [])
    assert store_observations(engine, rows(), [Reporter(AP1, "engenius", "shop")], RECEIVED).stored == 4


def test_sqlite_time_is_sqlalchemys_text_and_refuses_naive_times() -> None:
    assert sqlite_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05.000000"
    assert sqlite_time(datetime(2026, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-01-02 03:04:05.000007"
    )
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 2))  # noqa: DTZ001  (naive on purpose)


def test_posts_take_turns_with_a_writer_in_another_process(tmp_path: Path) -> None:
    """A POST waits for the process holding the write turn, and goes ahead the moment it is released."""
    database = tmp_path / "presence.db"
    engine = make_engine(f"sqlite:///{database}", writer=True)
    migrate(engine)
    marker = tmp_path / "released"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from store.write_turn import write_turn\n"
            "with write_turn(sys.argv[1]):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(0.5)\n"
            "    Path(sys.argv[2]).write_text('released')\n",
            str(database),
            str(marker),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert store_observations(engine, rows()).stored == 4
        assert marker.read_text() == "released"  # the insert could only start after the other writer's turn
    finally:
        holder.communicate(timeout=10)  # waits, and closes its pipe
    assert (tmp_path / "presence.db.write-lock").exists()
