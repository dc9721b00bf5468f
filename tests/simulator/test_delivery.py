"""Delivery: what the simulator sends is exactly what the receiver stores, over HTTP and straight into the database."""

from __future__ import annotations

import csv
import json
import os
import signal
import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import simulator.database
from app.cli import main
from config.settings import ConfigError, Settings
from devices.macs import manufacturer_of, normalize_mac
from devices.pseudonyms import Pseudonymizer
from receiver.auth import verify_engenius_signature
from simulator import truth
from simulator.backfill import backfill_database, split
from simulator.database import DatabaseSink
from simulator.layout import default_shop
from simulator.render import to_json
from simulator.run import VENDORS, feed, simulate
from simulator.send import HttpSink, Sender
from store import db
from store.counts import DEVICE_COUNTS, KEY_COLUMNS
from store.models import Observation
from store.queries import ap_reports
from tests.conftest import AEROHIVE_SECRET, ENGENIUS_KEY, all_observations, make_settings
from tests.servers import PRESENCE, running_receiver
from tests.simulator.test_reports import six_ap_shop

SATURDAY_TEN = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PSEUDONYM_KEY = "simulator-end-to-end"
MERAKI_SECRET = "meraki-test-secret"
MERAKI_VALIDATOR = "meraki-test-validator"
NO_POSITION = (None,) * 5  # x, y, lat, lng, unc


def _coordinate(value) -> float | None:
    return None if value == "NaN" else float(value)


