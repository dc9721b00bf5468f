"""Reports: valid receiver payload models, vendor-correct JSON, every AP every minute, deterministic by seed."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from devices.macs import normalize_mac
from receiver.ingest import parse
from receiver.vendors import aerohive, engenius, meraki
from receiver.vendors.aerohive import AerohivePayload
from receiver.vendors.engenius import EnGeniusPayload
from receiver.vendors.meraki import MerakiPayloadV3
from simulator import render
from simulator.layout import Shop, ShopAP, default_shop
from simulator.render import to_json
from simulator.run import VENDORS, simulate

SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MODELS = {"engenius": EnGeniusPayload, "aerohive": AerohivePayload, "meraki": MerakiPayloadV3}
SIGHTINGS = {"engenius": engenius.sightings, "aerohive": aerohive.sightings, "meraki": meraki.sightings}


def bodies(simulation) -> list[bytes]:
    return [to_json(report.payload) for report in simulation.reports()]


@pytest.mark.parametrize("vendor", ["engenius", "aerohive", "meraki", "mixed"])
def test_every_report_is_a_payload_model_whose_json_the_receiver_reads_back_unchanged(vendor):
    simulation = simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=30), seed=1, vendor=vendor)

    reports = list(simulation.reports())

    assert {r.vendor for r in reports} == (set(VENDORS) if vendor == "mixed" else {vendor})
    assert sum(r.size for r in reports) > 500
    for report in reports:
        model = MODELS[report.vendor]
        assert isinstance(report.payload, model)
        assert model.model_validate_json(to_json(report.payload)) == report.payload


@pytest.mark.parametrize("vendor", ["engenius", "aerohive", "meraki"])
def test_the_receivers_parse_of_every_body_gives_the_sightings_of_the_payload_model(vendor):
    simulation = simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=15), seed=5, vendor=vendor)
    heard = 0

    for report in simulation.reports():
        parsed = parse(vendor, json.loads(to_json(report.payload)))

        assert parsed.vendor == vendor
        assert parsed.sightings == SIGHTINGS[vendor](report.payload)
        assert len(parsed.sightings) == report.size
        assert {s.ap_mac for s in parsed.sightings} <= {ap.mac for ap in report.aps}
        heard += report.size
    assert heard > 200


def test_every_ap_reports_every_minute_in_time_order_even_when_it_heard_nobody():
    start = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday night: the street is nearly empty
    simulation = simulate(default_shop(), start, start + timedelta(minutes=20), seed=2)

    intervals = list(simulation.intervals())

    assert [i.at for i in intervals] == [start + timedelta(minutes=m + 1) for m in range(20)]
    for interval in intervals:
        assert [r.aps for r in interval.reports] == [(ap,) for ap in default_shop().aps]
        assert [r.vendor for r in interval.reports] == ["engenius", "aerohive", "meraki", "engenius"]
        assert all(r.at == interval.at for r in interval.reports)
    empty = [r for i in intervals for r in i.reports if r.size == 0]
    assert {r.vendor for r in empty} == set(VENDORS)
    documents = [json.loads(to_json(r.payload)) for r in empty]
    assert all(
        d.get("probe_requests", d.get("observations", d.get("data", {}).get("observations"))) == [] for d in documents
    )


def test_meraki_aps_post_once_per_minute_for_the_whole_network_in_the_place_of_the_first():
    shop = six_ap_shop()
    start = SATURDAY_NOON
    only = list(simulate(shop, start, start + timedelta(minutes=5), seed=6, vendor="meraki").intervals())
    mixed = list(simulate(shop, start, start + timedelta(minutes=5), seed=6, vendor="mixed").intervals())

    assert [[(r.vendor, r.aps) for r in i.reports] for i in only] == [[("meraki", shop.aps)]] * 5
    assert [(r.vendor, r.name) for r in mixed[0].reports] == [
        ("engenius", "Entrance"),
        ("aerohive", "Checkout"),
        ("meraki", "Fitting rooms, Stockroom"),
        ("engenius", "Back"),
        ("aerohive", "Window"),
    ]


def test_engenius_json_has_epoch_seconds_inside_the_interval_and_whole_dbm():
    simulation = simulate(
        default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=10), seed=3, vendor="engenius"
    )

    for report in simulation.reports():
        document = json.loads(to_json(report.payload))
        assert document["network_id"] == 183920
        assert document["version"] == 1
        assert [document["node_mac"]] == [ap.mac for ap in report.aps]
        end = int(report.at.timestamp())
        for record in document["probe_requests"]:
            assert set(record) == {
                "mac",
                "count",
                "min_signal",
                "max_signal",
                "avg_signal",
                "last_seen_signal",
                "first_seen",
                "last_seen",
                "associated",
            }
            assert all(type(record[key]) is int for key in ("first_seen", "last_seen", "min_signal", "avg_signal"))
            assert end - 60 <= record["first_seen"] <= record["last_seen"] < end
            assert record["min_signal"] <= record["avg_signal"] <= record["max_signal"] >= record["last_seen_signal"]
            assert record["count"] >= 1


def test_aerohive_json_has_plus_0000_times_millisecond_epochs_and_ssid_only_when_associated():
    simulation = simulate(
        default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=10), seed=3, vendor="aerohive"
    )
    observations = []

    for report in simulation.reports():
        document = json.loads(to_json(report.payload))
        assert document["ownerId"] == "1082983976"
        assert [document["apMac"]] == [ap.mac.replace(":", "") for ap in report.aps]
        observations += [(report, o) for o in document["observations"]]

    assert any("ssid" in o for _, o in observations)
    assert any("ssid" not in o for _, o in observations)
    for report, observation in observations:
        seen = datetime.strptime(observation["seenTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
        assert observation["seenTime"].endswith("+0000")
        assert observation["seenEpoch"] == round(seen.timestamp() * 1000)
        assert report.at - timedelta(minutes=1) <= seen < report.at
        assert len(observation["clientMac"]) == 12
        assert ("os" in observation) == ("ssid" in observation)
        assert observation["ssid"] in {"Guest", "Staff"} if "ssid" in observation else True


def test_meraki_json_is_v3_wifi_by_client_with_z_times_negative_dbm_and_nan_where_not_located():
    shop = default_shop()
    simulation = simulate(shop, SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=10), seed=3, vendor="meraki")
    aps = {ap.mac: ap for ap in shop.aps}
    located = unlocated = 0

    for report in simulation.reports():
        document = json.loads(to_json(report.payload))
        assert set(document) == {"version", "type", "data"}  # the secret is the sender's to add
        assert (document["version"], document["type"]) == ("3.0", "WiFi")
        assert document["data"]["networkId"] == "N_24329156"
        clients = [o["clientMac"] for o in document["data"]["observations"]]
        assert len(clients) == len(set(clients))  # organized by client: one observation each
        for observation in document["data"]["observations"]:
            assert set(observation) == {"clientMac", "ipv4", "ssid", "os", "manufacturer", "locations"}
            assert observation["clientMac"] == normalize_mac(observation["clientMac"])
            assert observation["ssid"] in {None, "Guest", "Staff"}
            assert observation["os"] in ({None} if observation["ssid"] is None else {"iOS", "Android"})
            [location] = observation["locations"]
            seen = datetime.strptime(location["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert report.at - timedelta(minutes=1) <= seen < report.at
            records = location["rssiRecords"]
            assert {r["apMac"] for r in records} <= set(aps)
            assert all(type(r["rssi"]) is int and -92 <= r["rssi"] < 0 for r in records)
            nearest = aps[max(records, key=lambda r: r["rssi"])["apMac"]]
            assert location["nearestApTags"] == ["-".join(nearest.name.lower().split())]
            coordinates = [location[name] for name in ("x", "y", "lat", "lng", "variance")]
            if len(records) < render.MERAKI_MIN_APS_TO_LOCATE:
                assert coordinates == ["NaN"] * 5
                unlocated += 1
                continue
            located += 1
            x, y, lat, lng, variance = coordinates
            assert shop.x_min <= x <= shop.x_max
            assert shop.y_min <= y <= shop.y_max
            assert variance >= 0
            assert lat == pytest.approx(37.7749295 + y / 111_000, abs=1e-6)
            assert lng == pytest.approx(-122.4194155 + x / (111_000 * math.cos(math.radians(37.7749295))), abs=1e-6)
    assert located > 10
    assert unlocated > 10


def test_meraki_says_per_client_what_aerohive_says_per_ap_for_the_same_world():
    """Same seed, same frames: each Meraki client's rssiRecords are the Aerohive observations of it in that minute,
    and its location's time is the latest of their times, in whole seconds."""
    window = (SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=10))
    shop = default_shop()
    by_aerohive: dict[tuple[datetime, str], dict] = defaultdict(lambda: {"records": set(), "seen": []})
    for report in simulate(shop, *window, seed=8, vendor="aerohive").reports():
        for observation in report.payload.observations:
            client = by_aerohive[(report.at, observation.clientMac)]
            client["records"].add((report.payload.apMac, observation.rssi))
            client["seen"].append(observation.seenTime)
            client["ssid"] = client.get("ssid") or observation.ssid
            client["manufacturer"] = observation.manufacturer
    by_meraki = {}
    for report in simulate(shop, *window, seed=8, vendor="meraki").reports():
        for observation in report.payload.data.observations:
            [location] = observation.locations
            by_meraki[(report.at, observation.clientMac)] = (observation, location)

    assert by_meraki.keys() == by_aerohive.keys()
    several = 0
    for key, (observation, location) in by_meraki.items():
        expected = by_aerohive[key]
        assert {(r.apMac, r.rssi) for r in location.rssiRecords} == expected["records"]
        assert location.time == max(expected["seen"]).replace(microsecond=0)
        assert (observation.ssid, observation.manufacturer) == (expected["ssid"], expected["manufacturer"])
        several += len(location.rssiRecords) > 1
    assert several > 50  # clients heard by several APs in a minute: one location listing each


