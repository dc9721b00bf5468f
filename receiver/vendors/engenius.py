"""EnGenius Cloud presence reports, which use the CloudTrax (Open Mesh) presence format.

A POST body is `{"network_id", "node_mac", "version", "probe_requests": [record, ...]}`; each record
aggregates one client's probes at that AP between `first_seen` and `last_seen` (Unix seconds, UTC).
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.vendors.types import Count, EpochTime, MacAddress, Rssi
from store.records import Sighting

VENDOR = "engenius"


class ProbeRequest(BaseModel):
    """One client as heard by the reporting AP during the interval."""

    model_config = ConfigDict(extra="ignore")

    mac: MacAddress
    count: Count = 1
    min_signal: Rssi
    max_signal: Rssi
    avg_signal: Rssi
    last_seen_signal: Rssi
    first_seen: EpochTime
    last_seen: EpochTime
    associated: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen is before first_seen")
        if self.min_signal > self.max_signal:
            raise ValueError("min_signal is above max_signal")
        return self


class EnGeniusPayload(BaseModel):
    """The whole POST body."""

    model_config = ConfigDict(extra="ignore")

    network_id: str | None = None
    node_mac: MacAddress
    version: int | str | None = None
    probe_requests: list[ProbeRequest] = Field(max_length=100_000)

    @field_validator("network_id", mode="before")
    @classmethod
    def _network_id_as_text(cls, value: object) -> object:
        # Documented as a number; keep it as text so per-network keys can be looked up either way.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def sightings(payload: EnGeniusPayload) -> list[Sighting]:
    return [
        Sighting(
            ap_mac=payload.node_mac,
            client_mac=record.mac,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            rssi_min=record.min_signal,
            rssi_max=record.max_signal,
            rssi_avg=record.avg_signal,
            rssi_last=record.last_seen_signal,
            count=record.count,
            associated=record.associated,
        )
        for record in payload.probe_requests
    ]
