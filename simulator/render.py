"""Records → the receiver's own payload models (EnGenius, Aerohive, Meraki v3) → the JSON bodies the vendors send.

Payloads are validated instances of receiver.vendors.*, so a change in the receiver's formats breaks the
simulator's tests instead of silently drifting. The models keep times as datetimes and MACs normalized; the
serializers here turn them back into each vendor's wire format: EnGenius epoch seconds, Aerohive `seenTime` with
a `+0000` offset, `seenEpoch` in milliseconds and MACs without separators, Meraki ISO 8601 `Z` times in whole
seconds, `"NaN"` for a coordinate it could not work out and `null` for what it does not know about a client.

EnGenius and Aerohive post per AP; Meraki v3 posts once per network and interval, organized by client: one
location per client heard, whose `rssiRecords` list every AP of the network that heard it in the interval. Meraki
documents that v3 reports randomized MACs only of clients associated to the network; the simulator reports every
phone heard, as for the other vendors, so that the same world gives comparable data in every format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from receiver.vendors.aerohive import AerohiveObservation, AerohivePayload
from receiver.vendors.engenius import EnGeniusPayload, ProbeRequest
from receiver.vendors.meraki import LocationV3, MerakiPayloadV3, ObservationV3, RssiRecord
from simulator import devices
from simulator.layout import ShopAP
from simulator.people import SSIDS
from simulator.traffic import Records

Payload = EnGeniusPayload | AerohivePayload | MerakiPayloadV3

# Identifiers an installation's APs report under when the config names none: the network id of the EnGenius
# sample and the ownerId of Aerohive's published sample.
DEFAULT_NETWORK_ID = "183920"
DEFAULT_OWNER_ID = "1082983976"
# Meraki network ids are "N_" (or "L_") and digits; this is the network of tests/fixtures/meraki_v3_sample.json.
DEFAULT_MERAKI_NETWORK_ID = "N_24329156"
# EnGenius reports format version 1 (CloudTrax presence format).
ENGENIUS_VERSION = 1


# Meraki v3 locates a client by triangulation, which "requires the wireless client to be heard by 3 or more APs"
# (Meraki's Scanning API FAQ); a client heard by fewer gets its RSSI readings but "NaN" coordinates.
MERAKI_MIN_APS_TO_LOCATE = 3
# Where the shop's floor plan sits on the map: its x = y = 0 corner, x running east and y north. The coordinates
# of tests/fixtures/meraki_v3_sample.json (San Francisco); a simulated shop has no real address.
FLOOR_PLAN_ORIGIN_LAT_LNG = (37.7749295, -122.4194155)
# Metres per degree of latitude (the WGS 84 meridian arc near 38 degrees north, to the precision that matters here).
METRES_PER_DEGREE_LAT = 111_000.0
# How Meraki names the operating systems that devices.OPERATING_SYSTEMS names as HiveManager does ("ios" there,
# "iOS" in Meraki's v3 sample and dashboard).
MERAKI_OPERATING_SYSTEMS = {"ios": "iOS", "android": "Android"}


class RecordRows:
    """Records as plain Python lists, ready to be sliced into one payload per AP and interval."""

    def __init__(self, records: Records) -> None:
        texts: dict[int, str] = {}
        macs = records.mac.tolist()
        self.mac = [texts.get(mac) or texts.setdefault(mac, devices.mac_text(mac)) for mac in macs]
        self.randomized = devices.is_randomized(records.mac).tolist()
        self.count = records.count.tolist()
        self.rssi_min = records.rssi_min.astype(int).tolist()
        self.rssi_max = records.rssi_max.astype(int).tolist()
        self.rssi_avg = records.rssi_avg.astype(int).tolist()
        self.rssi_last = records.rssi_last.astype(int).tolist()
        self.first_s = np.floor(records.first_seen).astype(np.int64).tolist()
        self.last_s = np.floor(records.last_seen).astype(np.int64).tolist()
        self.last_ms = np.floor(records.last_seen * 1000).astype(np.int64).tolist()
        self.associated = records.associated.tolist()
        self.ssid = [SSIDS[index] for index in records.ssid.tolist()]
        self.manufacturer = [devices.MANUFACTURERS[index] for index in records.manufacturer.tolist()]


def engenius_payload(ap_mac: str, network_id: str, rows: RecordRows, lo: int, hi: int) -> EnGeniusPayload:
    """One EnGenius POST: the AP's records lo..hi, one per client heard in the interval."""
    return EnGeniusPayload.model_validate(
        {
            "network_id": network_id,
            "node_mac": ap_mac,
            "version": ENGENIUS_VERSION,
            "probe_requests": [
                {
                    "mac": rows.mac[i],
                    "count": rows.count[i],
                    "min_signal": rows.rssi_min[i],
                    "max_signal": rows.rssi_max[i],
                    "avg_signal": rows.rssi_avg[i],
                    "last_seen_signal": rows.rssi_last[i],
                    "first_seen": rows.first_s[i],
                    "last_seen": rows.last_s[i],
                    "associated": rows.associated[i],
                }
                for i in range(lo, hi)
            ],
        }
    )


