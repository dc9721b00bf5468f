"""Writers into one SQLite file take turns through a kernel lock, not SQLite's sleeping busy handler.

SQLite lets one transaction write at a time. A second writer that finds the lock taken sleeps in SQLite's busy
handler for 1, 2, 5 ... up to 100 ms between retries, so with two gunicorn workers a POST often sleeps long
after the lock is free: the ingest benchmark's p99 was near a second. Here each process queues its writers on
one mutex, and the processes queue on an exclusive `flock` of `<database>.write-lock`: the kernel wakes the
next writer the moment the lock is released, and releases it for good if its holder dies (SIGKILL included).
Writers that do not use this queue (the visits refresh, a prune) still meet the receiver at SQLite's own
lock and its busy timeout, exactly as before: the queue orders only the writers that go through
store.observations (POSTs, imports, the simulator's backfill) among themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_QUEUES: dict[tuple[int, str], _WriteQueue] = {}
_QUEUES_LOCK = threading.Lock()


class _WriteQueue:
    def __init__(self, lock_path: Path) -> None:
        self._mutex = threading.Lock()  # flock does not exclude threads sharing one open file
        self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._mutex:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def write_turn(database: str | None) -> contextlib.AbstractContextManager[None]:
    """A context manager held around one write transaction into the SQLite file `database`."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return contextlib.nullcontext()
    key = (os.getpid(), os.path.abspath(database))  # per process: a forked child must open its own file
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key)
        if queue is None:
            queue = _QUEUES[key] = _WriteQueue(Path(f"{key[1]}.write-lock"))
    return queue.turn()
