"""The refresh leases: one process refreshes a site at a time, and a process that lost a lease can never write.

Each site has a `visit_refresh` row: its watermark (its observations up to that id are merged) and a lease
(locked_by, locked_until) taken with a conditional UPDATE, the same on SQLite and PostgreSQL. Processes that
refresh different sites hold different rows and work at the same time; one that wants a held site waits for it,
and a crashed holder's lease runs out. The installation's row ("visits") holds the settings the visits were built
with and the exclusive lease of a rebuild, a prune or an erasure: while it is held no site can be taken, and its
holder takes every site once their refreshes are done.

Every write transaction renews the lease's rows first (on SQLite that first write takes the write lock, so the
transaction never upgrades from a read and cannot fail with SQLITE_BUSY_SNAPSHOT) and checks the watermarks it
last wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, String, func, literal, or_, select, update

from analytics.settings import SPAN, AnalyticsSettings
from config.settings import ConfigError, Settings
from store.analytics_settings import analytics_settings_of
from store.visits.shared import REFRESH, STATE_NAME, LeaseLost, RefreshBusy, VisitsOutOfDate, chunks, dialect

LEASE = timedelta(minutes=5)
DEFAULT_WAIT = timedelta(minutes=10)
POLL_SECONDS = 0.2
SITE_ROW_PREFIX = "site:"
# The settings that change what a visit is, or the dwell stored with it; visits built with other values need
# `presence rebuild`. Visits stored before migration 0010 are recorded as built with dwell_estimate = "span".
BUILD_SETTINGS = ("visit_gap", "fingerprint_period", "dwell_estimate", "probe_gap_unassociated", "probe_gap_associated")


class Lease:
    """Our hold on refresh rows: every write goes through `transaction()`, which renews them first.

    `sites` maps each site held to its watermark (its observations with an id up to it are merged). An exclusive
    lease (a rebuild, a prune, an erasure) holds the installation's row too, and with it every site: `watermark`
    is then the installation's, else the highest id this lease has merged up to."""

    def __init__(self, engine: Engine, owner: str, watermark: int, sites: dict[str, int], exclusive: bool) -> None:
        self.engine = engine
        self.owner = owner
        self.watermark = watermark
        self.sites = sites
        self.exclusive = exclusive
        self.longest_write = 0.0

    def transaction(self) -> LeasedTransaction:
        return LeasedTransaction(self)

    def rows(self) -> list[str]:
        return ([STATE_NAME] if self.exclusive else []) + [site_row(site) for site in self.sites]

    def advance(self, connection: Connection, upto: int) -> None:
        """Record (in the caller's leased transaction) that every site held is merged up to `upto`; `advanced`
        after the commit."""
        now = datetime.now(UTC)
        behind = [site_row(site) for site, mark in self.sites.items() if mark < upto]
        for part in chunks(behind):
            connection.execute(update(REFRESH).where(REFRESH.c.name.in_(part)).values(watermark=upto, refreshed_at=now))
        if self.exclusive and self.watermark < upto:
            connection.execute(
                update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(watermark=upto, refreshed_at=now)
            )

    def advanced(self, upto: int) -> None:
        self.sites = {site: max(mark, upto) for site, mark in self.sites.items()}
        self.watermark = max(self.watermark, upto)


class LeasedTransaction:
    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._context: Any = None

    def __enter__(self) -> Connection:
        self._started = time.perf_counter()
        self._context = self.lease.engine.begin()
        connection = self._context.__enter__()
        try:
            _renew(connection, self.lease)
        except BaseException as exc:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return connection

    def __exit__(self, *exc_info: Any) -> None:
        self._context.__exit__(*exc_info)
        self.lease.longest_write = max(self.lease.longest_write, time.perf_counter() - self._started)


