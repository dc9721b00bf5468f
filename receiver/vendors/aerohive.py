"""Aerohive / HiveManager presence webhooks: a POST every 60 s listing the clients each AP heard.

Each observation is one sighting at one moment, so it maps to first_seen = last_seen, every RSSI field = rssi
and count = 1. The documentation and the published sample disagree on `seenEpoch` (milliseconds vs seconds,
and a value that contradicts `seenTime`), so `seenTime` wins when present and the epoch's unit is inferred.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.vendors.types import Coordinate, EpochTime, IsoTime, MacAddress, Rssi, Text
from store.records import Sighting

VENDOR = "aerohive"


class AerohiveObservation(BaseModel):
    """One client seen by the AP."""

    model_config = ConfigDict(extra="ignore")

    clientMac: MacAddress  # noqa: N815  (the vendor's field names)
    seenTime: IsoTime | None = None  # noqa: N815
    seenEpoch: EpochTime | None = None  # noqa: N815
    rssi: Rssi
    ssid: Text | None = None
    manufacturer: Text | None = None
    os: Text | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    lat: Coordinate | None = None
    lng: Coordinate | None = None
    unc: Coordinate | None = None
    x: Coordinate | None = None
    y: Coordinate | None = None

    @model_validator(mode="after")
    def _has_time(self) -> Self:
        if self.seenTime is None and self.seenEpoch is None:
            raise ValueError("needs seenTime or seenEpoch")
        return self

    @property
    def seen(self) -> datetime:
        return self.seenTime or self.seenEpoch  # type: ignore[return-value]


class AerohivePayload(BaseModel):
    """The whole POST body."""

    model_config = ConfigDict(extra="ignore")

    ownerId: str  # noqa: N815
    apMac: MacAddress  # noqa: N815
    observations: list[AerohiveObservation] = Field(max_length=100_000)
    secret: str | None = None  # one of the ways HiveManager's shared secret may arrive

    @field_validator("ownerId", mode="before")
    @classmethod
    def _owner_as_text(cls, value: object) -> object:
        # Seen both as "1082983976" and as 1082983976.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def sightings(payload: AerohivePayload) -> list[Sighting]:
    return [
        Sighting(
            ap_mac=payload.apMac,
            client_mac=record.clientMac,
            first_seen=record.seen,
            last_seen=record.seen,
            rssi_min=record.rssi,
            rssi_max=record.rssi,
            rssi_avg=record.rssi,
            rssi_last=record.rssi,
            count=1,
            associated=bool(record.ssid),
            ssid=record.ssid,
            manufacturer=record.manufacturer,
            os=record.os,
            x=record.x,
            y=record.y,
            lat=record.lat,
            lng=record.lng,
            unc=record.unc,
        )
        for record in payload.observations
    ]