def test_the_same_seed_gives_the_same_bytes_and_truth_and_another_seed_does_not():
    def run(seed: int):
        simulation = simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(hours=1), seed=seed)
        return bodies(simulation), simulation.truth()

    first, second, other = run(7), run(7), run(8)

    assert first == second
    assert first[0] != other[0]
    assert first[1] != other[1]


def test_a_day_comes_out_the_same_whichever_window_it_is_simulated_in():
    whole = simulate(default_shop(), SATURDAY_NOON - timedelta(hours=12), SATURDAY_NOON + timedelta(hours=12), seed=4)
    part = simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=30), seed=4)

    part_reports = [(r.at, to_json(r.payload)) for r in part.reports()]
    whole_reports = [(r.at, to_json(r.payload)) for r in whole.reports() if r.at in {at for at, _ in part_reports}]

    assert part_reports == whole_reports
    assert {v.device for v in part.truth()} <= {v.device for v in whole.truth()}


def test_simulations_refuse_naive_times_unknown_vendors_and_empty_windows():
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate(default_shop(), datetime(2026, 11, 21), None, seed=1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="vendor must be one of"):
        simulate(default_shop(), SATURDAY_NOON, None, seed=1, vendor="cisco")
    with pytest.raises(ValueError, match="at least a minute"):
        simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(seconds=59), seed=1)


def six_ap_shop() -> Shop:
    """The default shop with two more APs, so that `mixed` gives Meraki two of them."""
    return Shop(
        aps=(
            *default_shop().aps,
            ShopAP(mac="88:dc:96:10:00:05", name="Window", x=25.0, y=2.0),
            ShopAP(mac="88:dc:96:10:00:06", name="Stockroom", x=28.0, y=19.0),
        ),
        x_min=0.0,
        x_max=30.0,
        y_min=0.0,
        y_max=20.0,
        door_x=5.0,
    )
