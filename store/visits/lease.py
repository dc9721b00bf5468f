"""The refresh lease: one process refreshes at a time, and a process that lost its lease can never write.

The `visit_refresh` row is a lease (locked_by, locked_until) taken with a conditional UPDATE, the same on SQLite and
PostgreSQL; others wait for it, and a crashed holder's lease runs out. Every write transaction renews the lease
first (on SQLite that first write takes the write lock, so the transaction never upgrades from a read and cannot
fail with SQLITE_BUSY_SNAPSHOT) and checks the watermark it started from.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from analytics.settings import SPAN, AnalyticsSettings
from config.settings import ConfigError, Settings
from store.analytics_settings import analytics_settings_of
from store.visits.shared import REFRESH, STATE_NAME, LeaseLost, RefreshBusy, VisitsOutOfDate, dialect

LEASE = timedelta(minutes=5)
DEFAULT_WAIT = timedelta(minutes=10)
POLL_SECONDS = 0.2
# The settings that change what a visit is, or the dwell stored with it; visits built with other values need
# `presence rebuild`. Visits stored before migration 0010 are recorded as built with dwell_estimate = "span".
BUILD_SETTINGS = ("visit_gap", "fingerprint_period", "dwell_estimate", "probe_gap_unassociated", "probe_gap_associated")


class Lease:
    """Our hold on the refresh row: every write goes through `transaction()`, which renews it first."""

    def __init__(self, engine: Engine, owner: str, watermark: int) -> None:
        self.engine = engine
        self.owner = owner
        self.watermark = watermark
        self.longest_write = 0.0

    def transaction(self) -> LeasedTransaction:
        return LeasedTransaction(self)


class LeasedTransaction:
    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._context: Any = None

    def __enter__(self) -> Connection:
        self._started = time.perf_counter()
        self._context = self.lease.engine.begin()
        connection = self._context.__enter__()
        try:
            renewed = connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME, REFRESH.c.locked_by == self.lease.owner)
                .values(locked_until=datetime.now(UTC) + LEASE)
            )
            stored = connection.execute(select(REFRESH.c.watermark).where(REFRESH.c.name == STATE_NAME)).scalar()
            if renewed.rowcount != 1 or stored != self.lease.watermark:
                raise LeaseLost(f"refresh lease of {self.lease.owner} lost")
        except BaseException as exc:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return connection

    def __exit__(self, *exc_info: Any) -> None:
        self._context.__exit__(*exc_info)
        self.lease.longest_write = max(self.lease.longest_write, time.perf_counter() - self._started)


class hold_lease:  # noqa: N801  (used as a context manager, like contextlib's)
    """Take the refresh lease (waiting for another holder), check the settings, release it at the end."""

    def __init__(
        self,
        engine: Engine,
        analytics_settings: AnalyticsSettings,
        settings: Settings,
        wait: timedelta,
        *,
        rebuilding: bool = False,
    ) -> None:
        self.engine = engine
        self.analytics_settings = analytics_settings
        self.settings = settings
        self.wait = wait
        self.rebuilding = rebuilding
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> Lease:
        _ensure_row(self.engine, self.analytics_settings, self.settings)
        deadline = time.monotonic() + self.wait.total_seconds()
        while True:
            now = datetime.now(UTC)
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(REFRESH)
                    .where(
                        REFRESH.c.name == STATE_NAME,
                        or_(REFRESH.c.locked_by.is_(None), REFRESH.c.locked_until < now),
                    )
                    .values(locked_by=self.owner, locked_until=now + LEASE)
                )
                if taken.rowcount == 1:
                    row = connection.execute(select(REFRESH).where(REFRESH.c.name == STATE_NAME)).one()
                    break
            if time.monotonic() >= deadline:
                raise RefreshBusy("another process is refreshing the visits")
            time.sleep(POLL_SECONDS)
        try:
            if not self.rebuilding and json.loads(row.settings) != json.loads(settings_json(self.analytics_settings)):
                raise VisitsOutOfDate(out_of_date(json.loads(row.settings), self.analytics_settings))
        except BaseException:
            self._release()
            raise
        self.lease = Lease(self.engine, self.owner, int(row.watermark))
        return self.lease

    def __exit__(self, *exc_info: Any) -> None:
        self._release()

    def _release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME, REFRESH.c.locked_by == self.owner)
                .values(locked_by=None, locked_until=None)
            )


def _ensure_row(engine: Engine, analytics_settings: AnalyticsSettings, settings: Settings) -> None:
    insert = dialect(engine).insert(REFRESH).on_conflict_do_nothing(index_elements=["name"])
    with engine.begin() as connection:
        connection.execute(
            insert,
            {
                "name": STATE_NAME,
                "watermark": 0,
                "settings": settings_json(analytics_settings),
                "ap_config": ap_config_json(settings),
            },
        )


def analytics_of(settings: Settings, analytics_settings: AnalyticsSettings | None) -> AnalyticsSettings:
    """The analytics settings to build visits with: the caller's, which must measure dwell as the configuration
    says (PRESENCE_DWELL_ESTIMATE), else the configuration's own. A disagreement is refused rather than stored, so
    the stored dwell can never silently differ from the configured measure."""
    if analytics_settings is None:
        return analytics_settings_of(settings)
    if analytics_settings.dwell_estimate != settings.dwell_estimate:
        raise ConfigError(
            f"the configuration measures dwell as {settings.dwell_estimate!r} (PRESENCE_DWELL_ESTIMATE), but the "
            f"visits were asked to be built with {analytics_settings.dwell_estimate!r}"
        )
    return analytics_settings


def out_of_date(stored: dict[str, str], analytics_settings: AnalyticsSettings) -> str:
    """What differs between the settings the visits were built with and the ones asked for, and what to do."""
    wanted = json.loads(settings_json(analytics_settings))
    differing = [
        f"{name} {stored[name]} (asked for: {wanted[name]})"
        for name in sorted(set(stored) & set(wanted))  # the priors count only for the estimate: left out with span
        if stored[name] != wanted[name]
    ] or [f"{stored} (asked for: {wanted})"]
    advice = "run `presence rebuild` to recompute them from the observations"
    if stored.get("dwell_estimate") == SPAN and analytics_settings.dwell_estimate != SPAN:
        advice += f' (or set PRESENCE_DWELL_ESTIMATE={SPAN}, dwell_estimate = "{SPAN}" in the config, to keep them)'
    return f"the visits were built with other analytics settings: {'; '.join(differing)}; {advice}"


def settings_json(analytics_settings: AnalyticsSettings) -> str:
    values = asdict(analytics_settings)
    names = BUILD_SETTINGS if analytics_settings.dwell_estimate != SPAN else BUILD_SETTINGS[:3]  # span needs no prior
    return json.dumps({name: str(values[name]) for name in names}, sort_keys=True)


def ap_config_json(settings: Settings) -> str:
    aps = sorted((ap.mac, ap.name, ap.x, ap.y) for ap in settings.access_points.values())
    return json.dumps(aps)
