"""The dashboard's data layer: one cached engine, cached analyses, and the products each page shows.

Every analysis is made the way `presence report` makes it: from the stored visits with the CLI's own
`window_analysis` (which refreshes them first), or, when a filter applies to single observations (SSID,
manufacturer, AP), with `analytics.report.analyse` of the observations. KPIs are `analytics.report.report` of that
analysis, so the dashboard and the CLI never disagree.

Caching, and why:
- the engine: `st.cache_resource`, one pool per database URL for the whole server;
- observation frames and `Analysis` objects: `st.cache_resource` with a TTL. They are large, shared read-only by
  every session, and `st.cache_data` would pickle a copy on every read. Every recent view shares one frame
  (`load_from`); `analyse` keeps exactly the rows `load_observations` returns for its window, so the numbers
  stay the CLI's;
- the small products (report dicts, tidy frames): `st.cache_data` with the same TTL, refreshed in the background;
- the live panel: the history it compares with (typical occupancy, staff) has its own long TTL and refreshes in
  the background, so a live tick only reads the last few hours of observations and the AP report times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from analytics import occupancy
from analytics.classify import PARTY, staff_devices
from analytics.filters import Filters
from analytics.report import (
    Analysis,
    analyse,
    analyse_visits,
    daily_series,
    hour_of_week,
    needs_observations,
    report,
    zone_transitions,
)
from analytics.settings import AnalyticsSettings
from analytics.zones import zone_name
from app.commands.export import window_analysis
from app.dashboard import tables
from config.settings import AccessPoint, Settings
from store import db
from store.count_frames import count_span
from store.frames import load_observations, load_visits
from store.models import APReport, DeviceCount, Observation, Visit
from store.queries import ap_reports, local_day_bounds
from store.visits import RefreshBusy, VisitsOutOfDate

HISTORY_TTL = timedelta(minutes=10)  # how stale a report may get while data keeps arriving
SPAN_TTL = timedelta(minutes=1)
LIVE_TTL = timedelta(seconds=20)
LIVE_REFRESH = timedelta(seconds=30)  # the live panel reruns itself this often
RECENT = timedelta(hours=4)  # the live line's span
RECENT_LOAD = RECENT + timedelta(hours=2)  # visits in progress at the line's start began up to this long ago
LIVE_FREQ_MINUTES = 5
TYPICAL_FREQ_MINUTES = 15
TYPICAL_WEEKS = 4
# An AP that has reported nothing for this long gets a warning: EnGenius and HiveManager both post every minute
# or so while they hear anything, and a shop's APs always hear someone's phone during opening hours.
AP_SILENT_AFTER = timedelta(minutes=10)
# Every default view (the last week and the one before, four weeks of trends, the live history) starts within this
# before the last day with data, so they share one frame read from the database (see `load_from`).
COMMON_FRAME = timedelta(weeks=6)
FRAME_GRID_ORIGIN = date(2000, 1, 3)  # a Monday
VISIT_TABLE_ROWS = 2000  # shown on the page; the CSV download has them all


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or read; the message says which database and why."""