def _renew(connection: Connection, lease: Lease) -> None:
    """Renew every row the lease holds (on SQLite this first write takes the write lock) and check that each
    watermark is the one the lease last wrote: otherwise another process took over, and nothing may be written."""
    rows = lease.rows()
    until = datetime.now(UTC) + LEASE
    renewed = 0
    stored: dict[str, int] = {}
    for part in chunks(rows):
        renewed += connection.execute(
            update(REFRESH)
            .where(REFRESH.c.name.in_(part), REFRESH.c.locked_by == lease.owner)
            .values(locked_until=until)
        ).rowcount
        marks = connection.execute(select(REFRESH.c.name, REFRESH.c.watermark).where(REFRESH.c.name.in_(part)))
        stored.update({str(name): int(mark) for name, mark in marks})
    expected = {site_row(site): mark for site, mark in lease.sites.items()}
    if lease.exclusive:
        expected[STATE_NAME] = lease.watermark
    if renewed != len(rows) or stored != expected:
        raise LeaseLost(f"refresh lease of {lease.owner} lost")


def new_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class hold_lease:  # noqa: N801  (used as a context manager, like contextlib's)
    """Take the exclusive lease: the installation's row, then every site's once their refreshes are done (new
    ones wait while the installation's row is held). Checks the settings; releases everything at the end."""

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
        self.owner = new_owner()

    def __enter__(self) -> Lease:
        ensure_row(self.engine, self.analytics_settings, self.settings)
        deadline = time.monotonic() + self.wait.total_seconds()
        row = _take_installation(self.engine, self.owner, deadline)
        try:
            if not self.rebuilding:
                check_built_with(row.settings, self.analytics_settings)
            sites = _take_every_site(self.engine, self.owner, deadline)
        except BaseException:
            release(self.engine, self.owner)
            raise
        self.lease = Lease(self.engine, self.owner, int(row.watermark), sites, exclusive=True)
        return self.lease

    def __exit__(self, *exc_info: Any) -> None:
        release(self.engine, self.owner)


def _take_installation(engine: Engine, owner: str, deadline: float) -> Any:
    while True:
        now = datetime.now(UTC)
        with engine.begin() as connection:
            taken = connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name == STATE_NAME, _free(now))
                .values(locked_by=owner, locked_until=now + LEASE)
            )
            if taken.rowcount == 1:
                return connection.execute(select(REFRESH).where(REFRESH.c.name == STATE_NAME)).one()
        if time.monotonic() >= deadline:
            raise RefreshBusy("another process is refreshing the visits")
        time.sleep(POLL_SECONDS)


def _take_every_site(engine: Engine, owner: str, deadline: float) -> dict[str, int]:
    """Every site's row, once no other process holds one (they cannot take a new one meanwhile)."""
    while True:
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.site.is_not(None), or_(_free(now), REFRESH.c.locked_by == owner))
                .values(locked_by=owner, locked_until=now + LEASE)
            )
            rows = connection.execute(
                select(REFRESH.c.site, REFRESH.c.watermark, REFRESH.c.locked_by).where(REFRESH.c.site.is_not(None))
            ).all()
        if all(row.locked_by == owner for row in rows):
            return {row.site: int(row.watermark) for row in rows}
        if time.monotonic() >= deadline:
            release(engine, owner)
            raise RefreshBusy("another process is refreshing the visits of a site")
        time.sleep(POLL_SECONDS)


def take_sites(engine: Engine, owner: str, sites: Sequence[str]) -> dict[str, int]:
    """The rows of those of `sites` no other process holds, taken now (none while a rebuild, prune or erasure holds
    the installation's row): each site taken and its watermark."""
    now = datetime.now(UTC)
    installation_busy = (
        select(REFRESH.c.name)
        .where(REFRESH.c.name == STATE_NAME, REFRESH.c.locked_by.is_not(None), REFRESH.c.locked_until >= now)
        .exists()
    )
    taken: dict[str, int] = {}
    with engine.begin() as connection:
        for part in chunks([site_row(site) for site in sites]):
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name.in_(part), _free(now), ~installation_busy)
                .values(locked_by=owner, locked_until=now + LEASE)
            )
            rows = connection.execute(
                select(REFRESH.c.site, REFRESH.c.watermark).where(
                    REFRESH.c.name.in_(part), REFRESH.c.locked_by == owner
                )
            ).all()
            taken.update({row.site: int(row.watermark) for row in rows})
    return taken