def expected_rows(bodies: list[tuple[str, bytes]], key: bytes) -> list[tuple]:
    """What the receiver must store for these bodies, worked out from the JSON alone (not from our models)."""
    device = Pseudonymizer(key).device_id
    rows = []
    for vendor, body in bodies:
        document = json.loads(body)
        if vendor == "engenius":
            ap = normalize_mac(document["node_mac"])
            for r in document["probe_requests"]:
                mac = normalize_mac(r["mac"])
                first, last = (datetime.fromtimestamp(r[k], UTC) for k in ("first_seen", "last_seen"))
                signals = (r["min_signal"], r["max_signal"], r["avg_signal"], r["last_seen_signal"])
                rows.append(
                    ("engenius", ap, device(mac), manufacturer_of(mac), None, None, r["associated"], first, last)
                    + signals
                    + (r["count"],)
                    + NO_POSITION
                )
        elif vendor == "meraki":
            assert (document["version"], document["type"]) == ("3.0", "WiFi")
            for o in document["data"]["observations"]:
                mac = normalize_mac(o["clientMac"])
                for location in o["locations"]:
                    seen = datetime.strptime(location["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                    position = tuple(_coordinate(location[k]) for k in ("x", "y", "lat", "lng", "variance"))
                    for record in location["rssiRecords"]:
                        rows.append(
                            (
                                "meraki",
                                normalize_mac(record["apMac"]),
                                device(mac),
                                o["manufacturer"] or manufacturer_of(mac),
                                o["os"],
                                o["ssid"],
                                o["ssid"] is not None,
                                seen,
                                seen,
                            )
                            + (record["rssi"],) * 4
                            + (1,)
                            + position
                        )
        else:
            ap = normalize_mac(document["apMac"])
            for o in document["observations"]:
                mac = normalize_mac(o["clientMac"])
                seen = datetime.strptime(o["seenTime"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
                rows.append(
                    (
                        "aerohive",
                        ap,
                        device(mac),
                        o.get("manufacturer") or manufacturer_of(mac),
                        o.get("os"),
                        o.get("ssid"),
                        "ssid" in o,
                        seen,
                        seen,
                    )
                    + (o["rssi"],) * 4
                    + (1,)
                    + NO_POSITION
                )
    return sorted(rows, key=repr)


def meraki_rssi_records(bodies: list[tuple[str, bytes]]) -> list[list[dict]]:
    """The rssiRecords of every location in the Meraki bodies."""
    return [
        location["rssiRecords"]
        for vendor, body in bodies
        if vendor == "meraki"
        for observation in json.loads(body)["data"]["observations"]
        for location in observation["locations"]
    ]


def stored_rows(engine) -> list[tuple]:
    columns = (
        "vendor",
        "ap_mac",
        "device",
        "manufacturer",
        "os",
        "ssid",
        "associated",
        "first_seen",
        "last_seen",
        "rssi_min",
        "rssi_max",
        "rssi_avg",
        "rssi_last",
        "count",
        "x",
        "y",
        "lat",
        "lng",
        "unc",
    )
    return sorted((tuple(row[c] for c in columns) for row in all_observations(engine)), key=repr)


@pytest.mark.slow
def test_three_hours_of_mixed_traffic_are_accepted_and_stored_exactly_by_a_real_receiver(tmp_path):
    env = {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET,
        "PRESENCE_MERAKI_SECRET": MERAKI_SECRET,
        "PRESENCE_MERAKI_VALIDATOR": MERAKI_VALIDATOR,
        "PRESENCE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "PRESENCE_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    settings = Settings.from_env(env)
    shop = six_ap_shop()  # mixed: two APs of each vendor, so the Meraki network's POSTs speak for two APs
    simulation = simulate(shop, SATURDAY_TEN, SATURDAY_TEN + timedelta(hours=3), seed=11, vendor="mixed")
    sent = [(report.vendor, to_json(report.payload)) for report in simulation.reports()]

    with running_receiver(env, workers=2, log=tmp_path / "server.log") as url:
        sender = Sender(url, settings)
        sender.check(set(simulation.vendors), simulation.network_id, simulation.owner_id)  # the validator answers
        wrong = Sender(url, Settings.from_env({**env, "PRESENCE_MERAKI_VALIDATOR": "another-validator"}))
        with pytest.raises(ConfigError, match="not PRESENCE_MERAKI_VALIDATOR"):
            wrong.check({"meraki"}, simulation.network_id, simulation.owner_id)
        wrong.close()
        sink = HttpSink(sender, workers=4)
        feed(simulation, sink)

    assert sink.failures == []
    assert sink.failed == 0
    assert sink.payloads == len(sent) == 3 * 60 * 5  # four APs posting alone, one Meraki network for two
    assert {vendor for vendor, _ in sent} == set(VENDORS)
    assert sum(len(records) > 1 for records in meraki_rssi_records(sent)) > 50  # clients heard by both Meraki APs
    assert sink.stored == sink.observations > 3000
    assert sink.duplicates == 0
    engine = db.make_engine(settings.database_url)
    try:
        assert stored_rows(engine) == expected_rows(sent, PSEUDONYM_KEY.encode())
    finally:
        engine.dispose()


@pytest.mark.parametrize(("vendor", "payloads_per_minute"), [("mixed", 4), ("meraki", 1)])
def test_backfill_into_the_database_stores_what_the_payloads_say(settings, vendor, payloads_per_minute):
    start = SATURDAY_TEN
    simulation, summary = backfill_database(
        settings, start, start + timedelta(hours=2), seed=12, processes=1, vendor=vendor
    )
    sent = [
        (r.vendor, to_json(r.payload))
        for r in simulate(default_shop(), start, simulation.end, seed=12, vendor=vendor).reports()
    ]

    engine = db.make_engine(settings.database_url)
    try:
        assert stored_rows(engine) == expected_rows(sent, settings.pseudonym_key)
    finally:
        engine.dispose()
    assert summary.payloads == len(sent) == 2 * 60 * payloads_per_minute
    assert summary.stored == summary.observations == len(expected_rows(sent, settings.pseudonym_key))
    assert summary.visits["visitor"] > 20
    assert summary.visits["staff"] >= 3


def test_a_backfill_split_over_two_processes_stores_the_same_as_one(tmp_path):
    start = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    end = start + timedelta(hours=12)
    one, two = (make_settings(tmp_path / name, PRESENCE_PSEUDONYM_KEY="same") for name in ("one", "two"))
    assert split(simulate(default_shop(), start, end, seed=1), 2, min_days=0.25) == [
        (start, datetime(2026, 11, 21, tzinfo=default_shop().tz)),
        (datetime(2026, 11, 21, tzinfo=default_shop().tz), end),
    ]

    _, single = backfill_database(one, start, end, seed=13, processes=1)
    _, double = backfill_database(two, start, end, seed=13, processes=2, min_days_per_process=0.25)

    assert (double.payloads, double.observations, double.stored, double.visits) == (
        single.payloads,
        single.observations,
        single.stored,
        single.visits,
    )
    engines = [db.make_engine(s.database_url) for s in (one, two)]
    try:
        assert stored_rows(engines[0]) == stored_rows(engines[1])
    finally:
        for engine in engines:
            engine.dispose()


def test_per_payload_storing_matches_batched_storing(tmp_path):
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url, writer=True)
    db.migrate(engine)
    try:
        sink = DatabaseSink(settings, engine, batch_rows=0)
        feed(simulate(default_shop(), SATURDAY_TEN, SATURDAY_TEN + timedelta(minutes=20), seed=14), sink)
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
    finally:
        engine.dispose()
    assert sink.stored == sink.observations == count > 200


def test_per_payload_storing_records_each_aps_report_as_a_post_does(tmp_path):
    """`presence simulate --live` into the database: each payload's APs get their report in its transaction (the
    Live page's AP status reads them), as many reports and as late as the observations say."""
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url, writer=True)
    db.migrate(engine)
    try:
        sink = DatabaseSink(settings, engine, batch_rows=0)
        feed(simulate(default_shop(), SATURDAY_TEN, SATURDAY_TEN + timedelta(minutes=20), seed=14), sink)
        reports = {report["ap_mac"]: report for report in ap_reports(engine)}
        with engine.connect() as connection:
            heard = connection.execute(
                select(
                    Observation.ap_mac,
                    func.max(Observation.received_at),
                    func.count(Observation.received_at.distinct()),
                ).group_by(Observation.ap_mac)
            ).all()
    finally:
        engine.dispose()
    assert {ap.mac for ap in default_shop().aps} == set(reports)
    for ap_mac, last, posts in heard:
        assert reports[ap_mac]["site"] == settings.site_of(ap_mac)
        assert reports[ap_mac]["last_report_at"] == last <= SATURDAY_TEN + timedelta(minutes=20)
        assert reports[ap_mac]["reports"] >= posts >= 19  # an AP's POST that heard nobody counts too


def test_ctrl_c_during_a_write_is_taken_after_it_and_nothing_is_stored_twice(tmp_path, monkeypatch):
    """Ctrl-C that lands while a batch is being written stops the run after the batch is stored and counted."""
    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url, writer=True)
    db.migrate(engine)
    real_store = simulator.database.store_observations
    pressed = []

    def store_then_ctrl_c(*args, **kwargs):
        result = real_store(*args, **kwargs)
        if not pressed:  # the user presses Ctrl-C once, just after the first commit
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(simulator.database, "store_observations", store_then_ctrl_c)
    try:
        sink = DatabaseSink(settings, engine, batch_rows=0)
        assert feed(simulate(default_shop(), SATURDAY_TEN, SATURDAY_TEN + timedelta(minutes=20), seed=14), sink)
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
    finally:
        engine.dispose()
    assert sink.payloads == 1  # stopped after the first write
    assert (sink.stored, sink.duplicates) == (count, 0)
    assert count > 0


def test_count_only_backfill_batches_counts_as_posting_each_payload_would(tmp_path):
    """Merging a batch's counts in memory gives what the database's MAX merge gives payload by payload."""
    counted = {}
    for batch_rows in (0, 5000):
        settings = make_settings(tmp_path / str(batch_rows), PRESENCE_COUNT_ONLY="1")
        engine = db.make_engine(settings.database_url, writer=True)
        db.migrate(engine)
        try:
            sink = DatabaseSink(settings, engine, batch_rows=batch_rows)
            feed(simulate(default_shop(), SATURDAY_TEN, SATURDAY_TEN + timedelta(minutes=30), seed=15), sink)
            sink.close()
            with engine.connect() as connection:
                assert connection.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
                counted[batch_rows] = connection.execute(
                    select(DEVICE_COUNTS).order_by(*(DEVICE_COUNTS.c[name] for name in KEY_COLUMNS))
                ).all()
        finally:
            engine.dispose()
    assert counted[0] == counted[5000]
    assert len(counted[0]) > 30  # a row per AP and minute heard
    assert max(row.nearby for row in counted[0]) > 0


def test_cli_backfills_the_configured_database_and_writes_the_truth(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PRESENCE_PSEUDONYM_KEY", "cli")
    monkeypatch.delenv("PRESENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRESENCE_CONFIG", raising=False)
    truth_file = tmp_path / "truth.csv"

    assert main(["simulate", "--days", "0.5", "--seed", "21", "--truth", str(truth_file)]) == 0

    output = capsys.readouterr().out
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
    finally:
        engine.dispose()
    assert f"observations: {count} sent, {count} stored, 0 duplicates" in output
    with open(truth_file, newline="") as handle:
        visits = list(csv.DictReader(handle))
    assert tuple(visits[0]) == truth.COLUMNS
    assert f"{sum(v['kind'] == 'passerby' for v in visits)} passerby" in output
    assert all(datetime.fromisoformat(v["start"]) <= datetime.fromisoformat(v["end"]) for v in visits)
    assert all(v["device"] == v["device"].lower() and len(v["device"]) == 17 for v in visits)


def test_cli_help_matches_the_simulators_choices_and_defaults(capsys):
    from app.commands import simulate as command
    from simulator import run, send

    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])

    assert exit_info.value.code == 0
    assert command.VENDOR_CHOICES == run.VENDOR_CHOICES
    assert f"concurrent POSTs to --target (default {send.DEFAULT_WORKERS})" in " ".join(capsys.readouterr().out.split())


def test_cli_refuses_to_send_without_the_vendor_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PRESENCE_AEROHIVE_SECRET", "secret")
    monkeypatch.delenv("PRESENCE_ENGENIUS_KEY", raising=False)
    monkeypatch.delenv("PRESENCE_CONFIG", raising=False)

    assert main(["simulate", "--target", "http://127.0.0.1:9", "--days", "0.01"]) == 2
    assert "needs PRESENCE_ENGENIUS_KEY" in capsys.readouterr().err


def test_cli_refuses_to_send_meraki_without_its_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PRESENCE_MERAKI_SECRET", raising=False)
    monkeypatch.delenv("PRESENCE_CONFIG", raising=False)

    assert main(["simulate", "--target", "http://127.0.0.1:9", "--vendor", "meraki", "--days", "0.01"]) == 2
    assert "needs PRESENCE_MERAKI_SECRET" in capsys.readouterr().err


def test_sender_refuses_a_meraki_target_whose_validator_it_cannot_fetch(tmp_path):
    settings = make_settings(tmp_path, PRESENCE_MERAKI_SECRET=MERAKI_SECRET, PRESENCE_MERAKI_VALIDATOR=MERAKI_VALIDATOR)
    sender = Sender("http://127.0.0.1:9", settings, timeout=2)  # the discard port: nothing listens

    with pytest.raises(ConfigError, match="could not GET http://127.0.0.1:9/ingest/meraki"):
        sender.check({"meraki"}, "any", "any")
    sender.check({"engenius", "aerohive"}, "any", "any")  # no GET unless Meraki is sent
    sender.close()


def test_each_vendors_request_is_authenticated_as_that_vendor_does_it(tmp_path):
    settings = make_settings(tmp_path, PRESENCE_MERAKI_SECRET=MERAKI_SECRET)
    sender = Sender("http://receiver:8000/", settings)
    simulation = simulate(default_shop(), SATURDAY_TEN, SATURDAY_TEN + timedelta(minutes=1), seed=15)

    built = {report.vendor: (report, *sender.request(report)) for report in simulation.reports()}

    report, url, body, headers = built["engenius"]
    assert url == "http://receiver:8000/ingest/engenius"
    assert body == to_json(report.payload)
    verify_engenius_signature(body, headers["Signature"], ENGENIUS_KEY)  # raises if it does not verify
    report, url, body, headers = built["aerohive"]
    assert (url, headers["Authorization"]) == ("http://receiver:8000/ingest/aerohive", f"Bearer {AEROHIVE_SECRET}")
    assert body == to_json(report.payload)
    report, url, body, headers = built["meraki"]
    assert url == "http://receiver:8000/ingest/meraki"
    assert set(headers) == {"Content-Type"}  # Meraki's secret travels in the body
    document = json.loads(body)
    assert document.pop("secret") == MERAKI_SECRET
    assert document == json.loads(to_json(report.payload))
    assert report.payload.secret is None  # the report itself is left as it was


@pytest.mark.slow
def test_live_mode_paces_reports_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = {
        **os.environ,
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_PSEUDONYM_KEY": "live",
        "PRESENCE_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    env.pop("PRESENCE_DATABASE_URL", None)
    env.pop("PRESENCE_CONFIG", None)
    process = subprocess.Popen(
        [PRESENCE, "simulate", "--live", "--speed", "600", "--seed", "5", "--truth", str(tmp_path / "truth.csv")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr.readline().startswith("simulating 4 APs live from")
    time.sleep(2)  # 2 s at 600x: about 20 one-minute intervals
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=30)

    assert process.returncode == 0, errors
    payloads = int(output.split("payloads: ")[1].split()[0])
    assert 4 <= payloads <= 4 * 40  # paced: unpaced, 2 s would have produced thousands
    engine = db.make_engine(f"sqlite:///{tmp_path / 'data' / 'presence.db'}")
    try:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
    finally:
        engine.dispose()
    assert f"observations: {count} sent, {count} stored" in output
    assert (tmp_path / "truth.csv").read_text().startswith(",".join(truth.COLUMNS))


def test_cli_simulates_a_harsh_floor_the_same_people_heard_through_harsher_radio(tmp_path, monkeypatch, capsys):
    """`--floor harsh` keeps the shop and its APs and hears its visitors as a real floor does: phones that differ,
    shadowing and fading spread each AP's readings wider than the default floor's."""
    from app.commands import simulate as command

    monkeypatch.setattr(command, "_now", lambda: datetime(2026, 11, 21, 16, 0, tzinfo=UTC))  # a Saturday afternoon
    monkeypatch.delenv("PRESENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRESENCE_CONFIG", raising=False)
    spreads, truths, aps = {}, {}, {}
    for floor in ("default", "harsh"):
        monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path / floor))
        truth_file = tmp_path / f"{floor}.csv"
        assert main(["simulate", "--days", "0.25", "--seed", "8", "--floor", floor, "--truth", str(truth_file)]) == 0
        engine = db.make_engine(Settings.from_env().database_url)
        try:
            rows = all_observations(engine)
        finally:
            engine.dispose()
        by_ap: dict[str, list[float]] = {}
        for row in rows:
            by_ap.setdefault(row["ap_mac"], []).append(row["rssi_avg"])
        spreads[floor] = statistics.median(statistics.pstdev(values) for values in by_ap.values())
        with truth_file.open() as handle:
            truths[floor] = [row["kind"] for row in csv.DictReader(handle)]
        aps[floor] = set(by_ap)
    capsys.readouterr()

    assert aps["harsh"] == aps["default"]  # the same shop
    assert all(truths[floor].count("visitor") > 50 for floor in truths)
    assert spreads["harsh"] > spreads["default"] + 1.5  # dB