def aerohive_payload(ap_mac: str, owner_id: str, rows: RecordRows, lo: int, hi: int) -> AerohivePayload:
    """One Aerohive POST: one observation per client heard, at its last frame; ssid and OS only if associated.

    HiveManager names the manufacturer from the OUI (so not for randomized MACs) and the OS from DHCP
    fingerprints (so only for connected clients).
    """
    observations = []
    for i in range(lo, hi):
        observation: dict[str, Any] = {
            "clientMac": rows.mac[i],
            "seenTime": _aerohive_time(rows.last_ms[i]),
            "seenEpoch": rows.last_ms[i],
            "rssi": rows.rssi_last[i],
        }
        if rows.ssid[i]:
            observation["ssid"] = rows.ssid[i]
            observation["os"] = devices.OPERATING_SYSTEMS[rows.manufacturer[i]]
        if not rows.randomized[i]:
            observation["manufacturer"] = rows.manufacturer[i]
        observations.append(observation)
    return AerohivePayload.model_validate({"ownerId": owner_id, "apMac": ap_mac, "observations": observations})


def meraki_payload(
    network_id: str, aps: Sequence[ShopAP], rows: RecordRows, spans: Sequence[tuple[int, int]]
) -> MerakiPayloadV3:
    """One Meraki v3 POST for a network: every client its APs heard in the interval (`aps[k]` heard the records
    `spans[k]`), in the order first heard, each with one location whose rssiRecords list every AP that heard it.

    The location's time is the latest moment any AP heard the client in the interval (whole seconds); each AP's
    rssi is its last frame's, as Aerohive reports it. ssid and OS only if associated to one of these APs,
    manufacturer only for a MAC that is not randomized, as for Aerohive. Coordinates only for a client heard by
    MERAKI_MIN_APS_TO_LOCATE APs or more: see `_meraki_position`.
    """
    heard: dict[str, list[tuple[ShopAP, int]]] = {}
    for ap, (lo, hi) in zip(aps, spans, strict=True):
        for i in range(lo, hi):
            heard.setdefault(rows.mac[i], []).append((ap, i))
    observations = []
    for mac, records in heard.items():
        associated = [i for _, i in records if rows.ssid[i]]
        first = records[0][1]
        signals = [(ap, rows.rssi_last[i]) for ap, i in records]
        nearest = max(signals, key=lambda pair: pair[1])[0]
        x, y, lat, lng, variance = _meraki_position(signals)
        location = LocationV3.model_validate(
            {
                "time": _meraki_time(datetime.fromtimestamp(max(rows.last_s[i] for _, i in records), UTC)),
                "x": x,
                "y": y,
                "lat": lat,
                "lng": lng,
                "variance": variance,
                "nearestApTags": [_meraki_tag(nearest.name)],
                "rssiRecords": [RssiRecord(apMac=ap.mac, rssi=rssi) for ap, rssi in signals],
            }
        )
        observations.append(
            ObservationV3(
                clientMac=mac,
                ssid=rows.ssid[associated[0]] if associated else None,
                os=MERAKI_OPERATING_SYSTEMS[devices.OPERATING_SYSTEMS[rows.manufacturer[first]]]
                if associated
                else None,
                manufacturer=None if rows.randomized[first] else rows.manufacturer[first],
                locations=[location],
            )
        )
    return MerakiPayloadV3.model_validate({"data": {"networkId": network_id, "observations": observations}})