def release(engine: Engine, owner: str) -> None:
    """Release every row `owner` holds."""
    with engine.begin() as connection:
        connection.execute(
            update(REFRESH).where(REFRESH.c.locked_by == owner).values(locked_by=None, locked_until=None)
        )


def add_sites(connection: Connection, sites: Sequence[str], owner: str | None = None) -> dict[str, int]:
    """Rows for those of `sites` that have none, at the installation's floor (`floor`): by then every observation
    of a site without a row is merged. With `owner` (an exclusive lease) they are created, or taken, held by it.
    The sites' watermarks (with `owner`, of those it holds).

    Each statement writes first and reads only within itself, so on SQLite the transaction takes the write lock
    (waiting its turn) instead of failing to upgrade a read (SQLITE_BUSY_SNAPSHOT)."""
    if not sites:
        return {}
    installation = REFRESH.alias("installation")
    lowest = select(func.min(REFRESH.c.watermark)).where(REFRESH.c.site.is_not(None)).scalar_subquery()
    until = None if owner is None else datetime.now(UTC) + LEASE
    columns = ["name", "site", "watermark", "settings", "ap_config", "locked_by", "locked_until"]
    for site in sorted(set(sites)):
        row = select(
            literal(site_row(site)),
            literal(site),
            func.coalesce(lowest, installation.c.watermark),
            installation.c.settings,
            installation.c.ap_config,  # what the site's stored visits were zoned with until now
            literal(owner, String),
            literal(until, REFRESH.c.locked_until.type),
        ).where(installation.c.name == STATE_NAME)
        insert = dialect(connection).insert(REFRESH).from_select(columns, row)
        connection.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
    names = [site_row(site) for site in sites]
    marks: dict[str, int] = {}
    for part in chunks(names):
        query = select(REFRESH.c.site, REFRESH.c.watermark).where(REFRESH.c.name.in_(part))
        if owner is not None:
            # Rows another refresh created (unheld) since the exclusive lease took every site: taken too, as no
            # one else can take a site while the installation's row is held.
            connection.execute(
                update(REFRESH)
                .where(REFRESH.c.name.in_(part), or_(_free(datetime.now(UTC)), REFRESH.c.locked_by == owner))
                .values(locked_by=owner, locked_until=until)
            )
            query = query.where(REFRESH.c.locked_by == owner)
        marks.update({str(site): int(mark) for site, mark in connection.execute(query)})
    return marks


def floor(connection: Connection) -> int:
    """The id up to which every site's observations are merged: the lowest site watermark, or the installation's
    before any site has a row.

    Every refresh first gives a row to each site with observations between this floor and its safe high end
    (store.visits.refresh), so a site without a row has no observation up to the highest id any refresh reached,
    and none up to the floor: its row may start there."""
    lowest = connection.execute(select(func.min(REFRESH.c.watermark)).where(REFRESH.c.site.is_not(None))).scalar()
    if lowest is not None:
        return int(lowest)
    return int(connection.execute(select(REFRESH.c.watermark).where(REFRESH.c.name == STATE_NAME)).scalar() or 0)


def site_row(site: str) -> str:
    """The `visit_refresh` key of a site's row (site names may be longer than the key's 32 characters)."""
    return SITE_ROW_PREFIX + hashlib.sha256(site.encode()).hexdigest()[:24]


def _free(now: datetime) -> Any:
    return or_(REFRESH.c.locked_by.is_(None), REFRESH.c.locked_until < now)


def ensure_row(engine: Engine, analytics_settings: AnalyticsSettings, settings: Settings) -> None:
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


def built_with(stored: str | None, analytics_settings: AnalyticsSettings) -> bool:
    """True when the settings JSON the visits were recorded as built with is what `analytics_settings` asks for."""
    return stored is not None and json.loads(stored) == json.loads(settings_json(analytics_settings))


def check_built_with(stored: str, analytics_settings: AnalyticsSettings) -> None:
    """Raise VisitsOutOfDate, saying what differs and what to do, unless the visits were built with these."""
    if not built_with(stored, analytics_settings):
        raise VisitsOutOfDate(out_of_date(json.loads(stored), analytics_settings))


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
