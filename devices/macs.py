"""MAC addresses: one canonical spelling, the randomization bit, and the vendor behind a prefix."""

from __future__ import annotations

import asyncio
import re
import string
import threading
from functools import lru_cache

import aiooui

_HEX = frozenset(string.hexdigits)
_SEPARATORS = str.maketrans("", "", ":-. ")
_REGISTRY_LOCK = threading.Lock()
_CANONICAL = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE)


def normalize_mac(value: str) -> str:
    """`AC:86:74:82:9A:30`, `ac-86-74-82-9a-30`, `ac86.7482.9a30` or `ac8674829a30` → `ac:86:74:82:9a:30`.

    Raises ValueError for anything that is not 12 hex digits once separators are removed.
    """
    if len(value) == 17 and _CANONICAL.fullmatch(value):  # how most vendors send them: one match, no rebuild
        return value.lower()
    digits = value.translate(_SEPARATORS).lower()
    if len(digits) != 12 or not _HEX.issuperset(digits):
        raise ValueError(f"{value!r} is not a MAC address")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_randomized(mac: str) -> bool:
    """True when the locally administered bit (0x02 of the first octet) is set, as on private/random MACs."""
    return bool(int(mac[:2], 16) & 0x02)


def load_registry() -> None:
    """Load the bundled IEEE registry once per process (the receiver calls this at start-up).

    aiooui's loader is async only and not safe to start from two threads at once (the second sees a future
    of the first thread's event loop and raises), so loading happens under a lock.
    """
    with _REGISTRY_LOCK:
        if not aiooui.is_loaded():
            asyncio.run(aiooui.async_load())


def manufacturer_of(mac: str) -> str | None:
    """The organisation registered with the IEEE for this MAC's OUI, from the bundled offline registry.

    Randomized MACs carry no real OUI, so they get None rather than whichever company happens to hold the
    prefix.
    """
    if is_randomized(mac):
        return None
    return _organisation(mac[:8])


@lru_cache(maxsize=65536)
def _organisation(oui: str) -> str | None:
    """Cached per OUI (`ac:86:74`): a shop sees a few hundred prefixes, not a new one per device."""
    if not aiooui.is_loaded():
        load_registry()
    return aiooui.get_vendor(oui)