@dataclass(frozen=True)
class Source:
    """Where the data is and how to read it: the cache key of every loader (hashable, no secrets)."""

    database_url: str
    timezone: str
    access_points: tuple[AccessPoint, ...] = ()
    count_only: bool = False  # PRESENCE_COUNT_ONLY: per-minute counts only, shown on the Counts page

    @classmethod
    def from_settings(cls, settings: Settings) -> Source:
        return cls(
            settings.database_url, settings.timezone, tuple(settings.access_points.values()), settings.count_only
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ap_map(self) -> dict[str, AccessPoint]:
        return {ap.mac: ap for ap in self.access_points}

    @property
    def display_url(self) -> str:
        """The database URL without its password, for messages."""
        return make_url(self.database_url).render_as_string(hide_password=True)


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
    """The analytics thresholds: the defaults, exactly as `presence report` uses them."""
    return AnalyticsSettings()


@st.cache_resource(show_spinner=False, on_release=lambda released: released.dispose())
def engine(database_url: str) -> Engine:
    """One engine (connection pool) per database for the whole server."""
    return db.make_engine(database_url)


@st.cache_data(ttl=SPAN_TTL, show_spinner=False)
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
            table = Observation.__table__
            query = select(func.min(table.c.last_seen), func.max(table.c.last_seen))  # both from the index
            with eng.connect() as connection:
                first, last = connection.execute(query).one()
                if last is not None and tables.has_table(Visit.__tablename__):
                    visits = Visit.__table__
                    oldest_visit = connection.execute(select(func.min(visits.c.first_seen))).scalar()
                    if oldest_visit is not None and _aware(oldest_visit) < _aware(first):
                        first = oldest_visit
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    if first is None or last is None:
        return Span()
    first, last = _aware(first), _aware(last)
    return Span(first.astimezone(src.tz).date(), last.astimezone(src.tz).date(), last)


def _aware(moment: datetime | str) -> datetime:
    """A min/max of the UTC column: SQLite returns the stored text, PostgreSQL an aware datetime."""
    value = pd.Timestamp(moment)
    return (value.tz_localize(UTC) if value.tzinfo is None else value.tz_convert(UTC)).to_pydatetime()


def _reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    return str(original or exc).strip().splitlines()[0]


# --- windows and analyses ----------------------------------------------------------------------------------------


def load_from(src: Source, need_from: date) -> date:
    """The first day of the shared frame that serves a window starting at `need_from` (its history excluded).

    Every view of recent data (the default ranges of all pages and the live history) shares one frame that starts
    COMMON_FRAME before the last day with data, so four weeks of a shop are read from the database once. A window
    further back gets a frame of its own, starting on a COMMON_FRAME grid so nearby windows share it too.
    """
    held = span(src)
    common = (held.last_day or need_from) - COMMON_FRAME
    if need_from >= common:
        return common
    grid_days = COMMON_FRAME.days
    return need_from - timedelta(days=(need_from - FRAME_GRID_ORIGIN).days % grid_days)


@st.cache_resource(ttl=HISTORY_TTL, max_entries=3, show_spinner="Reading observations…", refresh_mode="background")
def observations(src: Source, first_day: date) -> pd.DataFrame:
    """Every observation from the analytics' history before site-local day `first_day` on (shared, read-only)."""
    start, _ = local_day_bounds(first_day, None, src.tz)
    try:
        return load_observations(engine(src.database_url), start, None, history=analytics_settings().history)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc


@st.cache_resource(ttl=HISTORY_TTL, max_entries=24, show_spinner="Analysing visits…", refresh_mode="background")
def analysis(
    src: Source, first: date, last: date, filters: Filters, frame_from: date, complete: bool = False
) -> Analysis:
    """The analysis of the days first..last with `filters`, made the way `presence report` makes it.

    Filters on single observations (SSID, manufacturer, AP) need the observations: `analytics.report.analyse` of the
    shared frame starting at `frame_from` (see `load_from`), which keeps exactly the rows `load_observations`
    returns for this window. Otherwise the CLI's own `window_analysis` from the stored visits (refreshed first);
    `complete` loads every visit of the window, passersby included (visit lists), as `presence export visits` does.
    """
    start, end = local_day_bounds(first, last, src.tz)
    if needs_observations(filters):
        return analyse(observations(src, frame_from), start, end, analytics_settings(), filters, src.tz, src.ap_map)
    try:
        return window_analysis(settings(), analytics_settings(), start, end, filters, complete=complete)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    except (VisitsOutOfDate, RefreshBusy) as exc:
        raise DatabaseUnavailable(f"the stored visits of {src.display_url} are not usable: {exc}") from exc


def analysis_of(
    src: Source, first: date, last: date, filters: Filters, need_from: date | None = None, *, complete: bool = False
) -> Analysis:
    """The analysis of first..last from the frame that also covers `need_from` (default: `first`)."""
    return analysis(src, first, last, filters, load_from(src, min(need_from or first, first)), complete)


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False, refresh_mode="background")
def report_of(src: Source, first: date, last: date, filters: Filters, need_from: date | None = None) -> dict[str, Any]:
    """The `presence report` dict of the days first..last with `filters`."""
    return report(analysis_of(src, first, last, filters, need_from))


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False, refresh_mode="background")
def filter_options(src: Source, first: date, last: date) -> dict[str, Any]:
    """SSIDs, manufacturers and APs (display name -> MAC) heard from the history before `first` up to `last`,
    and the zones they make.

    Read with three DISTINCT queries, not from the shared frame: the sidebar is drawn before any page, and must
    not wait for the frame's first load. An AP's display name is its configured name, or its MAC; a name two
    APs share gets the MAC added. Zones are named after the AP each one hears strongest (analytics.zones), so the
    AP names are the zone names.
    """
    start, end = local_day_bounds(first, last, src.tz)
    since = start - analytics_settings().history
    table = Observation.__table__
    values = {}
    try:
        with engine(src.database_url).connect() as connection:
            for name in ("ssid", "manufacturer", "ap_mac"):
                column = table.c[name]
                # The last_seen index narrows the scan to the window; DISTINCT keeps the answer small.
                query = select(column).distinct().where(table.c.last_seen >= since, table.c.last_seen < end)
                values[name] = sorted(value for value in connection.execute(query.where(column.is_not(None))).scalars())
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    aps = sorted(set(values["ap_mac"]) | {ap.mac for ap in src.access_points})
    names = {mac: zone_name(mac, src.ap_map) for mac in aps}
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    labels = {(f"{name} ({mac})" if name in shared else name): mac for mac, name in names.items()}
    return {
        "ssids": values["ssid"],
        "manufacturers": values["manufacturer"],
        "aps": dict(sorted(labels.items())),
        "zones": sorted(set(names.values())),
    }


