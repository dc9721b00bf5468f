"""Where the dashboard's data comes from: the configured source, one engine per database, the days it covers, the clock.

The dashboard's data layer is three modules, read in this order:
- `data` (this one): every read of the configuration, the database's extent and the time, so tests replace one
  function (`clock`, `source`, `span`, ...) and the login gate can prove nothing was read before it;
- `cache`: what is cached and why, the analyses every page shares, and the background warm-up;
- `products`: what each page shows, built from those analyses.

Every analysis is made the way `presence report` makes it (see app.dashboard.cache), so the dashboard and the CLI
never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from analytics.settings import AnalyticsSettings
from config.settings import AccessPoint, Settings
from store import db
from store.analytics_settings import analytics_settings_of
from store.count_frames import count_span
from store.models import DeviceCount, Observation, Visit
from store.sites import reported_sites

SPAN_TTL = timedelta(minutes=1)  # how soon new days show in the date pickers


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or read; the message says which database and why."""


@dataclass(frozen=True)
class SiteInfo:
    """What the pages show of a site (config.sites.Site without its hours table, so it can be a cache key)."""

    name: str
    timezone: str
    group: str | None = None
    capacity: int | None = None
    hours: str = ""  # the opening hours in one line (Site.hours_text), '' when none are set

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Source:
    """Where the data is and how to read it: the cache key of every loader (hashable, no secrets)."""

    database_url: str
    timezone: str
    access_points: tuple[AccessPoint, ...] = ()
    count_only: bool = False  # PRESENCE_COUNT_ONLY: per-minute counts only, shown on the Counts page
    sites: tuple[SiteInfo, ...] = ()  # every site the config names ([[sites]] and the APs' sites), in its order
    site_timezone: str = "UTC"  # the time zone of a site the config describes not (Settings.site_timezone)

    @classmethod
    def from_settings(cls, settings: Settings) -> Source:
        sites = tuple(
            SiteInfo(name, site.timezone, site.group, site.capacity, site.hours_text())
            for name, site in ((name, settings.site(name)) for name in settings.site_names())
        )
        return cls(
            settings.database_url,
            settings.timezone,
            tuple(settings.access_points.values()),
            settings.count_only,
            sites,
            settings.site_timezone,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def site(self, name: str) -> SiteInfo:
        """The site called `name`, as the config describes it, else with the defaults (as Settings.site)."""
        return next((site for site in self.sites if site.name == name), SiteInfo(name, self.site_timezone))

    def groups(self) -> dict[str, list[str]]:
        """Each group of [[sites]] and its sites, in config order (as Settings.groups)."""
        groups: dict[str, list[str]] = {}
        for site in self.sites:
            if site.group:
                groups.setdefault(site.group, []).append(site.name)
        return groups

    def scope_tz(self, sites: Sequence[str]) -> ZoneInfo:
        """The time zone the pages show `sites` in: theirs when they share one, else the installation's (as
        `window_analysis` chooses an analysis's)."""
        zones = {self.site(name).timezone for name in sites}
        return ZoneInfo(zones.pop()) if len(zones) == 1 else self.tz

    @property
    def ap_map(self) -> dict[str, AccessPoint]:
        return {ap.mac: ap for ap in self.access_points}

    @property
    def display_url(self) -> str:
        """The database URL without its password, for messages."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    @cached_property
    def fingerprint(self) -> str:
        """A digest of every field, made once per Source: what the caches key on (HASH_FUNCS). Streamlit would
        hash a dataclass field by field on every cached call, 20 ms for a hundred sites' 400 APs, seven times a
        Live tick."""
        return hashlib.sha256(repr(self).encode()).hexdigest()


# Every cached function that takes a Source keys it on its fingerprint.
HASH_FUNCS: dict[type, Callable[[Source], str]] = {Source: lambda src: src.fingerprint}


@dataclass(frozen=True)
class Span:
    """Which site-local days the database's observations cover (all None while it holds none)."""

    first_day: date | None = None
    last_day: date | None = None
    last_seen: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.last_seen is None


def settings() -> Settings:
    """The installation's settings, read from the environment (PRESENCE_DATABASE_URL, PRESENCE_CONFIG, ...)."""
    return Settings.from_env()


def source() -> Source:
    """The configured source of data."""
    return Source.from_settings(settings())


def clock() -> datetime:
    """Now, as an aware UTC datetime (the one place the dashboard reads the time: tests replace it)."""
    return datetime.now(UTC)


def today(src: Source) -> date:
    """The site-local date now."""
    return clock().astimezone(src.tz).date()


def analytics_settings() -> AnalyticsSettings:
    """The analytics thresholds, exactly as `presence report` uses them: the defaults with what the configuration
    sets (the dwell measure, PRESENCE_DWELL_ESTIMATE)."""
    return analytics_settings_of(settings())


@st.cache_resource(show_spinner=False, on_release=lambda released: released.dispose())
def engine(database_url: str) -> Engine:
    """One engine (connection pool) per database for the whole server."""
    return db.make_engine(database_url)


@st.cache_data(ttl=SPAN_TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def span(src: Source) -> Span:
    """Which days the data covers; raises DatabaseUnavailable. A database without the tables yet (the receiver
    has never started) is empty.

    The observations' days, from their last_seen index, reaching back to the first stored visit when
    `presence prune` has deleted older observations (the visits still answer for those days). In count-only
    mode, the days of the per-minute counts.
    """
    try:
        eng = engine(src.database_url)
        tables = inspect(eng)
        if src.count_only:
            first, last = count_span(eng) if tables.has_table(DeviceCount.__tablename__) else (None, None)
        else:
            if not tables.has_table(Observation.__tablename__):
                return Span()
            last_seen = Observation.__table__.c.last_seen
            # Two subqueries, each one step down the last_seen index: SQLite answers min() and max() of one
            # SELECT by scanning the whole index (2.8 s of 3.7 M observations), each alone from its end.
            query = select(select(func.min(last_seen)).scalar_subquery(), select(func.max(last_seen)).scalar_subquery())
            with eng.connect() as connection:
                first, last = connection.execute(query).one()
                if last is not None and tables.has_table(Visit.__tablename__):
                    visits = Visit.__table__
                    oldest_visit = connection.execute(select(func.min(visits.c.first_seen))).scalar()
                    if oldest_visit is not None and aware(oldest_visit) < aware(first):
                        first = oldest_visit
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {reason(exc)}") from exc
    if first is None or last is None:
        return Span()
    first, last = aware(first), aware(last)
    return Span(first.astimezone(src.tz).date(), last.astimezone(src.tz).date(), last)


@st.cache_data(ttl=SPAN_TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def known_sites(src: Source) -> list[str]:
    """Every site the config names, then every other site that has reported (store.sites.known_sites, from the
    Source); raises DatabaseUnavailable."""
    try:
        reported = reported_sites(engine(src.database_url))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {reason(exc)}") from exc
    return list(dict.fromkeys([*(site.name for site in src.sites), *reported]))


def aware(moment: datetime | str) -> datetime:
    """A min/max of the UTC column: SQLite returns the stored text, PostgreSQL an aware datetime."""
    value = pd.Timestamp(moment)
    return (value.tz_localize(UTC) if value.tzinfo is None else value.tz_convert(UTC)).to_pydatetime()


def reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    return str(original or exc).strip().splitlines()[0]
