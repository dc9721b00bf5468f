"""store.frames: observations stored through the receiver come back as a typed DataFrame for a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from store.frames import FRAME_DTYPES, load_observations
from tests.conftest import dumps, sign

AP = "AC:86:74:82:9A:30"


def record(mac: str, first: datetime, seconds: int = 50, **extra) -> dict:
    return {
        "mac": mac,
        "count": 3,
        "min_signal": -80,
        "max_signal": -55,
        "avg_signal": -62,
        "last_seen_signal": -60,
        "first_seen": int(first.timestamp()),
        "last_seen": int(first.timestamp()) + seconds,
        **extra,
    }


def post(client, records: list[dict]) -> None:
    body = dumps({"network_id": 1, "node_mac": AP, "version": 1, "probe_requests": records})
    response = client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    assert response.status_code == 200, response.json


WINDOW_START = datetime(2026, 11, 9, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(days=7)


def test_load_observations_types_columns_and_takes_history_and_lookahead(client, engine):
    post(
        client,
        [
            record("a4:83:e7:00:00:01", WINDOW_START - timedelta(days=28)),  # first moment of the history
            record("a4:83:e7:00:00:02", WINDOW_START - timedelta(days=29)),  # too old
            record("a4:83:e7:00:00:03", WINDOW_START + timedelta(days=1), associated=True),
            record("da:a1:19:00:00:04", WINDOW_END + timedelta(hours=5)),  # within the 6 h look-ahead
            record("a4:83:e7:00:00:05", WINDOW_END + timedelta(hours=7)),  # after it
        ],
    )

    frame = load_observations(engine, WINDOW_START, WINDOW_END)

    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == FRAME_DTYPES
    assert len(frame) == 3
    assert frame["first_seen"].tolist() == [
        pd.Timestamp(WINDOW_START - timedelta(days=28)),
        pd.Timestamp(WINDOW_START + timedelta(days=1)),
        pd.Timestamp(WINDOW_END + timedelta(hours=5)),
    ]
    assert (frame["last_seen"] - frame["first_seen"]).dt.total_seconds().tolist() == [50.0] * 3
    assert frame["associated"].tolist() == [False, True, False]
    assert frame["randomized"].tolist() == [False, False, True]
    assert frame["manufacturer"].isna().tolist() == [False, False, True]
    assert frame["ssid"].isna().all()
    assert frame["ap_mac"].unique().tolist() == ["ac:86:74:82:9a:30"]
    assert (frame["rssi_max"].iloc[0], frame["rssi_avg"].iloc[0]) == (-55.0, -62.0)


def test_load_observations_of_an_empty_window_is_typed_and_empty(engine):
    frame = load_observations(engine, WINDOW_START, WINDOW_END, history=timedelta(0))

    assert frame.empty
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == FRAME_DTYPES
