"""From a decoded body to stored observations: the path shared by the HTTP views and `presence import`.

Authentication is the caller's business (the views check signatures and secrets; an operator importing
their own captures needs none); everything after it — validation, normalization, dedupe, the one
transaction — is here, so both paths accept and refuse exactly the same payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from receiver.errors import InvalidPayload, MalformedBody
from receiver.vendors import aerohive, engenius, meraki
from store.counts import minute_counts, store_counts
from store.observations import Reporter, StoreResult, store_observations
from store.records import Normalizer, Sighting

VENDORS = ("engenius", "aerohive", "meraki")


class NotParsed:
    """Marks a body that is not JSON; the refusal waits until after authentication."""


NOT_PARSED = NotParsed()


@dataclass(frozen=True)
class Parsed:
    """A validated payload's sightings, plus records acknowledged but not stored (Meraki Bluetooth)."""

    vendor: str
    sightings: list[Sighting]
    reporters: tuple[str, ...] = ()  # AP MACs that sent this report (even when they heard nobody)
    ignored: int = 0


def decode(body: bytes) -> Any:
    """The decoded document, or NOT_PARSED. Deep nesting and over-long integers cannot crash the worker."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_PARSED


def _validate(model: type[BaseModel], document: Any) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise InvalidPayload.from_validation(exc) from None
    except RecursionError:
        raise InvalidPayload("payload is nested too deeply") from None
    except ArithmeticError:
        # Every number is bounded before arithmetic (receiver.vendors.types); should one slip through, the
        # sender still gets a refusal (and the body is quarantined), not a 500.
        raise InvalidPayload("invalid payload: a number is out of range") from None


def parse(vendor: str, document: Any) -> Parsed:
    """Validate a decoded body as `vendor`'s payload; raises MalformedBody (400) or InvalidPayload (422)."""
    if document is NOT_PARSED:
        raise MalformedBody("body is not valid JSON")
    if vendor == "engenius":
        report = _validate(engenius.EnGeniusPayload, document)
        return Parsed(vendor, engenius.sightings(report), (report.node_mac,))
    if vendor == "aerohive":
        webhook = _validate(aerohive.AerohivePayload, document)
        return Parsed(vendor, aerohive.sightings(webhook), (webhook.apMac,))
    if vendor == "meraki":
        try:
            model = meraki.model_for(document)
        except ValueError as exc:
            raise InvalidPayload(f"invalid payload: {exc}", field="version") from None
        payload = _validate(model, document)
        sightings = meraki.sightings(payload)
        reporters = meraki.reporters(payload) or tuple(sorted({sighting.ap_mac for sighting in sightings}))
        return Parsed(vendor, sightings, reporters, ignored=meraki.bluetooth_count(payload))
    raise ValueError(f"unknown vendor {vendor!r}")


def detect_vendor(document: Any) -> str | None:
    """Which vendor a captured body came from, by its shape (for imports of unlabelled captures)."""
    if not isinstance(document, dict):
        return None
    if "probe_requests" in document or "node_mac" in document:
        return "engenius"
    if "apMac" in document or "ownerId" in document:
        return "aerohive"
    if "data" in document and "version" in document:
        return "meraki"
    return None


class Ingestor:
    """Normalizes and stores parsed payloads for one installation (one engine, one pseudonym key)."""

    def __init__(self, engine: Engine, normalizer: Normalizer) -> None:
        self.engine = engine
        self.normalizer = normalizer

    def store(self, parsed: Parsed, received_at: datetime) -> StoreResult:
        reporters = [Reporter(ap_mac, parsed.vendor, self.normalizer.site_of(ap_mac)) for ap_mac in parsed.reporters]
        # The normalizer's settings decide, so every path that stores (the views, `presence import`, `presence
        # quarantine replay`) honours PRESENCE_COUNT_ONLY without being told.
        if self.normalizer.count_only:  # counted in memory: no observation row, no pseudonym (store.counts)
            counts = minute_counts(parsed.sightings, self.normalizer.site_of)
            return store_counts(self.engine, counts, reporters, received_at)
        rows = self.normalizer.rows(parsed.vendor, parsed.sightings, received_at)
        return store_observations(self.engine, rows, reporters, received_at)
