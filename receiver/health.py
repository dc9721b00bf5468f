"""Whether the receiver can store anything: a full disk makes every POST a 503 and /healthz degraded.

A write that fails for lack of space (SQLite's "database or disk is full", PostgreSQL's disk_full, ENOSPC)
marks storage as full; the next write that succeeds clears it, so the receiver recovers by itself at the first
POST after space frees up (APs post every minute). Under gunicorn the mark is a file in the run directory
(a tmpfs or the runtime directory, never the data disk: see receiver.server), so every worker's /healthz says
the same; without one (tests, a single process) it is kept in memory.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError

_MARK = "storage-full"
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def is_disk_full(error: BaseException) -> bool:
    """Whether a failed write failed for lack of space, on SQLite, PostgreSQL or the file system."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, sqlite3.Error):
        return getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "is full" in str(cause)
    if getattr(cause, "sqlstate", None) == _POSTGRES_DISK_FULL:
        return True
    return isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)


class StorageHealth:
    """Full or not, shared by the workers through `run_dir` when given."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self._mark = run_dir / _MARK if run_dir is not None else None
        self._since: datetime | None = None
        self._lock = threading.Lock()

    def full(self, now: datetime | None = None) -> None:
        moment = now or datetime.now(UTC)
        with self._lock:
            self._since = self._since or moment
        if self._mark is not None and not self._mark.exists():
            self._mark.write_text(moment.isoformat())

    def stored(self) -> None:
        with self._lock:
            self._since = None
        if self._mark is not None:
            self._mark.unlink(missing_ok=True)

    def full_since(self) -> datetime | None:
        """When storage was first found full, or None while it is not."""
        if self._mark is None:
            return self._since
        try:
            return datetime.fromisoformat(self._mark.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
