"""Cisco Meraki Scanning API, versions 2.x and 3.x: one POST body, routed on the major version.

v2 (`"type": "DevicesSeen"`) is one POST per AP: `data.apMac` and `data.observations[]`, each a client with
`seenTime`/`seenEpoch` and an `rssi` that is a positive signal-to-noise style figure, not dBm.
v3 (`"type": "WiFi"`) is one POST per network, organized by client: each observation has `locations[]` whose
`rssiRecords[]` say which APs heard the client how loudly, or, for a client no longer heard, a `latestRecord`.
Bluetooth types are acknowledged and counted but are not Wi-Fi observations, and their records are not validated
(nothing of them is stored): v2 `BluetoothDevicesSeen`, and for v3 both `BLE` (the documentation's table) and
`Bluetooth` (what v3 networks that scan both send in the wild).

Meraki is inconsistent in the wild, so this parser is lenient where it is safe: numbers sent as strings,
`"NaN"` or empty coordinates (read as unknown), and v2's `ipv4` written as `"hostname/address"`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from receiver.vendors.types import (
    COORDINATE_LIMIT,
    RSSI_FLOOR_DBM,
    EpochTime,
    IsoTime,
    MacAddress,
    Text,
    bounded_number,
)
from store.records import Sighting

VENDOR = "meraki"
WIFI_TYPES = {2: "DevicesSeen", 3: "WiFi"}
BLUETOOTH_TYPES = {2: ("BluetoothDevicesSeen",), 3: ("BLE", "Bluetooth")}
_BLUETOOTH_NAMES = frozenset(name for names in BLUETOOTH_TYPES.values() for name in names)
# v2's rssi is the signal's height above the noise floor (0 to about 60 in practice). Adding a nominal
# -95 dBm noise floor, the thermal noise of a 20 MHz Wi-Fi channel plus a typical receiver noise figure,
# turns it into dBm on the scale the other vendors use: rssi 45 -> -50 dBm, rssi 10 -> -85 dBm.
V2_NOISE_FLOOR_DBM = -95.0


def _lenient_float(value: object) -> object:
    """Numbers as numbers or strings; "NaN", "", null and non-finite values become None (unknown)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return _finite_or_none(float(text))
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a number") from None
    if isinstance(value, int | float):
        return _finite_or_none(value)
    return value


def _finite_or_none(value: float) -> float | None:
    """Unknown for NaN and infinities; a refusal for a finite value no floor plan or globe holds (checked before
    any conversion: a 400-digit integer overflows a float)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not bounded_number(value, COORDINATE_LIMIT):
        raise ValueError(f"must be a number between -{COORDINATE_LIMIT:.0e} and {COORDINATE_LIMIT:.0e}")
    return float(value)


LenientFloat = Annotated[float | None, BeforeValidator(_lenient_float)]


def _signal_to_dbm(value: float) -> float:
    """Meraki's positive (signal above noise) figures become dBm; values already in dBm pass through."""
    dbm = value + V2_NOISE_FLOOR_DBM if value > 0 else value
    return max(float(RSSI_FLOOR_DBM), min(0.0, dbm))


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LocationV2(_Lenient):
    lat: LenientFloat = None
    lng: LenientFloat = None
    unc: LenientFloat = None
    x: list[LenientFloat] = Field(default_factory=list, max_length=64)
    y: list[LenientFloat] = Field(default_factory=list, max_length=64)


class ObservationV2(_Lenient):
    clientMac: MacAddress  # noqa: N815  (the vendor's field names)
    seenTime: IsoTime | None = None  # noqa: N815
    seenEpoch: EpochTime | None = None  # noqa: N815
    rssi: Annotated[float, Field(ge=-120, le=120, allow_inf_nan=False)]
    ssid: Text | None = None
    os: Text | None = None
    manufacturer: Text | None = None
    ipv4: str | None = None
    location: LocationV2 | None = None

    @model_validator(mode="after")
    def _has_time(self) -> Self:
        if self.seenTime is None and self.seenEpoch is None:
            raise ValueError("needs seenTime or seenEpoch")
        return self


