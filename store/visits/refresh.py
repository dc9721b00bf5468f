"""Refreshing: merge the observations stored since the watermark into the visits, a chunk at a time."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    select,
    update,
)

from analytics.settings import AnalyticsSettings
from config.settings import Settings
from store.visits.batches import read_batch, safe_high_watermark
from store.visits.lease import DEFAULT_WAIT, Lease, analytics_of, hold_lease
from store.visits.merge import merge_batch
from store.visits.shared import (
    CHUNK_ROWS,
    REFRESH,
    STATE_NAME,
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
) -> RefreshResult:
    """Merge every observation stored since the last refresh into the visits; idempotent, safe to run concurrently.

    Waits up to `wait` for another process's refresh to finish (then usually finds nothing left to do) and
    raises RefreshBusy after that. Raises VisitsOutOfDate when the visits were built with another `visit_gap`,
    `fingerprint_period` or dwell measure, and ConfigError when `analytics_settings` measures dwell otherwise than
    the configuration (None: the configuration's, `Settings.analytics_settings`).
    """
    analytics_settings = analytics_of(settings, analytics_settings)
    started = time.perf_counter()
    with hold_lease(engine, analytics_settings, settings, wait) as lease:
        result = catch_up(lease, settings, analytics_settings, chunk_rows)
    result.seconds = time.perf_counter() - started
    return result


def visits_watermark(engine: Engine) -> int | None:
    """The id of the last observation merged into the visits (None before the first refresh)."""
    with engine.connect() as connection:
        return connection.execute(select(REFRESH.c.watermark).where(REFRESH.c.name == STATE_NAME)).scalar()


def catch_up(
    lease: Lease,
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    chunk_rows: int,
    kept: Any = None,
) -> RefreshResult:
    """Merge the observations after the watermark, a chunk at a time; `kept` (a rebuild after a prune) is a SQL
    condition marking observations already counted in a kept visit, which are skipped."""
    result = RefreshResult(watermark=lease.watermark)
    models = load_models(lease.engine)
    high = safe_high_watermark(lease.engine)
    while lease.watermark < high:
        batch = read_batch(lease.engine, lease.watermark, high, chunk_rows, kept)
        if batch.empty:
            break
        upto = int(batch["id"].iloc[-1])
        if kept is not None:
            counted = batch.pop("kept").to_numpy(dtype=bool)
            batch = batch.loc[~counted].reset_index(drop=True)
        if batch.empty:
            with lease.transaction() as connection:
                connection.execute(update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(watermark=upto))
            lease.watermark = upto
            continue
        merge_batch(lease, batch, upto, models, settings, analytics_settings, result)
        result.observations += len(batch)
    update_zones(lease, models, settings, analytics_settings, result)
    result.watermark = lease.watermark
    result.longest_write = lease.longest_write
    return result