# --- explorer ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explorer:
    """What the Visitors page shows for one selection."""

    report: dict[str, Any]
    previous: dict[str, Any]
    daily: pd.DataFrame
    dwell_buckets: pd.DataFrame
    loyalty: pd.DataFrame
    manufacturers: pd.DataFrame
    unknown_manufacturer: int  # visitors whose phone names no manufacturer (randomized MACs)
    ssids: pd.DataFrame
    not_connected: int  # visitors never associated to any SSID


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Counting visitors…", refresh_mode="background")
def explorer(src: Source, first: date, last: date, filters: Filters) -> Explorer:
    """The selection's report, the previous period's, and the tidy frames behind the Visitors page's charts."""
    days = (last - first).days + 1
    previous_first, previous_last = first - timedelta(days=days), first - timedelta(days=1)
    current = analysis_of(src, first, last, filters, previous_first)
    now = report_of(src, first, last, filters, previous_first)
    manufacturers, unknown_manufacturer = tables.breakdown(current.visitor_visits, "manufacturer")
    ssids, not_connected = tables.breakdown(current.visitor_visits, "ssid")
    return Explorer(
        report=now,
        previous=report_of(src, previous_first, previous_last, filters, previous_first),
        daily=tables.daily(now, tables.staff_per_day(current.window_visits)),
        dwell_buckets=tables.dwell_buckets(now),
        loyalty=tables.loyalty(now),
        manufacturers=manufacturers,
        unknown_manufacturer=unknown_manufacturer,
        ssids=ssids,
        not_connected=not_connected,
    )


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False)
def visit_list(src: Source, first: date, last: date, filters: Filters, categories: tuple[str, ...]) -> pd.DataFrame:
    """The selection's visits of the given categories ("visitor", "passerby", "staff"), newest first."""
    days = (last - first).days + 1
    current = analysis_of(src, first, last, filters, first - timedelta(days=days), complete=True)
    return tables.visit_table(current.window_visits, src.tz, categories)