class DataV2(_Lenient):
    apMac: MacAddress  # noqa: N815
    apTags: list[str] = Field(default_factory=list)  # noqa: N815
    observations: list[ObservationV2] = Field(default_factory=list, max_length=100_000)


class RssiRecord(_Lenient):
    apMac: MacAddress  # noqa: N815
    rssi: Annotated[float, Field(ge=-120, le=120, allow_inf_nan=False)]


class LocationV3(_Lenient):
    time: IsoTime
    x: LenientFloat = None
    y: LenientFloat = None
    lat: LenientFloat = None
    lng: LenientFloat = None
    variance: LenientFloat = None
    nearestApTags: list[str] = Field(default_factory=list)  # noqa: N815
    rssiRecords: list[RssiRecord] = Field(default_factory=list, max_length=1000)  # noqa: N815


class LatestRecord(_Lenient):
    time: IsoTime
    nearestApMac: MacAddress  # noqa: N815
    nearestApRssi: Annotated[float, Field(ge=-120, le=120, allow_inf_nan=False)]  # noqa: N815


class ObservationV3(_Lenient):
    clientMac: MacAddress  # noqa: N815
    ssid: Text | None = None
    os: Text | None = None
    manufacturer: Text | None = None
    ipv4: str | None = None
    locations: list[LocationV3] = Field(default_factory=list, max_length=1000)
    latestRecord: LatestRecord | None = None  # noqa: N815


class DataV3(_Lenient):
    networkId: str | None = None  # noqa: N815
    observations: list[ObservationV3] = Field(default_factory=list, max_length=100_000)


class _Envelope(_Lenient):
    version: str
    secret: str | None = None
    type: str

    @property
    def major(self) -> int:
        return major_version(self.version)

    @property
    def is_bluetooth(self) -> bool:
        return self.type in _BLUETOOTH_NAMES


def _version(major: int) -> WithJsonSchema:
    """How the OpenAPI description shows `version`: required on the wire (the major version routes the body)."""
    return WithJsonSchema({"type": "string", "pattern": rf"^{major}(\.[0-9]+)?$", "examples": [f"{major}.0"]})


def _version_required(schema: dict) -> None:
    schema["required"] = sorted({*schema.get("required", []), "version"})


class MerakiPayloadV2(_Envelope):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_version_required)

    version: Annotated[str, BeforeValidator(str), _version(2)] = "2.0"
    type: Literal["DevicesSeen", "BluetoothDevicesSeen"] = "DevicesSeen"
    data: DataV2


class MerakiPayloadV3(_Envelope):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_version_required)

    version: Annotated[str, BeforeValidator(str), _version(3)] = "3.0"
    type: Literal["WiFi", "BLE", "Bluetooth"] = "WiFi"
    data: DataV3


class BluetoothData(_Lenient):
    observations: list[object] = Field(default_factory=list, max_length=100_000)


class MerakiBluetooth(_Envelope):
    """A v3 Bluetooth post: only counted, so only its envelope is validated (v2's, which names its AP, is
    validated as a v2 post and refreshes that AP's last report)."""

    version: Annotated[str, BeforeValidator(str)]
    type: Literal["BLE", "Bluetooth"]
    data: BluetoothData


MerakiPayload = MerakiPayloadV2 | MerakiPayloadV3 | MerakiBluetooth


def major_version(version: object) -> int:
    """`"2.0"`, `2.1`, `"3.0"`, `3` → 2 or 3; anything else raises ValueError naming the version."""
    try:
        major = int(float(str(version).strip()))
    except (ValueError, OverflowError):  # "banana", or Infinity
        raise ValueError(f"version {str(version)[:20]!r} is not a Meraki Scanning API version") from None
    if major not in (2, 3):
        raise ValueError(f"Meraki Scanning API version {version} is not supported (2.x and 3.x are)")
    return major