def _meraki_position(
    signals: list[tuple[ShopAP, int]],
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    """x, y (metres on the floor plan), lat, lng and variance (m²) of a client heard at these signal levels.

    Meraki's estimator is its own; this one is the plain RSSI locator: the centroid of the APs weighted by
    received power, and as variance the power-weighted mean squared distance of the APs from it. Unknown (None)
    below MERAKI_MIN_APS_TO_LOCATE APs.
    """
    if len({ap.mac for ap, _ in signals}) < MERAKI_MIN_APS_TO_LOCATE:
        return None, None, None, None, None
    weights = [10.0 ** (rssi / 10.0) for _, rssi in signals]
    total = sum(weights)
    x = sum(w * ap.x for (ap, _), w in zip(signals, weights, strict=True)) / total
    y = sum(w * ap.y for (ap, _), w in zip(signals, weights, strict=True)) / total
    variance = sum(w * ((ap.x - x) ** 2 + (ap.y - y) ** 2) for (ap, _), w in zip(signals, weights, strict=True))
    origin_lat, origin_lng = FLOOR_PLAN_ORIGIN_LAT_LNG
    lat = origin_lat + y / METRES_PER_DEGREE_LAT
    lng = origin_lng + x / (METRES_PER_DEGREE_LAT * math.cos(math.radians(origin_lat)))
    return round(x, 2), round(y, 2), round(lat, 7), round(lng, 7), round(variance / total, 2)


def _meraki_tag(name: str) -> str:
    """The tag an AP carries in the Meraki dashboard: its zone's name as one word (tags cannot hold spaces)."""
    return "-".join(name.lower().split())


def _aerohive_time(milliseconds: int) -> str:
    seconds, millis = divmod(milliseconds, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}+0000"


def to_document(payload: Payload) -> dict[str, Any]:
    """The JSON document a vendor would send for `payload` (every field of the model, in the vendor's format)."""
    if isinstance(payload, EnGeniusPayload):
        document = payload.model_dump(exclude_none=True)
        if document.get("network_id", "").isdigit():
            document["network_id"] = int(document["network_id"])  # documented as a number
        document["probe_requests"] = [_engenius_record(record) for record in payload.probe_requests]
        return document
    if isinstance(payload, MerakiPayloadV3):
        document = payload.model_dump(exclude_none=True, exclude={"data"})
        document["data"] = {
            "networkId": payload.data.networkId,
            "observations": [_meraki_observation(o) for o in payload.data.observations],
        }
        return document
    document = payload.model_dump(exclude_none=True)
    document["apMac"] = _bare(payload.apMac)
    document["observations"] = [_aerohive_observation(o) for o in payload.observations]
    return document


def _engenius_record(record: ProbeRequest) -> dict[str, Any]:
    document = record.model_dump(exclude_none=True)
    for name, value in document.items():
        if isinstance(value, datetime):
            document[name] = _epoch_seconds(value)
        elif isinstance(value, float) and value.is_integer():
            document[name] = int(value)  # CloudTrax sends whole dBm
    return document


def _aerohive_observation(observation: AerohiveObservation) -> dict[str, Any]:
    document = observation.model_dump(exclude_none=True)
    document["clientMac"] = _bare(observation.clientMac)
    if observation.seenTime is not None:
        document["seenTime"] = _aerohive_time(_epoch_milliseconds(observation.seenTime))
    if observation.seenEpoch is not None:
        document["seenEpoch"] = _epoch_milliseconds(observation.seenEpoch)
    for name, value in document.items():
        if isinstance(value, float) and value.is_integer():
            document[name] = int(value)
    return document


def _meraki_observation(observation: ObservationV3) -> dict[str, Any]:
    """A v3 client: null for what Meraki does not know of it; latestRecord only when it has no recent location."""
    document: dict[str, Any] = {
        "clientMac": observation.clientMac,
        "ipv4": observation.ipv4,
        "ssid": observation.ssid,
        "os": observation.os,
        "manufacturer": observation.manufacturer,
        "locations": [_meraki_location(location) for location in observation.locations],
    }
    if observation.latestRecord is not None:
        latest = observation.latestRecord
        document["latestRecord"] = {
            "time": _meraki_time(latest.time),
            "nearestApMac": latest.nearestApMac,
            "nearestApRssi": _number(latest.nearestApRssi),
        }
    return document


def _meraki_location(location: LocationV3) -> dict[str, Any]:
    document: dict[str, Any] = {"time": _meraki_time(location.time)}
    for name in ("x", "y", "lat", "lng", "variance"):
        value = getattr(location, name)
        document[name] = "NaN" if value is None else _number(value)  # how Meraki writes a coordinate it lacks
    document["nearestApTags"] = list(location.nearestApTags)
    document["rssiRecords"] = [{"apMac": r.apMac, "rssi": _number(r.rssi)} for r in location.rssiRecords]
    return document


def _meraki_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, in whole seconds (`2026-11-23T10:15:00Z`), as Meraki writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _epoch_milliseconds(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _bare(mac: str) -> str:
    """HiveManager writes MACs as 12 hex digits without separators (`3a1e6d8c785c`)."""
    return mac.replace(":", "")


def to_json(payload: Payload) -> bytes:
    """The exact body bytes to POST (and, for EnGenius, to sign; for Meraki, with its secret set first)."""
    return json.dumps(to_document(payload), separators=(",", ":")).encode()