# --- trends ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trends:
    """What the Trends page shows: the week of the selection's last day against the weeks before it."""

    this_monday: date
    last: date
    this_week: dict[str, Any]
    last_week: dict[str, Any]
    week_over_week: pd.DataFrame
    hour_of_week: pd.DataFrame
    weekday: pd.DataFrame


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Comparing weeks…", refresh_mode="background")
def trends(src: Source, first: date, last: date, filters: Filters) -> Trends:
    """This week (its Monday to `last`) against the same days of last week, both as `presence report` counts them;
    daily visitors by weekday for this week, last week and the average of the TYPICAL_WEEKS weeks before; and the
    selection's hour-of-week and weekday profiles."""
    this_monday = tables.monday_of(last)
    weeks_first = this_monday - timedelta(weeks=TYPICAL_WEEKS)
    need_from = min(first, weeks_first)
    by_day = daily_series(analysis_of(src, weeks_first, last, filters, need_from))
    # Days before the first observation are not days without visitors: leave them out of the averages.
    first_day = span(src).first_day
    if first_day is not None:
        by_day = by_day.loc[by_day["date"] >= pd.Timestamp(first_day)]
    selected = analysis_of(src, first, last, filters, need_from)
    return Trends(
        this_monday=this_monday,
        last=last,
        this_week=report_of(src, this_monday, last, filters, need_from),
        last_week=report_of(src, this_monday - timedelta(weeks=1), last - timedelta(weeks=1), filters, need_from),
        week_over_week=tables.week_over_week(by_day, this_monday, TYPICAL_WEEKS),
        hour_of_week=tables.hour_of_week(hour_of_week(selected)),
        weekday=tables.weekday_means(daily_series(selected)),
    )


# --- zones -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneView:
    """What the Zones page shows for one selection."""

    stats: pd.DataFrame
    occupancy: pd.DataFrame
    transitions: pd.DataFrame
    floor_aps: pd.DataFrame
    positions: pd.DataFrame


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Placing visits in zones…", refresh_mode="background")
def zone_view(src: Source, first: date, last: date, filters: Filters) -> ZoneView:
    """Per-zone report rows, occupancy over time per zone, zone-to-zone moves, and the floor plot's points."""
    days = (last - first).days + 1
    need_from = first - timedelta(days=days)  # the Visitors page's frame: switching pages reuses its analysis
    current = analysis_of(src, first, last, filters, need_from)

    def zone_series(visits: pd.DataFrame) -> pd.Series:
        return occupancy.occupancy_series(visits, current.window_start, current.window_end, current.tz, "15min")

    return ZoneView(
        stats=tables.zone_stats(report_of(src, first, last, filters, need_from)),
        occupancy=tables.zone_occupancy(current.visitor_visits, zone_series),
        transitions=tables.transitions(_zone_transitions(src, first, last, filters, current)),
        floor_aps=tables.floor_aps(src.ap_map),
        positions=tables.floor_positions(current.visitor_visits),
    )


def _zone_transitions(src: Source, first: date, last: date, filters: Filters, current: Analysis) -> pd.DataFrame:
    """Zone-to-zone moves of the window's visitors. An analysis of stored visits carries no moves (the report has
    no use for them), so they are loaded here with the window's visits; the visits were refreshed for `current`."""
    if needs_observations(filters):
        return zone_transitions(current)
    start, end = local_day_bounds(first, last, src.tz)
    try:
        stored = load_visits(
            engine(src.database_url),
            start,
            end,
            analytics_settings(),
            tz=src.tz,
            complete=True,
            exclude_randomized=filters.exclude_randomized,
            moves=True,
        )
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    moved = analyse_visits(
        stored.visits, start, end, analytics_settings(), filters, src.tz, stored.device_counts, stored.moves
    )
    return zone_transitions(moved)


