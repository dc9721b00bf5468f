"""The one observation model every vendor's records are normalized into, as rows ready for a bulk insert."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.settings import Settings
from devices.macs import is_randomized, load_registry, manufacturer_of
from devices.pseudonyms import Pseudonymizer

ObservationRow = dict[str, Any]  # keys are the columns of store.models.Observation

_KEY_NUMBERS = struct.Struct("<dddddd")


@dataclass(frozen=True)
class Sighting:
    """What a vendor record says about one client at one AP, before pseudonymization and enrichment."""

    ap_mac: str
    client_mac: str
    first_seen: datetime
    last_seen: datetime
    rssi_min: float
    rssi_max: float
    rssi_avg: float
    rssi_last: float
    count: int
    associated: bool = False
    ssid: str | None = None
    manufacturer: str | None = None
    os: str | None = None
    x: float | None = None
    y: float | None = None
    lat: float | None = None
    lng: float | None = None
    unc: float | None = None


class Normalizer:
    """Turns sightings into observation rows: site from the AP, pseudonymous device, randomized flag, vendor.

    Built once per process (it holds the pseudonym cache); `received_at` is passed per POST.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pseudonymizer = Pseudonymizer(settings.pseudonym_key, store_raw_macs=settings.store_raw_macs)
        load_registry()  # before the first request, not inside it

    def site_of(self, ap_mac: str) -> str:
        return self._settings.site_of(ap_mac)

    @property
    def count_only(self) -> bool:
        """PRESENCE_COUNT_ONLY: sightings are counted (store.counts), never turned into rows."""
        return self._settings.count_only

    def rows(self, vendor: str, sightings: list[Sighting], received_at: datetime) -> list[ObservationRow]:
        return [self.row(vendor, sighting, received_at) for sighting in sightings]

    def row(self, vendor: str, s: Sighting, received_at: datetime) -> ObservationRow:
        device = self._pseudonymizer.device_id(s.client_mac)
        return {
            "vendor": vendor,
            "site": self._settings.site_of(s.ap_mac),
            "ap_mac": s.ap_mac,
            "device": device,
            "randomized": is_randomized(s.client_mac),
            "manufacturer": s.manufacturer or manufacturer_of(s.client_mac),
            "os": s.os or None,
            "ssid": s.ssid or None,
            "associated": s.associated,
            "first_seen": s.first_seen,
            "last_seen": s.last_seen,
            "rssi_min": s.rssi_min,
            "rssi_max": s.rssi_max,
            "rssi_avg": s.rssi_avg,
            "rssi_last": s.rssi_last,
            "count": s.count,
            "x": s.x,
            "y": s.y,
            "lat": s.lat,
            "lng": s.lng,
            "unc": s.unc,
            "received_at": received_at,
            "dedupe_key": dedupe_key(s.ap_mac, device, s),
        }


def dedupe_key(ap_mac: str, device: str, s: Sighting) -> bytes:
    """A 128-bit digest of what makes two records the same report: AP, device, first/last seen, signals."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{ap_mac}|{device}|".encode())
    digest.update(
        _KEY_NUMBERS.pack(
            s.first_seen.timestamp(), s.last_seen.timestamp(), s.rssi_min, s.rssi_max, s.rssi_avg, s.rssi_last
        )
    )
    return digest.digest()
