"""Keyed pseudonyms for client MACs, so the database never holds the raw address unless the operator asks."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

PSEUDONYM_HEX_DIGITS = 16  # 64 bits: collisions stay negligible (~1e-5) even at ten million devices


class Pseudonymizer:
    """Turns a normalized MAC into a stable identifier: an HMAC under the installation's key.

    Without the key the pseudonym cannot be reversed or recomputed from a MAC someone already knows;
    with it, the same device maps to the same pseudonym across restarts, so visits and loyalty still work.
    """

    def __init__(self, key: bytes, *, store_raw_macs: bool = False) -> None:
        self._key = key
        self.store_raw_macs = store_raw_macs
        self.device_id = lru_cache(maxsize=262144)(self._device_id)

    def _device_id(self, mac: str) -> str:
        if self.store_raw_macs:
            return mac
        digest = hmac.new(self._key, mac.encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_DIGITS]