# --- live --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveHistory:
    """What the live panel compares with, computed from the TYPICAL_WEEKS weeks before today."""

    typical: pd.DataFrame  # weekday, minute, visitors
    staff: frozenset[tuple[str, str]]  # (site, device) of staff, by analytics' staff rule
    computed_at: datetime


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Learning what a usual day looks like…", refresh_mode="background")
def live_history(src: Source, today: date, filters: Filters) -> LiveHistory:
    """Typical occupancy per weekday and 15 minutes, and the staff devices, from the weeks before today.

    Cached for HISTORY_TTL and refreshed in the background: a live tick never waits for it after the first.
    """
    first, last = today - timedelta(weeks=TYPICAL_WEEKS), today - timedelta(days=1)
    history = analysis_of(src, first, last, filters)
    samples = occupancy.occupancy_series(
        history.visitor_visits, history.window_start, history.window_end, src.tz, f"{TYPICAL_FREQ_MINUTES}min"
    )
    today_start, today_end = local_day_bounds(today, today, src.tz)
    staff = staff_devices(history.visits, today_start, today_end, analytics_settings())
    return LiveHistory(
        typical=tables.typical_occupancy(samples),
        staff=frozenset((str(site), str(device)) for site, device in staff),
        computed_at=clock(),
    )


@dataclass(frozen=True)
class Live:
    """The live panel at one moment."""

    now: datetime
    inside: int
    typical_now: float | None
    per_zone: pd.DataFrame
    recent: pd.DataFrame
    aps: pd.DataFrame
    learning: bool  # history is still being computed: no typical values yet, staff not told apart

    @property
    def silent_aps(self) -> list[str]:
        """Names of the APs that have not reported for over AP_SILENT_AFTER."""
        return self.aps.loc[self.aps["silent"], "name"].tolist()

    @property
    def all_silent(self) -> bool:
        return len(self.silent_aps) == len(self.aps)


def live(src: Source, filters: Filters) -> Live:
    """Visitors inside now (heard within the analytics' live window), per zone, the last hours against typical,
    and each AP's last report. Only the last RECENT_LOAD of observations is read; history comes from the cache.

    On a server that warms up (`presence dashboard`), the very first tick does not wait for the history: it shows
    the count at once and the history follows on a later tick.
    """
    now = clock()
    key = (src, now.astimezone(src.tz).date(), filters)
    state = _warm_ups()
    if state.background and key not in state.ready:
        _in_background(state, key, _learn_history)
        return _live(src, filters, _tick(now), None)
    history = live_history(*key)
    state.ready.add(key)
    return _live(src, filters, _tick(now), history)


def _learn_history(state: _WarmUps, key: tuple[Source, date, Filters]) -> None:
    live_history(*key)
    state.ready.add(key)


def _tick(now: datetime) -> datetime:
    """`now` floored to the live cache's granularity, so every session in the same tick shares one computation."""
    seconds = LIVE_TTL.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=UTC)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, hash_funcs={LiveHistory: lambda history: history.computed_at})
def _live(src: Source, filters: Filters, now: datetime, history: LiveHistory | None) -> Live:
    tz = src.tz
    settings = analytics_settings()
    start = now - RECENT_LOAD
    try:
        recent = load_observations(engine(src.database_url), start, now, history=timedelta(0))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    current = analyse(recent, start, now, settings, filters, tz, src.ap_map)
    visits = current.visitor_visits
    if history is not None and history.staff and len(visits):
        is_staff = pd.MultiIndex.from_frame(visits[PARTY]).isin(list(history.staff))
        visits = visits.loc[~is_staff]
    inside, zones = occupancy.live_occupancy(visits, now, settings.live_window)
    line = occupancy.occupancy_series(visits, now - RECENT, now, tz, f"{LIVE_FREQ_MINUTES}min")
    typical = history.typical if history is not None else tables.typical_occupancy(pd.Series(dtype="float64"))
    slot = pd.DatetimeIndex([pd.Timestamp(now).tz_convert(tz).tz_localize(None)])
    typical_now = tables.typical_at(typical, slot, TYPICAL_FREQ_MINUTES)[0]
    last_seen = pd.concat([_ap_last_reports(src), recent.groupby("ap_mac")["last_seen"].max()])
    last_seen = last_seen.groupby(level=0).max()
    names = {ap.mac: ap.name for ap in src.access_points}
    return Live(
        now=now,
        inside=inside,
        typical_now=None if pd.isna(typical_now) else float(typical_now),
        per_zone=tables.per_zone(zones),
        recent=tables.recent_with_typical(line, typical, TYPICAL_FREQ_MINUTES),
        aps=tables.ap_status(last_seen, names, now, AP_SILENT_AFTER, tz),
        learning=history is None,
    )


