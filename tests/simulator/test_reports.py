"""Reports: valid receiver payload models, vendor-correct JSON, every AP every minute, deterministic by seed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from receiver.vendors.aerohive import AerohivePayload
from receiver.vendors.engenius import EnGeniusPayload
from simulator.layout import default_shop
from simulator.render import to_json
from simulator.run import simulate

SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MODELS = {"engenius": EnGeniusPayload, "aerohive": AerohivePayload}


def bodies(simulation) -> list[bytes]:
    return [to_json(report.payload) for report in simulation.reports()]


@pytest.mark.parametrize("vendor", ["engenius", "aerohive", "mixed"])
def test_every_report_is_a_payload_model_whose_json_the_receiver_reads_back_unchanged(vendor):
    simulation = simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=30), seed=1, vendor=vendor)

    reports = list(simulation.reports())

    assert {r.vendor for r in reports} == ({"engenius", "aerohive"} if vendor == "mixed" else {vendor})
    assert sum(r.size for r in reports) > 500
    for report in reports:
        model = MODELS[report.vendor]
        assert isinstance(report.payload, model)
        assert model.model_validate_json(to_json(report.payload)) == report.payload


def test_every_ap_reports_every_minute_in_time_order_even_when_it_heard_nobody():
    start = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday night: the street is nearly empty
    simulation = simulate(default_shop(), start, start + timedelta(minutes=20), seed=2)

    intervals = list(simulation.intervals())

    assert [i.at for i in intervals] == [start + timedelta(minutes=m + 1) for m in range(20)]
    for interval in intervals:
        assert [r.ap.mac for r in interval.reports] == [ap.mac for ap in default_shop().aps]
        assert all(r.at == interval.at for r in interval.reports)
    empty = [r for i in intervals for r in i.reports if r.size == 0]
    assert empty
    documents = [json.loads(to_json(r.payload)) for r in empty]
    assert all(d.get("probe_requests", d.get("observations")) == [] for d in documents)


def test_engenius_json_has_epoch_seconds_inside_the_interval_and_whole_dbm():
    simulation = simulate(
        default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(minutes=10), seed=3, vendor="engenius"
    )

    for report in simulation.reports():
        document = json.loads(to_json(report.payload))
        assert document["network_id"] == 183920
        assert document["version"] == 1
        assert document["node_mac"] == report.ap.mac
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
        assert document["apMac"] == report.ap.mac.replace(":", "")
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
        simulate(default_shop(), SATURDAY_NOON, None, seed=1, vendor="meraki")
    with pytest.raises(ValueError, match="at least a minute"):
        simulate(default_shop(), SATURDAY_NOON, SATURDAY_NOON + timedelta(seconds=59), seed=1)