def model_for(document: object) -> type[MerakiPayloadV2] | type[MerakiPayloadV3] | type[MerakiBluetooth]:
    """The payload model for a decoded body, chosen by its major version (ValueError when there is none), or the
    Bluetooth one for a Bluetooth type."""
    if not isinstance(document, dict) or "version" not in document:
        raise ValueError("a Meraki body is an object with a 'version'")
    major = major_version(document["version"])
    if major == 3 and document.get("type") in BLUETOOTH_TYPES[3]:
        return MerakiBluetooth
    return MerakiPayloadV2 if major == 2 else MerakiPayloadV3


def bluetooth_count(payload: MerakiPayload) -> int:
    """How many Bluetooth devices a Bluetooth payload reported (they are acknowledged, not stored)."""
    return len(payload.data.observations) if payload.is_bluetooth else 0


def reporters(payload: MerakiPayload) -> tuple[str, ...]:
    """The AP a v2 POST came from; v3 posts per network, so its APs are those named in the sightings."""
    return (payload.data.apMac,) if isinstance(payload, MerakiPayloadV2) else ()


def sightings(payload: MerakiPayload) -> list[Sighting]:
    if isinstance(payload, MerakiBluetooth) or payload.is_bluetooth:
        return []
    if isinstance(payload, MerakiPayloadV2):
        return _sightings_v2(payload)
    return _sightings_v3(payload)


def _first(values: list[float | None]) -> float | None:
    return next((value for value in values if value is not None), None)


def _sightings_v2(payload: MerakiPayloadV2) -> list[Sighting]:
    result = []
    for record in payload.data.observations:
        seen: datetime = record.seenTime or record.seenEpoch  # type: ignore[assignment]
        rssi = _signal_to_dbm(record.rssi)
        location = record.location or LocationV2()
        result.append(
            Sighting(
                ap_mac=payload.data.apMac,
                client_mac=record.clientMac,
                first_seen=seen,
                last_seen=seen,
                rssi_min=rssi,
                rssi_max=rssi,
                rssi_avg=rssi,
                rssi_last=rssi,
                count=1,
                associated=bool(record.ssid),
                ssid=record.ssid,
                manufacturer=record.manufacturer,
                os=record.os,
                x=_first(location.x),
                y=_first(location.y),
                lat=location.lat,
                lng=location.lng,
                unc=location.unc,
            )
        )
    return result


def _sightings_v3(payload: MerakiPayloadV3) -> list[Sighting]:
    """One sighting per (location, AP that heard it); a client with no locations falls back to latestRecord."""
    result = []
    for record in payload.data.observations:
        heard = [(loc, rssi.apMac, rssi.rssi) for loc in record.locations for rssi in loc.rssiRecords]
        for location, ap_mac, signal in heard:
            result.append(_v3_sighting(record, ap_mac, location.time, signal, location))
        if not heard and record.latestRecord is not None:
            latest = record.latestRecord
            result.append(_v3_sighting(record, latest.nearestApMac, latest.time, latest.nearestApRssi, None))
    return result


def _v3_sighting(
    record: ObservationV3, ap_mac: str, moment: datetime, signal: float, location: LocationV3 | None
) -> Sighting:
    dbm = _signal_to_dbm(signal)
    return Sighting(
        ap_mac=ap_mac,
        client_mac=record.clientMac,
        first_seen=moment,
        last_seen=moment,
        rssi_min=dbm,
        rssi_max=dbm,
        rssi_avg=dbm,
        rssi_last=dbm,
        count=1,
        associated=bool(record.ssid),
        ssid=record.ssid,
        manufacturer=record.manufacturer,
        os=record.os,
        x=location.x if location else None,
        y=location.y if location else None,
        lat=location.lat if location else None,
        lng=location.lng if location else None,
        unc=location.variance if location else None,
    )
