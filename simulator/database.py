"""Writing simulated reports straight into the database, through exactly the receiver's own code path.

payload model → vendor `sightings()` (Meraki v3: one per location and AP) → store.records.Normalizer.rows
→ store.observations.store_observations, with `received_at` = the time the AP posts: what
receiver.ingest.Ingestor.store does for each POST, minus the validation the payload models already had. Backfill
batches several payloads into one `store_observations` call (one transaction): with synchronous=FULL SQLite waits
for the disk at every commit, and a call per payload spent most of its time waiting (see docs/benchmarks.md).
Deduplication is unchanged: within a batch by dedupe key, across batches by the unique index, exactly as for
separate POSTs. A payload stored in its own transaction (`batch_rows=0`: `presence simulate` into the database)
records its APs' report in it, as a POST does (the Live page's AP status reads those); a batched backfill
derives them once at its end (store.observations.rebuild_ap_reports). In count-only mode (PRESENCE_COUNT_ONLY=1)
each payload is counted as the receiver counts a POST (store.counts.minute_counts), and a batch's counts are
merged by the same MAX the database applies.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from config.settings import Settings
from receiver.vendors import aerohive, engenius, meraki
from store.counts import COUNT_COLUMNS, KEY_COLUMNS, CountRow, minute_counts, store_counts
from store.observations import Reporter, store_observations
from store.records import Normalizer, ObservationRow

if TYPE_CHECKING:
    from simulator.run import Report

VENDOR_MODULES = {engenius.VENDOR: engenius, aerohive.VENDOR: aerohive, meraki.VENDOR: meraki}
# Rows per transaction when backfilling: past a few thousand the commit cost is spread thin (docs/benchmarks.md).
BACKFILL_BATCH_ROWS = 20_000


class DatabaseSink:
    """Stores reports as the receiver would; `batch_rows=0` stores every payload in its own transaction."""

    def __init__(self, settings: Settings, engine: Engine, *, batch_rows: int = BACKFILL_BATCH_ROWS) -> None:
        self._engine = engine
        self._normalizer = Normalizer(settings)
        self._batch_rows = batch_rows
        self._pending: list[ObservationRow] = []
        self._pending_counts: dict[tuple, CountRow] = {}
        self._reporters: list[Reporter] = []  # the one pending payload's APs (batch_rows=0 only)
        self._reported_at: datetime | None = None
        self.payloads = self.observations = self.stored = self.duplicates = self.failed = 0
        self.failures: list[str] = []

    def add(self, report: Report) -> None:
        module = VENDOR_MODULES[report.vendor]
        sightings = module.sightings(report.payload)  # type: ignore[attr-defined]
        if self._normalizer.count_only:
            for row in minute_counts(sightings, self._normalizer.site_of):
                key = _count_key(row)
                merged = self._pending_counts.setdefault(key, row)
                for name in COUNT_COLUMNS:
                    merged[name] = max(merged[name], row[name])  # type: ignore[call-overload]
        else:
            self._pending.extend(self._normalizer.rows(report.vendor, sightings, report.at))
        if self._batch_rows == 0:
            self._reporters = [Reporter(ap.mac, report.vendor, self._normalizer.site_of(ap.mac)) for ap in report.aps]
            self._reported_at = report.at
        self.payloads += 1
        self.observations += len(sightings)
        if len(self._pending) + len(self._pending_counts) >= self._batch_rows:
            self.flush()

    def flush(self) -> None:
        # Ctrl-C waits until the batch is stored and counted: interrupted between the commit and the counting, the
        # closing flush stored the same batch again and reported its rows as duplicates.
        with _ctrl_c_deferred():
            reporters, at = self._reporters, self._reported_at
            self._reporters, self._reported_at = [], None
            count_only = self._normalizer.count_only
            if self._pending_counts or (reporters and count_only):
                rows = sorted(self._pending_counts.values(), key=_count_key)
                counted = store_counts(self._engine, rows, reporters, at)
                self.stored += counted.stored
                self.duplicates += counted.duplicates
                self._pending_counts = {}
            if self._pending or (reporters and not count_only):
                result = store_observations(self._engine, self._pending, reporters, at)
                self.stored += result.stored
                self.duplicates += result.duplicates
                self._pending = []

    def close(self) -> None:
        self.flush()


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A Ctrl-C during the block is held and raised as KeyboardInterrupt when the block ends (main thread only).

    The Python-level handler is swapped rather than the signal masked: the kernel may deliver a process-directed
    SIGINT to any thread that does not block it (the OUI registry's loader leaves a worker thread behind), and
    Python then runs the handler in the main thread at once, mask or not.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def _count_key(row: CountRow) -> tuple:
    return tuple(row[name] for name in KEY_COLUMNS)
