"""Rate limiting for senders that keep getting refused, so a flood of forged or broken posts stays cheap.

Only refusals (4xx) count towards the limit, never accepted posts: losing a real AP's report is worse than
serving a busy one, and vendors never retry. A client address with more than `max_refusals` in a
`window_seconds` window is answered 429 before its body is read, until the window has passed. A misconfigured
AP posting once a minute with a wrong key never gets near the limit. The count lives in each worker process,
so with N workers a sender may see up to N times the limit before every worker refuses it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


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
