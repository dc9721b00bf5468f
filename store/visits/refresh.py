"""Refreshing: merge the observations stored since each site's watermark into the visits, a chunk at a time.

A refresh takes the lease of each site it brings up to date, so processes (or hosts, on PostgreSQL) that refresh
different sites work at the same time; one that wants a site another holds waits for it, then finds little left.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from analytics.settings import AnalyticsSettings
from config.settings import Settings
from store.visits.batches import read_batch, safe_high_watermark
from store.visits.lease import (
    DEFAULT_WAIT,
    POLL_SECONDS,
    Lease,
    add_sites,
    analytics_of,
    check_built_with,
    ensure_row,
    floor,
    new_owner,
    release,
    take_sites,
)
from store.visits.merge import merge_batch
from store.visits.shared import (
    CHUNK_ROWS,
    OBSERVATIONS,
    REFRESH,
    STATE_NAME,
    RefreshBusy,
    RefreshResult,
)
from store.visits.zone_models import load_models, update_zones


def refresh_visits(
    engine: Engine,
    settings: Settings,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
    sites: Sequence[str] | None = None,
) -> RefreshResult:
    """Merge every observation stored since the last refresh into the visits of `sites` (None: every site);
    idempotent, safe to run concurrently, and processes refreshing different sites do so at the same time.

    Waits up to `wait` for the sites another process is refreshing (then usually finds nothing left to do), and
    for a rebuild, prune or erasure, and raises RefreshBusy after that. Raises VisitsOutOfDate when the visits
    were built with another `visit_gap`, `fingerprint_period` or dwell measure, and ConfigError when
    `analytics_settings` measures dwell otherwise than the configuration (None: the configuration's).
    """
    analytics_settings = analytics_of(settings, analytics_settings)
    started = time.perf_counter()
    ensure_row(engine, analytics_settings, settings)
    _check_settings(engine, analytics_settings)
    high = safe_high_watermark(engine)
    with engine.connect() as connection:
        known = _every_site(connection)
        found = set(sites_after_floor(connection, high)).union(sites or ())
    if found - known:
        with engine.begin() as connection:
            add_sites(connection, sorted(found - known))
    wanted = set(sites) if sites is not None else known | found
    owner = new_owner()
    result = RefreshResult(watermark=high)
    deadline = time.monotonic() + wait.total_seconds()
    while wanted:
        taken = take_sites(engine, owner, sorted(wanted))
        if not taken:
            if time.monotonic() >= deadline:
                raise RefreshBusy("another process is refreshing the visits of " + ", ".join(sorted(wanted)))
            time.sleep(POLL_SECONDS)
            continue
        try:
            _check_settings(engine, analytics_settings)  # a rebuild may have run while we waited
            lease = Lease(engine, owner, min(taken.values()), taken, exclusive=False)
            done = catch_up(lease, settings, analytics_settings, chunk_rows, high=high)
        finally:
            release(engine, owner)
        result.add(done)
        wanted -= set(taken)
    result.seconds = time.perf_counter() - started
    return result


def visits_watermark(engine: Engine) -> int | None:
    """The id up to which every site's observations are merged into the visits (None before the first refresh)."""
    with engine.connect() as connection:
        if connection.execute(select(REFRESH.c.name).where(REFRESH.c.name == STATE_NAME)).first() is None:
            return None
        return floor(connection)


def sites_after_floor(connection: Connection, high: int) -> list[str]:
    """The sites with observations after the floor (every site's observations are merged up to it) up to `high`:
    the sites that may need a row before any watermark moves past the floor (see lease.floor)."""
    low = floor(connection)
    if low >= high:
        return []
    query = select(OBSERVATIONS.c.site).where(OBSERVATIONS.c.id > low, OBSERVATIONS.c.id <= high).distinct()
    return sorted(str(row[0]) for row in connection.execute(query))


def catch_up(
    lease: Lease,
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    chunk_rows: int,
    kept: Any = None,
    *,
    high: int | None = None,
) -> RefreshResult:
    """Merge the observations of the lease's sites after each one's watermark, up to `high`, a chunk at a time.

    An exclusive lease (high None) works out its own safe high end and first gives every site that has
    observations up to it a row, held by the lease. `kept` (a rebuild after a prune) is a SQL condition marking
    observations already counted in a kept visit, which are skipped."""
    engine = lease.engine
    if high is None:
        high = safe_high_watermark(engine)
        with lease.transaction() as connection:
            created = add_sites(connection, sites_after_floor(connection, high), owner=lease.owner)
        lease.sites.update(created)
    result = RefreshResult(watermark=lease.watermark)
    models = load_models(engine, None if lease.exclusive else list(lease.sites))
    while any(mark < high for mark in lease.sites.values()):
        behind = {site: mark for site, mark in lease.sites.items() if mark < high}
        batch = read_batch(engine, behind, high, chunk_rows, kept)
        upto = high if len(batch) < chunk_rows else int(batch["id"].iloc[-1])  # a short batch is all there is
        if kept is not None and not batch.empty:
            counted = batch.pop("kept").to_numpy(dtype=bool)
            batch = batch.loc[~counted].reset_index(drop=True)
        if batch.empty:
            with lease.transaction() as connection:
                lease.advance(connection, upto)
            lease.advanced(upto)
            continue
        merge_batch(lease, batch, upto, models, settings, analytics_settings, result)
        result.observations += len(batch)
    if lease.exclusive and lease.watermark < high:
        with lease.transaction() as connection:
            lease.advance(connection, high)
        lease.advanced(high)
    update_zones(lease, models, settings, analytics_settings, result)
    result.watermark = lease.watermark
    result.longest_write = lease.longest_write
    return result


def _check_settings(engine: Engine, analytics_settings: AnalyticsSettings) -> None:
    with engine.connect() as connection:
        stored = connection.execute(select(REFRESH.c.settings).where(REFRESH.c.name == STATE_NAME)).scalar_one()
    check_built_with(stored, analytics_settings)


def _every_site(connection: Connection) -> set[str]:
    return {str(row[0]) for row in connection.execute(select(REFRESH.c.site).where(REFRESH.c.site.is_not(None)))}
