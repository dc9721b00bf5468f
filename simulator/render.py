"""Records → the receiver's own payload models (EnGenius, Aerohive) → the JSON bodies the vendors send.

Payloads are validated instances of receiver.vendors.*, so a change in the receiver's formats breaks the
simulator's tests instead of silently drifting. The models keep times as datetimes and MACs normalized; the
serializers here turn them back into each vendor's wire format: EnGenius epoch seconds, Aerohive `seenTime` with
a `+0000` offset, `seenEpoch` in milliseconds and MACs without separators.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from receiver.vendors.aerohive import AerohiveObservation, AerohivePayload
from receiver.vendors.engenius import EnGeniusPayload, ProbeRequest
from simulator import devices
from simulator.people import SSIDS
from simulator.traffic import Records

Payload = EnGeniusPayload | AerohivePayload

# Identifiers an installation's APs report under when the config names none: the network id of the EnGenius
# sample and the ownerId of Aerohive's published sample.
DEFAULT_NETWORK_ID = "183920"
DEFAULT_OWNER_ID = "1082983976"
# EnGenius reports format version 1 (CloudTrax presence format).
ENGENIUS_VERSION = 1


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


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _epoch_milliseconds(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _bare(mac: str) -> str:
    """HiveManager writes MACs as 12 hex digits without separators (`3a1e6d8c785c`)."""
    return mac.replace(":", "")


def to_json(payload: Payload) -> bytes:
    """The exact body bytes to POST (and, for EnGenius, to sign)."""
    return json.dumps(to_document(payload), separators=(",", ":")).encode()
