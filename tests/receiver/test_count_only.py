"""Count-only mode (PRESENCE_COUNT_ONLY=1): the same HTTP contract, per-minute device counts, and no identifier at all
in the database: no observation, no client MAC in any spelling, no pseudonym the normal mode would have made."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import inspect, select, text

from analytics.counts import interval_summary, nearby_now
from app import cli
from config.settings import ConfigError
from devices.pseudonyms import Pseudonymizer
from receiver.app import create_app
from receiver.ingest import Ingestor, decode, parse
from store import quarantine as stored_quarantine
from store.counts import COUNT_ONLY_REFUSAL, DEVICE_COUNTS
from store.queries import ap_reports
from store.records import Normalizer
from tests.conftest import AEROHIVE_SECRET, count_observations, dumps, make_settings, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MERAKI_SECRET = "supersecret"  # the samples' own
AP_1, AP_2, AP_3 = "ac:86:74:00:00:01", "ac:86:74:00:00:02", "ac:86:74:00:00:03"
MINUTE = datetime(2026, 11, 16, 10, 5, tzinfo=UTC)
# A locally administered (randomized) MAC has bit 1 of its first octet set: 0x02, 0x06, 0x0a, 0x0e, ...
PHONE_A, PHONE_B, PHONE_C, PHONE_D = "f0:18:98:00:00:0a", "da:a1:19:00:00:0b", "3c:22:fb:00:00:0c", "6e:00:00:00:00:0d"


@pytest.fixture
def count_settings(tmp_path, database_url):
    config = tmp_path / "presence.toml"
    config.write_text(
        'site = "Main Street"\n'
        f'[[aps]]\nmac = "{AP_1}"\nsite = "Main Street"\n'
        f'[[aps]]\nmac = "{AP_2}"\nsite = "Main Street"\n'
        f'[[aps]]\nmac = "{AP_3}"\nsite = "Harbour"\n'
    )
    return make_settings(
        tmp_path,
        PRESENCE_DATABASE_URL=database_url,
        PRESENCE_COUNT_ONLY="1",
        PRESENCE_CONFIG=str(config),
        PRESENCE_MERAKI_SECRET=MERAKI_SECRET,
    )


@pytest.fixture
def counting(count_settings):
    application = create_app(count_settings)
    yield application
    application.extensions["presence"]["engine"].dispose()


@pytest.fixture
def client(counting):
    return counting.test_client()


@pytest.fixture
def engine(counting):
    return counting.extensions["presence"]["engine"]


def record(mac: str, last_seen: datetime, max_signal: int, associated: bool = False, seconds: int = 20) -> dict:
    """One EnGenius probe record heard up to `last_seen`, at most `max_signal` dBm."""
    return {
        "mac": mac,
        "count": 3,
        "min_signal": max_signal - 10,
        "max_signal": max_signal,
        "avg_signal": max_signal - 5,
        "last_seen_signal": max_signal - 2,
        "first_seen": int(last_seen.timestamp()) - seconds,
        "last_seen": int(last_seen.timestamp()),
        "associated": associated,
    }


def engenius(ap_mac: str, records: list[dict]) -> bytes:
    return dumps({"network_id": 1, "node_mac": ap_mac, "probe_requests": records})


def post(client, body: bytes):
    return client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)})


def counts(engine) -> list[tuple]:
    """Every device_count row as (UTC minute, site, AP, devices, nearby, connected, randomized)."""
    table = DEVICE_COUNTS
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.minute, table.c.site, table.c.ap_mac)).all()
    return [tuple(row) for row in rows]


# --- no identifiers --------------------------------------------------------------------------------------------


def _strings(document: object, keys: set[str]) -> set[str]:
    """Every non-empty string under one of `keys`, anywhere in a JSON document."""
    if isinstance(document, dict):
        found = {str(value).lstrip("/") for key, value in document.items() if key in keys and value}
        return found.union(*(_strings(value, keys) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_strings(value, keys) for value in document))
    return set()


def forbidden(vendor: str, body: bytes, settings) -> set[str]:
    """What must not be stored: each client MAC in every spelling, the pseudonym the normal mode would store for it
    (under this installation's key), and the client's IP addresses and user id where the vendor sends them."""
    macs = {sighting.client_mac for sighting in parse(vendor, decode(body)).sightings}
    assert macs
    pseudonymizer = Pseudonymizer(settings.pseudonym_key)
    values = {pseudonymizer.device_id(mac) for mac in macs}
    for mac in macs:
        bare = mac.replace(":", "")
        values |= {mac, bare, mac.replace(":", "-"), f"{bare[:4]}.{bare[4:8]}.{bare[8:]}"}
    return values | _strings(json.loads(body), {"ipv4", "ipv6", "userId", "clientMac", "mac"})


def stored_values(engine) -> list[tuple[str, str, object]]:
    """Every value of every column of every table, as (table, column, value): not only the text and binary ones,
    as SQLite keeps any value in any column."""
    values = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for column in inspect(connection).get_columns(table):
                query = text(f'SELECT "{column["name"]}" FROM "{table}"')  # names from the schema itself
                values += [(table, column["name"], value) for value in connection.execute(query).scalars() if value]
    return values


def assert_none_stored(engine, values: set[str]) -> None:
    macs = {
        bytes.fromhex(value) for value in values if len(value) == 12 and all(c in "0123456789abcdef" for c in value)
    }
    for table, column, value in stored_values(engine):
        if isinstance(value, memoryview | bytes):
            blob = bytes(value)
            found = [v for v in values if v.lower().encode() in blob.lower()] + [m.hex() for m in macs if m in blob]
        else:
            found = [v for v in values if v.lower() in str(value).lower()]
        assert not found, f"{table}.{column} holds {found}"


SAMPLES = [
    ("engenius", "engenius_sample.json", lambda body: {"Signature": sign(body)}),
    ("aerohive", "aerohive_sample.json", lambda body: {"Authorization": f"Bearer {AEROHIVE_SECRET}"}),
    ("meraki", "meraki_v2_sample.json", lambda body: {}),
    ("meraki", "meraki_v3_sample.json", lambda body: {}),
]


@pytest.mark.parametrize(
    ("vendor", "sample", "headers"), SAMPLES, ids=["engenius", "aerohive", "meraki-v2", "meraki-v3"]
)
def test_each_vendor_is_counted_and_no_identifier_is_stored(client, engine, count_settings, vendor, sample, headers):
    body = (FIXTURES / sample).read_bytes()
    response = client.post(f"/ingest/{vendor}", data=body, headers=headers(body))
    assert response.status_code == 200
    assert set(response.json) <= {"ok", "stored", "duplicates", "ignored"}
    assert response.json["stored"] == len(counts(engine)) > 0
    assert count_observations(engine) == 0
    devices = {sighting.client_mac for sighting in parse(vendor, decode(body)).sightings}
    assert max(row[3] for row in counts(engine)) <= len(devices)
    assert {row[2] for row in counts(engine)} <= {report["ap_mac"] for report in ap_reports(engine)}
    assert_none_stored(engine, forbidden(vendor, body, count_settings))


def test_the_scan_would_find_what_the_normal_mode_stores(tmp_path, database_url):
    """The same POST in the normal mode leaves the pseudonyms the scan looks for (so the scan can fail)."""
    settings = make_settings(tmp_path, PRESENCE_DATABASE_URL=database_url)
    app = create_app(settings)
    body = (FIXTURES / "engenius_sample.json").read_bytes()
    assert post(app.test_client(), body).status_code == 200
    with pytest.raises(AssertionError, match="observation.device holds"):
        assert_none_stored(app.extensions["presence"]["engine"], forbidden("engenius", body, settings))
    app.extensions["presence"]["engine"].dispose()


def test_an_import_counts_too(count_settings, engine, tmp_path):
    """`presence import` and quarantine replays store through the same Ingestor: counts, not observations."""
    ingestor = Ingestor(engine, Normalizer(count_settings))
    body = (FIXTURES / "engenius_sample.json").read_bytes()
    result = ingestor.store(parse("engenius", decode(body)), datetime.now(UTC))
    assert (result.stored, result.duplicates) == (2, 0)  # its three phones were last seen in two minutes
    assert count_observations(engine) == 0
    assert_none_stored(engine, forbidden("engenius", body, count_settings))


# --- counts ----------------------------------------------------------------------------------------------------


def test_distinct_devices_nearby_connected_and_randomized_per_minute(client, engine):
    later = MINUTE + timedelta(minutes=1)
    body = engenius(
        AP_1,
        [
            record(PHONE_A, MINUTE + timedelta(seconds=10), -80),
            record(PHONE_A, MINUTE + timedelta(seconds=50), -60, associated=True),  # the same phone: counted once
            record(PHONE_B, MINUTE + timedelta(seconds=59), -75),  # randomized; at the threshold: nearby
            record(PHONE_C, MINUTE, -76),  # just below it
            record(PHONE_A, later + timedelta(seconds=5), -90),
            record(PHONE_D, later + timedelta(seconds=30), -40),  # randomized
        ],
    )
    assert post(client, body).json == {"ok": True, "stored": 2, "duplicates": 0}
    assert counts(engine) == [
        (MINUTE, "Main Street", AP_1, 3, 2, 1, 1),
        (later, "Main Street", AP_1, 2, 1, 0, 1),
    ]
    assert [(row["reports"], row["records"]) for row in ap_reports(engine)] == [(1, 2)]
    assert count_observations(engine) == 0


def test_each_ap_is_counted_on_its_own(client, engine):
    body = dumps(json.loads((FIXTURES / "meraki_v3_sample.json").read_text()))
    assert client.post("/ingest/meraki", data=body).status_code == 200
    per_ap: dict[str, int] = {}
    for _, _, ap_mac, devices, *_ in counts(engine):
        per_ap[ap_mac] = per_ap.get(ap_mac, 0) + devices
    assert per_ap == {"00:18:0a:13:dd:b0": 1, "00:18:0a:13:dd:b1": 2}


def test_a_redelivered_or_smaller_post_changes_nothing_and_a_larger_one_raises_the_minute(client, engine):
    records = [
        record(PHONE_A, MINUTE, -60, associated=True),
        record(PHONE_B, MINUTE, -70),
        record(PHONE_C, MINUTE, -90),
    ]
    body = engenius(AP_1, records)
    assert post(client, body).json == {"ok": True, "stored": 1, "duplicates": 0}
    assert post(client, body).json == {"ok": True, "stored": 0, "duplicates": 1}
    assert post(client, engenius(AP_1, records[1:])).json == {"ok": True, "stored": 0, "duplicates": 1}
    assert counts(engine) == [(MINUTE, "Main Street", AP_1, 3, 2, 1, 1)]
    # Another POST about the same minute with more connected phones: each column keeps its larger value.
    more = engenius(AP_1, [record(mac, MINUTE, -90, associated=True) for mac in (PHONE_A, PHONE_B)])
    assert post(client, more).json == {"ok": True, "stored": 1, "duplicates": 0}
    assert counts(engine) == [(MINUTE, "Main Street", AP_1, 3, 2, 2, 1)]
    assert [(row["reports"], row["records"]) for row in ap_reports(engine)] == [(4, 2)]


def test_an_empty_report_keeps_the_ap_alive_and_counts_nothing(client, engine):
    assert post(client, engenius(AP_2, [])).json == {"ok": True, "stored": 0, "duplicates": 0}
    assert counts(engine) == []
    assert [(row["ap_mac"], row["reports"], row["records"]) for row in ap_reports(engine)] == [(AP_2, 1, 0)]


def test_an_invalid_post_writes_nothing_and_is_quarantined_without_its_body(client, engine, count_settings):
    records = [record(f"f0:18:98:00:01:{i:02x}", MINUTE, -60) for i in range(20)]
    records[19]["count"] = -1
    body = engenius(AP_1, records)
    response = post(client, body)
    assert response.status_code == 422
    assert "count" in response.json["error"]
    assert counts(engine) == []
    assert ap_reports(engine) == []
    assert count_observations(engine) == 0
    [kept] = stored_quarantine.entries(engine)  # the operator still sees that, and why, a vendor's post was refused
    assert (kept["status"], kept["body_bytes"], kept["truncated"]) == (422, len(body), True)
    assert stored_quarantine.entry(engine, kept["id"])["body"] == b""  # but not the client MACs it carried
    assert_none_stored(engine, forbidden("engenius", engenius(AP_1, records[:19]), count_settings))


FAIL_AP_REPORT = {
    "sqlite": ["CREATE TRIGGER fail BEFORE INSERT ON ap_report BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": [
        "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail BEFORE INSERT ON ap_report FOR EACH ROW EXECUTE FUNCTION fail()",
    ],
}


def test_counts_and_the_ap_report_are_one_transaction(client, engine):
    with engine.begin() as connection:
        for statement in FAIL_AP_REPORT[engine.dialect.name]:
            connection.execute(text(statement))
    response = post(client, engenius(AP_1, [record(PHONE_A, MINUTE, -60)]))
    assert response.status_code == 503
    assert "nothing was stored" in response.json["error"]
    assert counts(engine) == []


# --- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "yes"])
def test_count_only_refuses_raw_macs(tmp_path, raw):
    with pytest.raises(ConfigError, match="PRESENCE_COUNT_ONLY=1 stores no device identifiers"):
        make_settings(tmp_path, PRESENCE_COUNT_ONLY="1", PRESENCE_STORE_RAW_MACS=raw)


def test_count_only_is_off_by_default(tmp_path):
    assert make_settings(tmp_path).count_only is False
    assert make_settings(tmp_path, PRESENCE_COUNT_ONLY="1", PRESENCE_STORE_RAW_MACS="0").count_only is True


# --- presence counts, report, export ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, count_settings, counting):
    """The CLI's environment: the installation the `counting` app writes to, in Amsterdam's time zone."""
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(count_settings.data_dir))
    monkeypatch.setenv("PRESENCE_DATABASE_URL", count_settings.database_url)
    monkeypatch.setenv("PRESENCE_CONFIG", str(count_settings.data_dir.parent / "presence.toml"))
    monkeypatch.setenv("PRESENCE_TIMEZONE", "Europe/Amsterdam")
    monkeypatch.setenv("PRESENCE_COUNT_ONLY", "1")
    monkeypatch.delenv("PRESENCE_STORE_RAW_MACS", raising=False)


@pytest.fixture
def known_counts(client):
    """Two sites; Main Street's two APs hear overlapping phones in the same minute (11:05 CET)."""
    at = MINUTE  # 2026-11-16 10:05 UTC = 11:05 in Amsterdam
    posts = [
        (AP_1, [record(PHONE_A, at, -60, True), record(PHONE_B, at, -70), record(PHONE_C, at, -80)]),
        (AP_2, [record(PHONE_A, at, -50), record(PHONE_D, at, -65, True), record("f0:18:98:00:00:0e", at, -70, True)]),
        (AP_1, [record(PHONE_A, at + timedelta(minutes=1), -60)]),
        (AP_1, [record(PHONE_C, datetime(2026, 11, 16, 12, 30, tzinfo=UTC), -90)]),  # 13:30, not nearby
        (AP_2, [record(mac, datetime(2026, 11, 16, 23, 30, tzinfo=UTC), -60) for mac in (PHONE_A, PHONE_B)]),  # 17th
        (AP_1, [record(mac, datetime(2026, 11, 15, 22, 59, tzinfo=UTC), -60) for mac in (PHONE_A, PHONE_B)]),  # 15th
        (AP_3, [record(PHONE_A, datetime(2026, 11, 17, 8, 0, tzinfo=UTC), -60)]),
    ]
    for ap_mac, records in posts:
        assert post(client, engenius(ap_mac, records)).status_code == 200


def test_counts_per_day_in_site_local_days(cli_env, known_counts, capsys):
    assert cli.main(["counts", "--from", "2026-11-16", "--to", "2026-11-17", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    empty = {"peak_nearby": 0, "avg_nearby": 0.0, "peak_devices": 0, "peak_connected": 0, "minutes_heard": 0}
    assert json.loads(out.out) == [
        {"site": "Harbour", "day": "2026-11-16", **empty},
        {"site": "Harbour", "day": "2026-11-17", **empty, "peak_nearby": 1, "peak_devices": 1, "minutes_heard": 1},
        {
            "site": "Main Street",
            "day": "2026-11-16",
            "peak_nearby": 3,  # AP 2's minute: the busiest AP's, not the 5 phones the two APs heard together
            "avg_nearby": 0.0,  # 3 + 1 nearby-minutes over 1440
            "peak_devices": 3,
            "peak_connected": 2,
            "minutes_heard": 3,
        },
        {"site": "Main Street", "day": "2026-11-17", **empty, "peak_nearby": 2, "peak_devices": 2, "minutes_heard": 1},
    ]


def test_counts_per_day_start_at_the_sites_day_starts(cli_env, known_counts, count_settings, capsys):
    """Main Street's day starts at 04:00: the minute at 00:30 on the 17th (local) counts to the 16th."""
    config = count_settings.data_dir.parent / "presence.toml"
    config.write_text(config.read_text() + '\n[[sites]]\nname = "Main Street"\nday_starts = "04:00"\n')
    assert cli.main(["counts", "--from", "2026-11-16", "--to", "2026-11-17", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    rows = {(row["site"], row["day"]): row for row in json.loads(out.out)}
    assert rows["Main Street", "2026-11-16"] == {
        "site": "Main Street",
        "day": "2026-11-16",
        "peak_nearby": 3,
        "avg_nearby": 0.0,
        "peak_devices": 3,
        "peak_connected": 2,
        "minutes_heard": 4,  # 11:05, 11:06, 13:30 and 00:30 the next night
    }
    assert rows["Main Street", "2026-11-17"]["minutes_heard"] == 0
    assert rows["Harbour", "2026-11-17"]["minutes_heard"] == 1  # Harbour keeps midnight


def test_counts_per_hour_as_csv(cli_env, known_counts, capsys):
    assert (
        cli.main(["counts", "--from", "2026-11-16", "--to", "2026-11-16", "--format", "csv", "--interval", "hour"]) == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 24  # Harbour has no counts on the 16th
    assert list(rows[0]) == [
        "site",
        "hour",
        "peak_nearby",
        "avg_nearby",
        "peak_devices",
        "peak_connected",
        "minutes_heard",
    ]
    busy = {row["hour"]: row for row in rows if row["minutes_heard"] != "0"}
    assert busy == {
        "2026-11-16T11:00:00+01:00": {
            "site": "Main Street", "hour": "2026-11-16T11:00:00+01:00", "peak_nearby": "3", "avg_nearby": "0.07",
            "peak_devices": "3", "peak_connected": "2", "minutes_heard": "2",
        },
        "2026-11-16T13:00:00+01:00": {
            "site": "Main Street", "hour": "2026-11-16T13:00:00+01:00", "peak_nearby": "0", "avg_nearby": "0.0",
            "peak_devices": "1", "peak_connected": "0", "minutes_heard": "1",
        },
    }  # fmt: skip


def test_counts_as_text(cli_env, known_counts, capsys):
    assert cli.main(["counts", "--from", "2026-11-16", "--to", "2026-11-16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Device counts 2026-11-16 to 2026-11-16, per day (Europe/Amsterdam)"
    assert lines[-3:] == [
        "Main Street",
        "Day             peak nearby      avg nearby    peak devices  peak connected   minutes heard",
        "2026-11-16                3             0.0               3               2               3",
    ]


def test_counts_without_count_only_mode_says_so(cli_env, monkeypatch, capsys):
    monkeypatch.setenv("PRESENCE_COUNT_ONLY", "0")
    assert cli.main(["counts", "--from", "2026-11-16", "--to", "2026-11-16"]) == 0
    out = capsys.readouterr()
    assert "PRESENCE_COUNT_ONLY is not set" in out.err
    assert "No device counts in this window." in out.out


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["report", "--from", "2026-11-16", "--to", "2026-11-17"], "presence report: "),
        (["report", "--from", "2026-11-16", "--to", "2026-11-17", "--format", "json"], "presence report: "),
        (["export", "visits", "--from", "2026-11-16", "--to", "2026-11-17"], "presence export: "),
        (["export", "observations", "--format", "json"], "presence export: "),
    ],
)
def test_report_and_export_refuse_in_count_only_mode(cli_env, known_counts, capsys, argv, prefix):
    assert cli.main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == prefix + COUNT_ONLY_REFUSAL + "\n"


# --- analytics -------------------------------------------------------------------------------------------------


def site_minutes(*rows: tuple[str, str, int, int, int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["site", "minute", "devices", "nearby", "connected"])
    return frame.assign(minute=pd.to_datetime(frame["minute"], utc=True), randomized=0)


def test_hours_when_the_clocks_go_back_are_two_intervals():
    amsterdam = ZoneInfo("Europe/Amsterdam")
    start, end = datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)  # 25 local hours
    minutes = site_minutes(("Shop", "2026-10-25 00:30", 4, 3, 1), ("Shop", "2026-10-25 01:10", 2, 2, 0))
    hours = interval_summary(minutes, start, end, amsterdam, "hour")
    assert len(hours) == 25
    at_two = hours.loc[hours["start"].dt.hour == 2]
    assert [str(moment) for moment in at_two["start"]] == ["2026-10-25 02:00:00+02:00", "2026-10-25 02:00:00+01:00"]
    assert at_two["peak_nearby"].tolist() == [3, 2]
    day = interval_summary(minutes, start, end, amsterdam, "day")
    assert day[["peak_nearby", "peak_devices", "minutes_heard"]].to_numpy().tolist() == [[3, 4, 2]]
    assert day["avg_nearby"].item() == pytest.approx(5 / (25 * 60))


def test_nearby_now_is_the_busiest_recent_minute_per_site():
    minutes = site_minutes(
        ("Shop", "2026-11-16 10:00", 9, 9, 0),  # too long ago
        ("Shop", "2026-11-16 10:06", 5, 2, 0),
        ("Shop", "2026-11-16 10:09", 5, 4, 0),
        ("Kiosk", "2026-11-16 09:00", 1, 1, 0),
    )
    now = datetime(2026, 11, 16, 10, 10, 30, tzinfo=UTC)
    assert nearby_now(minutes, now).to_dict() == {"Kiosk": 0, "Shop": 4}


# --- dashboard view (moves to tests/dashboard when the page is wired into the router) ---------------------------


def test_the_counts_view_shows_now_and_a_chart_per_site(cli_env, client, count_settings):
    import vl_convert
    from streamlit.testing.v1 import AppTest

    from app.dashboard import filters

    now = datetime.now(UTC)
    for ap_mac, phones in [(AP_1, (PHONE_A, PHONE_B)), (AP_3, (PHONE_C,))]:
        assert post(client, engenius(ap_mac, [record(mac, now, -60) for mac in phones])).status_code == 200
    view = Path(__file__).resolve().parents[2] / "app" / "dashboard" / "views" / "counts.py"
    test = AppTest.from_file(str(view), default_timeout=60)
    today = now.astimezone(ZoneInfo("Europe/Amsterdam")).date()
    test.session_state["presence.selection"] = filters.Selection(today - timedelta(days=1), today)
    test.run()
    assert not test.exception, [exception.message for exception in test.exception]
    assert not test.error, [error.value for error in test.error]
    assert {metric.label: metric.value for metric in test.metric} == {
        "Nearby now · Harbour": "1",
        "Nearby now · Main Street": "2",
    }
    assert [subheader.value for subheader in test.subheader] == ["Harbour", "Main Street"]
    specs = [json.loads(chart.proto.spec) for chart in test.get("vega_lite_chart")]
    assert len(specs) == 2
    for spec in specs:  # Vega renders it: a field name it cannot parse fails here, not only in the browser
        assert "<path" in vl_convert.vegalite_to_svg(spec)


def test_the_dashboard_of_a_count_only_installation_opens_on_counts(cli_env, client):
    from streamlit.testing.v1 import AppTest

    now = datetime.now(UTC)
    assert post(client, engenius(AP_1, [record(PHONE_A, now, -60), record(PHONE_B, now, -80)])).status_code == 200
    router = Path(__file__).resolve().parents[2] / "app" / "dashboard" / "streamlit_app.py"
    test = AppTest.from_file(str(router), default_timeout=60)
    test.run()
    assert not test.exception, [exception.message for exception in test.exception]
    assert [title.value for title in test.title] == ["Counts"]  # not Live, and not Get started: counts are data
    assert {metric.label: metric.value for metric in test.metric} == {"Nearby now": "1"}


def test_status_says_count_only_and_when_the_newest_count_is(cli_env, known_counts, capsys):
    assert cli.main(["status", "--format", "json"]) in (0, 1)  # the test's APs reported days ago: silent
    report = json.loads(capsys.readouterr().out)
    assert (report["count_only"], report["observations"]) == (True, 0)
    assert report["newest_count_minute"] == "2026-11-17T08:00:00Z"
    assert {ap["ap_mac"] for ap in report["aps"]} == {AP_1, AP_2, AP_3}
    cli.main(["status"])
    assert "count-only mode (no device identifiers), newest count 2026-11-17T08:00:00Z" in capsys.readouterr().out