def _ap_last_reports(src: Source) -> pd.Series:
    """When each AP last posted a report (UTC), empty lists included: the receiver's own record of it."""
    try:
        eng = engine(src.database_url)
        if not inspect(eng).has_table(APReport.__tablename__):
            return pd.Series(dtype="datetime64[ns, UTC]")
        reports = ap_reports(eng)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {_reason(exc)}") from exc
    times = pd.to_datetime([_aware(report["last_report_at"]) for report in reports], utc=True)
    return pd.Series(times, index=[report["ap_mac"] for report in reports], dtype="datetime64[ns, UTC]")


# --- warm-up -----------------------------------------------------------------------------------------------------

WARM_UP_THREAD = "presence-warm-up"
BACKGROUND_DELAY = timedelta(seconds=3)


@dataclass
class _WarmUps:
    """What this server process computes in the background, and what is ready."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    background: bool = False  # set by warm_up: this is a long-running server, not a test run
    started: set[Any] = field(default_factory=set)
    ready: set[Any] = field(default_factory=set)


@st.cache_resource(show_spinner=False)
def _warm_ups() -> _WarmUps:
    return _WarmUps()


def warm_up(src: Source, first: date, last: date) -> None:
    """Compute every page's default view in a background thread, once per server process and range.

    The first reading of four weeks of observations takes seconds; done here, while someone looks at the first
    page, every other page then opens from the cache. Caches refresh in the background after that.
    """
    state = _warm_ups()
    state.background = True
    _in_background(state, (src, first, last), _warm)


def _in_background(state: _WarmUps, key: Any, work: Callable[[_WarmUps, Any], None]) -> None:
    """Run `work(state, key)` in a daemon thread unless it has been started before."""
    with state.lock:
        if (work, key) in state.started:
            return
        state.started.add((work, key))
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_QUIET_WARM_UP)
    threading.Thread(target=_guarded, args=(work, state, key), name=WARM_UP_THREAD, daemon=True).start()


def _guarded(work: Callable[[_WarmUps, Any], None], state: _WarmUps, key: Any) -> None:
    # Reading the observations holds the GIL for seconds: let the page that started us finish drawing first.
    time.sleep(BACKGROUND_DELAY.total_seconds())
    try:
        work(state, key)
    except DatabaseUnavailable as exc:  # the pages say so; a later page view starts the work again
        logging.getLogger("presence.dashboard").warning("background computation stopped: %s", exc)
        with state.lock:
            state.started.discard((work, key))


def _warm(state: _WarmUps, key: tuple[Source, date, date]) -> None:
    src, first, last = key
    everything = Filters()
    _learn_history(state, (src, today(src), everything))
    explorer(src, first, last, everything)
    visit_list(src, first, last, everything, ("visitor",))
    zone_view(src, first, last, everything)
    trends(src, first, last, everything)
    # Last, the observations themselves: the first SSID, manufacturer or AP filter then needs no reading.
    observations(src, load_from(src, first - (last - first) - timedelta(days=1)))


class _QuietWarmUp(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning for the warm-up thread: it has no page to draw
    spinners on, and that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != WARM_UP_THREAD


_QUIET_WARM_UP = _QuietWarmUp()  # one instance: addFilter ignores a filter it already has
