"""Backfilling history straight into the database, as fast as the receiver's own code path allows.

Most of a backfill's time is the receiver's path itself (validating the payload models, normalizing, SQLAlchemy's
per-row parameter processing), so the window is cut at local midnights into one part per core. Each process
simulates its part (a day comes out the same in any window that contains it) and stores it through
database.DatabaseSink into the same database; SQLite serializes the writers with its write lock and busy timeout,
and one process generates while the other writes. The parent works out the ground truth of the whole window.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

from config.settings import Settings
from simulator.database import DatabaseSink
from simulator.layout import Shop, shop_from_settings
from simulator.run import Simulation, Summary, feed, simulate
from store import db
from store.observations import rebuild_ap_reports

# The demo machine has two cores; more processes than cores only queue for SQLite's write lock.
DEFAULT_PROCESSES = min(2, os.cpu_count() or 1)
# A part shorter than this is not worth a process start (about a second to import numpy, pydantic, SQLAlchemy).
MIN_DAYS_PER_PROCESS = 2


def backfill_database(
    settings: Settings,
    start: datetime,
    end: datetime,
    seed: int,
    *,
    shop: Shop | None = None,
    vendor: str = "mixed",
    processes: int = DEFAULT_PROCESSES,
    min_days_per_process: float = MIN_DAYS_PER_PROCESS,
) -> tuple[Simulation, Summary]:
    """Simulate `start`..`end` into the configured database (migrated first); the demo's and the CLI's fast path.

    With more than one process the caller's main module must be import-safe (`if __name__ == "__main__":`), as
    for any multiprocessing spawn; `processes=1` runs everything in the calling process.
    """
    shops = [(shop or shop_from_settings(settings), seed)]
    [result] = backfill_shops(
        settings, start, end, shops, vendor=vendor, processes=processes, min_days_per_process=min_days_per_process
    )
    return result


def backfill_shops(
    settings: Settings,
    start: datetime,
    end: datetime,
    shops: Sequence[tuple[Shop, int]],
    *,
    vendor: str = "mixed",
    processes: int = DEFAULT_PROCESSES,
    min_days_per_process: float = MIN_DAYS_PER_PROCESS,
) -> list[tuple[Simulation, Summary]]:
    """backfill_database for several (shop, seed) pairs, a chain's sites: each shop's simulation and summary.

    The work is each shop's window cut as `split` cuts it, shared out over the processes, so a chain's longer
    backfill runs its shops side by side. Each summary's seconds are the whole backfill's.
    """
    started = time.perf_counter()
    simulations = [simulate(shop, start, end, seed, vendor=vendor) for shop, seed in shops]
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()
    work = [
        (index, simulation.shop, simulation.seed, low, high)
        for index, simulation in enumerate(simulations)
        for low, high in split(simulation, processes, min_days=min_days_per_process)
    ]
    # As in split: a process only for at least min_days_per_process of simulated days, all shops counted.
    workers = min(processes, len(work), int(len(simulations) * (end - start) / timedelta(days=min_days_per_process)))
    if workers <= 1:
        results = [
            (index, store_part(settings, shop, low, high, seed, vendor)) for index, shop, seed, low, high in work
        ]
    else:
        context = multiprocessing.get_context("spawn")  # no fork: never copy a parent's engine or threads
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                (index, pool.submit(store_part, settings, shop, low, high, seed, vendor))
                for index, shop, seed, low, high in work
            ]
            for simulation in simulations:
                simulation.truth()  # meanwhile, in the parent
            results = [(index, future.result()) for index, future in futures]
    if not settings.count_only:  # count-only keeps no observations to derive reports from; live POSTs make them
        engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            rebuild_ap_reports(engine)  # the bulk load bypassed POSTs, so derive each AP's last report once
        finally:
            engine.dispose()
    seconds = time.perf_counter() - started
    return [
        (
            simulation,
            Summary.of(_Totals([part for owner, part in results if owner == index]), simulation.truth(), seconds),
        )
        for index, simulation in enumerate(simulations)
    ]


def split(
    simulation: Simulation, processes: int, *, min_days: float = MIN_DAYS_PER_PROCESS
) -> list[tuple[datetime, datetime]]:
    """The window cut at local midnights into at most `processes` parts of roughly equal length."""
    start, end = simulation.start, simulation.end
    if end is None:
        raise ValueError("an endless simulation cannot be split")
    wanted = min(processes, int((end - start) / timedelta(days=min_days)))
    cuts = [start]
    tz = simulation.shop.tz
    for k in range(1, max(wanted, 1)):
        ideal = (start + (end - start) * k / wanted).astimezone(tz)
        midnight = datetime(ideal.year, ideal.month, ideal.day, tzinfo=tz)
        if ideal - midnight > timedelta(hours=12):
            midnight = datetime.combine(midnight.date() + timedelta(days=1), midnight.timetz())
        if cuts[-1] < midnight < end:
            cuts.append(midnight)
    cuts.append(end)
    return list(zip(cuts, cuts[1:], strict=False))


def store_part(
    settings: Settings, shop: Shop, start: datetime, end: datetime | None, seed: int, vendor: str
) -> Summary:
    """Simulate and store one part of the window (runs in a worker process)."""
    started = time.perf_counter()
    # Deferred BEGIN (writer=False), unlike the receiver's BEGIN IMMEDIATE: SQLAlchemy converts a whole batch's
    # parameters before its first INSERT, and SQLite takes the write lock only at that INSERT, so one process
    # converts while the other writes instead of queueing behind the lock (about 18 % faster with two processes).
    # It is safe here because the INSERT is the transaction's first statement: SQLite then waits on the busy
    # timeout for the lock just as BEGIN IMMEDIATE would; only a transaction that read first could fail at once.
    engine = db.make_engine(settings.database_url, writer=False, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        sink = DatabaseSink(settings, engine)
        feed(simulate(shop, start, end, seed, vendor=vendor), sink)
        return Summary.of(sink, [], time.perf_counter() - started)
    finally:
        engine.dispose()


class _Totals:
    """The parts' counts added up, shaped like a sink for Summary.of."""

    def __init__(self, parts: list[Summary]) -> None:
        for name in ("payloads", "observations", "stored", "duplicates", "failed"):
            setattr(self, name, sum(getattr(part, name) for part in parts))
        self.failures = [failure for part in parts for failure in part.failures]
