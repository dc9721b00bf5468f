"""`presence report` and `presence export visits` on a database filled through the receiver."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.cli import main
from devices.pseudonyms import Pseudonymizer
from store.models import OBSERVATION_EXPORT_COLUMNS
from tests.conftest import dumps, sign

AP = "ac:86:74:82:9a:30"
VISITOR, PASSERBY = "a4:83:e7:00:00:01", "a4:83:e7:00:00:02"
MORNING = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam, Monday 9 November


def sightings(mac: str, start: datetime, minutes: int, **extra) -> list[dict]:
    moments = [int((start + timedelta(minutes=m)).timestamp()) for m in range(minutes + 1)]
    return [
        {
            "mac": mac,
            "count": 1,
            "min_signal": -60,
            "max_signal": -60,
            "avg_signal": -60,
            "last_seen_signal": -60,
            "first_seen": moment,
            "last_seen": moment,
            **extra,
        }
        for moment in moments
    ]


@pytest.fixture
def shop(client, settings, tmp_path, monkeypatch):
    """A visitor (heard for 30 min, associated) and a passerby (2 min), and the environment the CLI reads.

    Their dwell is the estimated stay (the default, analytics.stays): the span heard plus the expected unheard
    time at each end. The visitor, heard every minute, gets half a minute at each end: 31 minutes."""
    records = sightings(VISITOR, MORNING, 30, associated=True) + sightings(PASSERBY, MORNING, 2)
    body = dumps({"network_id": 1, "node_mac": AP, "version": 1, "probe_requests": records})
    assert client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)}).status_code == 200
    config = tmp_path / "presence.toml"
    config.write_text(f'[[aps]]\nmac = "{AP}"\nname = "Shop floor"\nsite = "default"\n')
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PRESENCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PRESENCE_TIMEZONE", "Europe/Amsterdam")
    monkeypatch.setenv("PRESENCE_CONFIG", str(config))
    return Pseudonymizer(settings.pseudonym_key).device_id


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_report_json(shop, capsys):
    report = json.loads(run(capsys, "report", "--from", "2026-11-09", "--to", "2026-11-10", "--format", "json"))

    assert (report["from"], report["to"]) == ("2026-11-09", "2026-11-10")
    assert (report["visitors"], report["passersby"], report["connected"], report["visits"]) == (1, 1, 1, 1)
    assert report["capture_rate"] == 0.5
    assert report["dwell_minutes"] == {"median": 31.0, "mean": 31.0, "p90": 31.0}
    assert report["zones"] == [{"zone": "Shop floor", "visitors": 1, "visits": 1, "median_dwell_minutes": 31.0}]
    assert report["peak_occupancy"] == {"count": 1, "at": "2026-11-09T09:59:30+01:00"}  # the estimated arrival
    assert [day["visitors"] for day in report["daily"]] == [1, 0]


def test_report_filters_reach_the_analytics(shop, capsys):
    report = json.loads(
        run(
            capsys,
            *("report", "--from", "2026-11-09", "--to", "2026-11-09", "--format", "json"),
            *("--manufacturer", "apple", "--ap", AP.upper().replace(":", "-"), "--zone", "shop floor"),
            "--exclude-randomized",
        )
    )

    assert report["filters"] == {
        "ssid": None,
        "manufacturer": "apple",
        "ap": AP,
        "zone": "shop floor",
        "exclude_randomized": True,
        "sites": [],
        "open_hours": False,
    }
    assert (report["visitors"], report["passersby"]) == (1, 1)
    assert (
        json.loads(
            run(capsys, "report", "--from", "2026-11-09", "--to", "2026-11-09", "--format", "json", "--ssid", "guest")
        )["visitors"]
        == 0
    )  # EnGenius reports carry no SSID


def test_report_csv_is_flat_key_value_rows(shop, capsys):
    rows = list(
        csv.reader(io.StringIO(run(capsys, "report", "--from", "2026-11-09", "--to", "2026-11-09", "--format", "csv")))
    )
    values = dict(rows[1:])

    assert rows[0] == ["key", "value"]
    assert values["visitors"] == "1"
    assert values["dwell_minutes.median"] == "31.0"
    assert values["dwell_buckets.20-60"] == "1"
    assert values["zones.Shop floor.visits"] == "1"
    assert values["daily.2026-11-09.passersby"] == "1"
    assert values["filters.ssid"] == ""


def test_report_text_is_a_readable_summary(shop, capsys):
    text = run(capsys, "report", "--from", "2026-11-09", "--to", "2026-11-09")

    assert text.startswith("Presence report 2026-11-09 to 2026-11-09 (filters: none)\n")
    assert "Visitors          1 (1 connected, 1 visits)" in text
    assert "Capture rate      50.0 %" in text
    assert "Shop floor" in text


def test_report_refuses_a_reversed_window_and_an_unknown_ap_or_zone_naming_the_known_ones(shop, capsys):
    assert main(["report", "--from", "2026-11-09", "--to", "2026-11-08"]) == 2
    assert main(["report", "--from", "2026-11-09", "--to", "2026-11-09", "--ap", "not-a-mac"]) == 2
    assert "--ap 'not-a-mac' is no known AP; known APs: Shop floor (ac:86:74:82:9a:30)" in capsys.readouterr().err
    assert main(["report", "--from", "2026-11-09", "--to", "2026-11-09", "--ap", "00:00:00:00:00:01"]) == 2
    assert main(["report", "--from", "2026-11-09", "--to", "2026-11-09", "--zone", "Basement"]) == 2
    assert "--zone 'Basement' is no known zone; known zones: Shop floor" in capsys.readouterr().err


def test_an_ap_is_given_by_its_name_or_its_mac(shop, capsys):
    window = ["report", "--from", "2026-11-09", "--to", "2026-11-09", "--format", "json"]
    by_name = json.loads(run(capsys, *window, "--ap", "shop FLOOR"))
    by_mac = json.loads(run(capsys, *window, "--ap", "AC-86-74-82-9A-30"))
    assert by_name == by_mac
    assert by_name["filters"]["ap"] == "ac:86:74:82:9a:30"
    assert by_name["visitors"] == json.loads(run(capsys, *window))["visitors"] > 0


def test_export_visits_csv_and_json(shop, capsys):
    device_id = shop
    rows = list(
        csv.DictReader(io.StringIO(run(capsys, "export", "visits", "--from", "2026-11-09", "--to", "2026-11-09")))
    )
    as_json = json.loads(
        run(capsys, "export", "visits", "--from", "2026-11-09", "--to", "2026-11-09", "--format", "json")
    )

    assert list(rows[0]) == [
        "device",
        "first_seen",
        "last_seen",
        "dwell_minutes",
        "max_rssi",
        "category",
        "associated",
        "ssid",
        "manufacturer",
        "randomized",
        "zone",
    ]
    by_device = {row["device"]: row for row in as_json}
    visitor, passerby = by_device[device_id(VISITOR)], by_device[device_id(PASSERBY)]
    assert visitor == {
        "device": device_id(VISITOR),
        "first_seen": "2026-11-09T09:00:00Z",
        "last_seen": "2026-11-09T09:30:00Z",
        "dwell_minutes": 31.0,
        "max_rssi": -60.0,
        "category": "visitor",
        "associated": True,
        "ssid": None,
        "manufacturer": visitor["manufacturer"],
        "randomized": False,
        "zone": "Shop floor",
    }
    # Heard for 2 minutes, three probes; with the unassociated prior (probes 1-4 min apart) a minute at each end.
    assert (passerby["category"], passerby["dwell_minutes"], passerby["associated"]) == ("passerby", 4.0, False)
    assert len(rows) == 2


def test_export_observations_is_unchanged(shop, capsys):
    rows = list(csv.reader(io.StringIO(run(capsys, "export", "observations", "--from", "2026-11-09"))))

    assert rows[0] == list(OBSERVATION_EXPORT_COLUMNS)
    assert len(rows) == 1 + 31 + 3


def test_visits_built_with_the_span_are_refused_with_what_to_do_then_rebuilt(shop, capsys, monkeypatch):
    """An installation upgraded from the span (or that changed its measure) is told to rebuild, not shown a
    traceback; `presence rebuild` recomputes the visits with the configured measure."""
    window = ["--from", "2026-11-09", "--to", "2026-11-09", "--format", "json"]
    monkeypatch.setenv("PRESENCE_DWELL_ESTIMATE", "span")
    assert json.loads(run(capsys, "report", *window))["dwell_minutes"]["median"] == 30.0
    monkeypatch.delenv("PRESENCE_DWELL_ESTIMATE")
    assert main(["report", *window]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("presence report: the visits were built with other analytics settings: ")
    assert "dwell_estimate span (asked for: recurrence)" in out.err
    assert "run `presence rebuild`" in out.err
    assert "PRESENCE_DWELL_ESTIMATE=span" in out.err
    assert main(["rebuild"]) == 0
    capsys.readouterr()
    assert json.loads(run(capsys, "report", *window))["dwell_minutes"]["median"] == 31.0
