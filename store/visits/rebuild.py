"""Rebuilding the visits from the observations, and what retention and erasure need of the stored visits.

Retention: `presence prune` (store.retention) deletes old observations but keeps the visits. `prepare_prune`
merges everything first and records the horizon (`pruned_before`) under the lease; a rebuild after that keeps
the visits that start before the horizon as they are and recomputes only the rest, skipping the observations
that are already counted in a kept visit (see `rebuild_visits`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    select,
    update,
)

from analytics.settings import AnalyticsSettings
from analytics.stays import estimate_extension
from analytics.visits import with_extension
from config.settings import Settings
from store.analytics_settings import analytics_settings_of
from store.visits.batches import counted_in_kept_visit, safe_high_watermark
from store.visits.lease import (
    DEFAULT_WAIT,
    add_sites,
    analytics_of,
    ap_config_json,
    built_with,
    floor,
    hold_lease,
    settings_json,
)
from store.visits.refresh import catch_up, sites_after_floor
from store.visits.shared import (
    CHUNK_ROWS,
    IN_LIST,
    MODELS,
    NO_SPAN,
    REFRESH,
    STATE_NAME,
    STATES,
    VISITS,
    RefreshResult,
    chunks,
)
from store.visits.states import decode_heard


def rebuild_visits(
    engine: Engine,
    settings: Settings,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    refit_zones: bool = True,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
) -> RefreshResult:
    """Recompute every visit from the observations: empty the visits and refresh from the first observation.

    With `refit_zones` (the default) the zone models are fitted again, on each site's most recent
    `zone_fit_window`; without it the stored models are kept, so zones come out as the incremental path gave them.

    After `presence prune` the observations before the retention horizon are gone, so the visits that start
    before it are kept as they are (with the settings they were built with; `visits_kept` counts them) and only
    the later ones are recomputed. Every observation still stored that was merged into a kept visit is skipped
    (merging it again would count it twice); the rest, and anything not merged yet, is merged as a refresh would.
    With the same settings this gives exactly the visits a rebuild before the prune gave.
    """
    analytics_settings = analytics_of(settings, analytics_settings)
    started = time.perf_counter()
    with hold_lease(engine, analytics_settings, settings, wait, rebuilding=True) as lease:
        horizon = pruned_before(engine)
        visits_kept = 0
        high = safe_high_watermark(engine)
        with lease.transaction() as connection:
            # What the kept visits hold: each site's observations up to its watermark, and up to the floor those
            # of a site with no row (lease.floor), so every site with later observations is given one first.
            lease.sites.update(add_sites(connection, sites_after_floor(connection, high), lease.owner))
            merged_upto, merged_elsewhere = dict(lease.sites), floor(connection)
            if horizon is not None:
                visits_kept = _drop_visits_from(connection, horizon, refit_zones=refit_zones)
                stored = connection.execute(select(REFRESH.c.settings).where(REFRESH.c.name == STATE_NAME)).scalar()
                if not built_with(stored, analytics_settings):
                    _restate_dwell(connection, analytics_settings)
            else:
                connection.execute(delete(STATES))
                connection.execute(delete(VISITS))
                if refit_zones:
                    connection.execute(delete(MODELS))
                else:
                    # Keep the fitted centres; the span and APs are learnt again from the rebuilt visits.
                    connection.execute(update(MODELS).values(aps="[]", data_from=NO_SPAN, data_to=NO_SPAN, zoned=True))
            config = ap_config_json(settings)
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME)
                .values(watermark=0, settings=settings_json(analytics_settings), ap_config=config)
            )
            connection.execute(update(REFRESH).where(REFRESH.c.site.is_not(None)).values(watermark=0, ap_config=config))
            lease.watermark = 0
            lease.sites = dict.fromkeys(lease.sites, 0)
        kept = None if horizon is None else counted_in_kept_visit(horizon, merged_upto, merged_elsewhere)
        result = catch_up(lease, settings, analytics_settings, chunk_rows, kept)
    result.visits_kept = visits_kept
    result.seconds = time.perf_counter() - started
    return result


def _restate_dwell(connection: Connection, analytics_settings: AnalyticsSettings) -> None:
    """The dwell of the visits kept across a prune, by the measure `analytics_settings` asks for, from their heard
    intervals (their observations are gone; a visit stored before migration 0010 counts as heard throughout)."""
    rows = connection.execute(
        select(VISITS.c.id, VISITS.c.first_seen, VISITS.c.last_seen, VISITS.c.associated, STATES.c.heard).select_from(
            VISITS.join(STATES, STATES.c.visit_id == VISITS.c.id)
        )
    ).all()
    if not rows:
        return
    kept = pd.DataFrame(
        {
            "key": [row[0] for row in rows],
            "first_seen": pd.to_datetime([row[1] for row in rows], utc=True),
            "last_seen": pd.to_datetime([row[2] for row in rows], utc=True),
            "associated": [bool(row[3]) for row in rows],
        }
    ).astype({"key": "int64"})
    heard = decode_heard(
        kept["key"].to_numpy(),
        [row[4] for row in rows],
        kept["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
        kept["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
    )
    dwell = with_extension(kept, estimate_extension(heard, kept, analytics_settings)).dt.total_seconds()
    updates = [{"visit_id": int(key), "dwell": float(value)} for key, value in zip(kept["key"], dwell, strict=True)]
    for offset in range(0, len(updates), IN_LIST):
        connection.execute(
            update(VISITS).where(VISITS.c.id == bindparam("visit_id")).values(dwell_seconds=bindparam("dwell")),
            updates[offset : offset + IN_LIST],
        )


def _drop_visits_from(connection: Connection, horizon: datetime, *, refit_zones: bool) -> int:
    """Delete the visits that start at or after the retention horizon; the number kept before it.

    The kept visits still hold the sites' spans and APs, so the zone model rows stay as they are; with
    `refit_zones` only their fit is dropped, to be fitted again at the end of the rebuild.
    """
    later = VISITS.c.first_seen >= horizon
    connection.execute(delete(STATES).where(STATES.c.visit_id.in_(select(VISITS.c.id).where(later))))
    connection.execute(delete(VISITS).where(later))
    if refit_zones:
        connection.execute(
            update(MODELS).values(
                model_aps=None,
                centers=None,
                trained_from=None,
                trained_to=None,
                fitted_at=None,
                fingerprints=0,
                version=0,
                zoned=False,
            )
        )
    return int(connection.execute(select(func.count()).select_from(VISITS)).scalar() or 0)


def pruned_before(engine: Engine) -> datetime | None:
    """The retention horizon: `presence prune` deleted observations last seen before this (None: never pruned)."""
    with engine.connect() as connection:
        return connection.execute(select(REFRESH.c.pruned_before).where(REFRESH.c.name == STATE_NAME)).scalar()


def prepare_prune(
    engine: Engine,
    settings: Settings,
    before: datetime,
    analytics_settings: AnalyticsSettings | None = None,
    *,
    now: datetime | None = None,
    wait: timedelta = DEFAULT_WAIT,
    chunk_rows: int = CHUNK_ROWS,
) -> RefreshResult:
    """Before observations last seen before `before` are deleted: merge every stored observation into the visits
    and record the horizon, both under the lease. The result's `watermark` is the id up to which deleting is safe.

    Under the lease, so no rebuild is running while the horizon moves: a rebuild that starts later keeps the
    visits before the new horizon (see `rebuild_visits`). The horizon never moves back. Raises VisitsOutOfDate
    like a refresh: pruning would freeze visits built with other settings.
    """
    analytics_settings = analytics_of(settings, analytics_settings)
    started = time.perf_counter()
    with hold_lease(engine, analytics_settings, settings, wait) as lease:
        result = catch_up(lease, settings, analytics_settings, chunk_rows)
        with lease.transaction() as connection:
            recorded = connection.execute(select(REFRESH.c.pruned_before).where(REFRESH.c.name == STATE_NAME)).scalar()
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME)
                .values(
                    pruned_before=before if recorded is None else max(recorded, before),
                    pruned_at=now or datetime.now(UTC),
                )
            )
    result.seconds = time.perf_counter() - started
    return result


def delete_device_visits(
    engine: Engine,
    settings: Settings,
    devices: Sequence[str],
    analytics_settings: AnalyticsSettings | None = None,
    *,
    wait: timedelta = DEFAULT_WAIT,
) -> dict[str, int]:
    """Delete every visit (and its state) of `devices`, under the lease; the number deleted per device.

    Delete the devices' observations first: a refresh that read them before can then no longer write a visit of
    theirs after this (it holds the lease from reading to writing). Other devices' visits are untouched:
    previous_first_seen only ever points at the same device's visits.
    """
    analytics_settings = analytics_settings or analytics_settings_of(settings)
    counts: dict[str, int] = {}
    # rebuilding=True only skips the settings check: an erasure must not wait for a `presence rebuild`.
    with hold_lease(engine, analytics_settings, settings, wait, rebuilding=True) as lease:
        for part in chunks(list(devices)):
            with lease.transaction() as connection:
                found = connection.execute(
                    select(VISITS.c.device, func.count()).where(VISITS.c.device.in_(part)).group_by(VISITS.c.device)
                ).all()
                ids = select(VISITS.c.id).where(VISITS.c.device.in_(part))
                connection.execute(delete(STATES).where(STATES.c.visit_id.in_(ids)))
                connection.execute(delete(VISITS).where(VISITS.c.device.in_(part)))
            counts.update({str(device): int(count) for device, count in found})
    return counts
