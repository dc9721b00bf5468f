"""Retired APs on the Live page: listed as retired, never in the silent-AP warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from app import cli
from app.dashboard import data, tables
from config.settings import Settings
from simulator.layout import default_shop
from store import db
from store.models import APReport
from tests.dashboard.conftest import Shop, yesterday_at
from tests.dashboard.test_pages import app, assert_clean

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MACS = {ap.name: ap.mac for ap in default_shop().aps}


def test_ap_status_marks_retired_aps_and_never_calls_them_silent() -> None:
    last_seen = pd.Series(
        pd.to_datetime([NOW - timedelta(hours=3), NOW - timedelta(minutes=1)], utc=True),
        index=["aa:00:00:00:00:01", "aa:00:00:00:00:02"],
    )
    names = {"aa:00:00:00:00:01": "Entrance", "aa:00:00:00:00:03": "Back"}
    status = tables.ap_status(
        last_seen, names, NOW, timedelta(minutes=10), UTC, ["aa:00:00:00:00:01", "aa:00:00:00:00:03"]
    )
    assert status[["name", "silent", "retired", "status"]].to_dict("records") == [
        {"name": "Back", "silent": False, "retired": True, "status": "retired"},
        {"name": "Entrance", "silent": False, "retired": True, "status": "retired"},
        {"name": "aa:00:00:00:00:02", "silent": False, "retired": False, "status": "✓ reporting"},
    ]


@pytest.mark.slow
def test_live_leaves_retired_aps_out_of_the_warning_and_says_which_are_retired(
    simulated_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = yesterday_at(simulated_shop, 15) + timedelta(days=2)  # every AP silent for a day...
    monkeypatch.setattr(data, "clock", lambda: later)
    engine = db.make_engine(Settings.from_env().database_url)
    with engine.begin() as connection:  # ...but Checkout, which reported a minute ago
        table = APReport.__table__
        connection.execute(
            table.update().where(table.c.ap_mac == MACS["Checkout"]).values(last_report_at=later - timedelta(minutes=1))
        )
    engine.dispose()
    assert cli.main(["aps", "retire", MACS["Entrance"].upper()]) == 0
    assert cli.main(["aps", "retire", MACS["Back"].replace(":", "")]) == 0
    test = app("live")
    assert_clean(test)
    assert [warning.value for warning in test.warning] == ["**Silent for over 10 minutes:** Fitting rooms"]
    captions = [caption.value for caption in test.caption]
    assert any(caption.startswith("Retired, never warned about: Back, Entrance") for caption in captions)
    shown = test.dataframe[0].value
    assert dict(zip(shown["name"], shown["status"], strict=True)) == {
        "Checkout": "✓ reporting",
        "Fitting rooms": "⚠ silent",
        "Back": "retired",
        "Entrance": "retired",
    }


@pytest.mark.slow
def test_live_shows_no_warning_when_every_silent_ap_is_retired(
    simulated_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = yesterday_at(simulated_shop, 15) + timedelta(days=2)
    monkeypatch.setattr(data, "clock", lambda: later)
    for mac in MACS.values():
        assert cli.main(["aps", "retire", mac]) == 0
    test = app("live")
    assert_clean(test)
    assert not test.warning
