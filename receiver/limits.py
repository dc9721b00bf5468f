"""Rate limiting for senders that keep getting refused, so a flood of forged or broken posts stays cheap.

Only refusals (4xx) count towards the limit, never accepted posts: losing a real AP's report is worse than
serving a busy one, and vendors never retry. A client with more than `max_refusals` in a `window_seconds`
window gets 429 instead of every other refusal until the window has passed, but a post whose signature or secret
verifies is always served: an AP behind the same NAT or reverse proxy as a forger (Meraki needs a proxy) must
not lose its reports to the forger's failures. A misconfigured AP posting once a minute with a wrong key never
gets near the limit. The client is the peer address, or, when the peer is a trusted proxy
(PRESENCE_TRUSTED_PROXIES), the address it forwards in X-Forwarded-For. The count lives in each worker process,
so with N workers a sender may see up to N times the limit before every worker refuses it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client a request counts against: `peer`, unless it is a trusted proxy, then the nearest address in
    X-Forwarded-For that is not one (proxies append, so addresses further left are the client's own say)."""
    if not trusted or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


@dataclass(frozen=True)
class RefusalLimit:
    max_refusals: int = 120  # two a second sustained for a minute: far beyond any real AP's mistakes
    window_seconds: float = 60.0
    tracked_clients: int = 10_000  # oldest forgotten first, so memory stays bounded under a spoofed flood


class RefusalLimiter:
    """Counts refusals per client in fixed windows; thread-safe for gunicorn's threaded workers."""

    def __init__(self, limit: RefusalLimit | None = None, clock=time.monotonic) -> None:
        self.limit = limit or RefusalLimit()
        self._clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, client: str) -> float:
        """Seconds until `client` may post again, or 0 when it is not blocked (always 0 when the limit is 0)."""
        if not self.limit.max_refusals:
            return 0.0
        with self._lock:
            started, refusals = self._windows.get(client, (0.0, 0))
            remaining = started + self.limit.window_seconds - self._clock()
            return remaining if refusals > self.limit.max_refusals and remaining > 0 else 0.0

    def refused(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            started, refusals = self._windows.pop(client, (now, 0))
            if now - started >= self.limit.window_seconds:
                started, refusals = now, 0
            self._windows[client] = (started, refusals + 1)
            while len(self._windows) > self.limit.tracked_clients:
                self._windows.popitem(last=False)
