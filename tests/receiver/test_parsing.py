"""Field parsing: MACs, timestamps, signal levels, and the vendor payload models, with property tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.macs import is_randomized, manufacturer_of, normalize_mac
from receiver.vendors import aerohive, engenius
from receiver.vendors.types import epoch_to_datetime, iso_to_datetime

octets = st.lists(st.integers(0, 255), min_size=6, max_size=6)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AC:86:74:82:9A:30", "ac:86:74:82:9a:30"),
        ("3a1e6d8c785c", "3a:1e:6d:8c:78:5c"),
        ("3A-1E-6D-8C-78-5C", "3a:1e:6d:8c:78:5c"),
        ("3a1e.6d8c.785c", "3a:1e:6d:8c:78:5c"),
        (" ac:86:74:82:9a:30 ", "ac:86:74:82:9a:30"),
    ],
)
def test_macs_normalize_to_lowercase_colon_form(raw, expected):
    assert normalize_mac(raw) == expected


@pytest.mark.parametrize("raw", ["", "ac:86:74:82:9a", "ac:86:74:82:9a:3g", "ac8674829a300", "not a mac", "::::::"])
def test_invalid_macs_are_refused(raw):
    with pytest.raises(ValueError, match="is not a MAC address"):
        normalize_mac(raw)


@given(octets, st.sampled_from([":", "-", ""]), st.booleans())
def test_any_spelling_of_a_mac_normalizes_to_the_same_value(values, separator, upper):
    canonical = ":".join(f"{v:02x}" for v in values)
    spelled = separator.join(f"{v:02x}" for v in values)
    assert normalize_mac(spelled.upper() if upper else spelled) == canonical
    assert is_randomized(canonical) == bool(values[0] & 0x02)


def test_randomized_macs_have_no_manufacturer_and_real_ouis_do():
    assert manufacturer_of("f0:18:98:00:00:01") == "Apple, Inc."
    assert manufacturer_of("ac:86:74:82:9a:30") == "Open Mesh, Inc."
    assert manufacturer_of("da:a1:19:5e:02:3b") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1763889601, datetime(2025, 11, 23, 9, 20, 1, tzinfo=UTC)),
        (1763889601000, datetime(2025, 11, 23, 9, 20, 1, tzinfo=UTC)),
        ("1763889601", datetime(2025, 11, 23, 9, 20, 1, tzinfo=UTC)),
        (1763889601.5, datetime(2025, 11, 23, 9, 20, 1, 500000, tzinfo=UTC)),
    ],
)
def test_epochs_in_seconds_or_milliseconds(value, expected):
    assert epoch_to_datetime(value) == expected


@pytest.mark.parametrize("value", [-1, 0, 10**30, float("nan"), float("inf"), True, "soon", None, [1]])
def test_impossible_epochs_are_refused(value):
    with pytest.raises(ValueError, match="timestamp|between 2000 and 2100"):
        epoch_to_datetime(value)


@given(
    st.integers(int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2099, 1, 1, tzinfo=UTC).timestamp()))
)
def test_seconds_and_milliseconds_of_the_same_instant_agree(seconds):
    assert epoch_to_datetime(seconds) == epoch_to_datetime(seconds * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-10-09T07:00:00.000+0000", datetime(2015, 10, 9, 7, tzinfo=UTC)),
        ("2015-10-09T09:00:00+02:00", datetime(2015, 10, 9, 7, tzinfo=UTC)),
        ("2015-10-09T07:00:00Z", datetime(2015, 10, 9, 7, tzinfo=UTC)),
        ("2015-10-09T07:00:00", datetime(2015, 10, 9, 7, tzinfo=UTC)),
    ],
)
def test_iso_times_with_any_offset_become_utc(text, expected):
    assert iso_to_datetime(text) == expected


def probe(**overrides) -> dict:
    record = {
        "mac": "f0:18:98:3b:61:7c",
        "count": 3,
        "min_signal": -80,
        "max_signal": -60,
        "avg_signal": -70,
        "last_seen_signal": -65,
        "first_seen": 1763889601,
        "last_seen": 1763889655,
        "associated": True,
    }
    record.update(overrides)
    return record


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_signal": -121}, "min_signal"),
        ({"max_signal": 3}, "max_signal"),
        ({"avg_signal": "loud"}, "avg_signal"),
        ({"count": -1}, "count"),
        ({"mac": "zz:zz"}, "mac"),
        ({"first_seen": "yesterday"}, "first_seen"),
    ],
)
def test_engenius_records_with_impossible_values_are_refused(overrides, field):
    with pytest.raises(ValidationError) as caught:
        engenius.EnGeniusPayload.model_validate(
            {"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": [probe(**overrides)]}
        )
    assert caught.value.errors()[0]["loc"] == ("probe_requests", 0, field)


def test_engenius_last_seen_before_first_seen_is_refused():
    with pytest.raises(ValidationError, match="last_seen is before first_seen"):
        engenius.ProbeRequest.model_validate(probe(first_seen=1763889655, last_seen=1763889601))


def test_engenius_numbers_sent_as_strings_are_accepted():
    record = engenius.ProbeRequest.model_validate(probe(count="3", min_signal="-80", associated="true"))
    assert (record.count, record.min_signal, record.associated) == (3, -80.0, True)


@given(
    st.integers(-120, 0),
    st.integers(-120, 0),
    st.integers(0, 10_000),
    st.integers(1_500_000_000, 2_000_000_000),
    st.integers(0, 3600),
)
def test_valid_engenius_records_always_map_to_consistent_sightings(a, b, count, first, span):
    low, high = min(a, b), max(a, b)
    payload = engenius.EnGeniusPayload.model_validate(
        {
            "network_id": 7,
            "node_mac": "AC-86-74-82-9A-30",
            "probe_requests": [
                probe(
                    min_signal=low,
                    max_signal=high,
                    avg_signal=low,
                    last_seen_signal=high,
                    count=count,
                    first_seen=first,
                    last_seen=first + span,
                )
            ],
        }
    )
    [sighting] = engenius.sightings(payload)
    assert sighting.rssi_min <= sighting.rssi_max
    assert sighting.first_seen <= sighting.last_seen
    assert sighting.ap_mac == "ac:86:74:82:9a:30"
    assert payload.network_id == "7"


def aerohive_record(**overrides) -> dict:
    record = {"clientMac": "dcac3da506b4", "seenTime": "2015-10-09T07:00:00.000+0000", "rssi": -50, "ssid": None}
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not ...}


def test_aerohive_seen_time_wins_over_a_disagreeing_epoch():
    record = aerohive.AerohiveObservation.model_validate(aerohive_record(seenEpoch=1264988544))
    assert record.seen == datetime(2015, 10, 9, 7, tzinfo=UTC)


def test_aerohive_epoch_alone_is_used_in_either_unit():
    seconds = aerohive.AerohiveObservation.model_validate(aerohive_record(seenTime=..., seenEpoch=1444374000))
    millis = aerohive.AerohiveObservation.model_validate(aerohive_record(seenTime=..., seenEpoch=1444374000000))
    assert seconds.seen == millis.seen == datetime(2015, 10, 9, 7, tzinfo=UTC)


def test_aerohive_needs_some_time():
    with pytest.raises(ValidationError, match="needs seenTime or seenEpoch"):
        aerohive.AerohiveObservation.model_validate(aerohive_record(seenTime=...))


@pytest.mark.parametrize("owner", ["1082983976", 1082983976])
def test_aerohive_owner_id_may_be_text_or_number(owner):
    payload = aerohive.AerohivePayload.model_validate({"ownerId": owner, "apMac": "3a1e6d8c785c", "observations": []})
    assert payload.ownerId == "1082983976"


def test_aerohive_sighting_is_a_single_moment():
    payload = aerohive.AerohivePayload.model_validate(
        {"ownerId": 1, "apMac": "3a1e6d8c785c", "observations": [aerohive_record(rssi=-61, ssid="Guest")]}
    )
    [sighting] = aerohive.sightings(payload)
    assert sighting.first_seen == sighting.last_seen
    assert (sighting.rssi_min, sighting.rssi_max, sighting.rssi_avg, sighting.rssi_last) == (-61, -61, -61, -61)
    assert sighting.count == 1
    assert sighting.associated is True
