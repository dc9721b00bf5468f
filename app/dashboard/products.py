"""What each dashboard page shows, built from the shared analyses (app.dashboard.cache): one function per page.

Each returns a small frozen dataclass of report dicts and tidy frames (`app.dashboard.tables`), cached with
`st.cache_data` and refreshed in the background, so a page script only draws.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from analytics import occupancy
from analytics.classify import PARTY, staff_devices
from analytics.filters import Filters
from analytics.report import (
    VISIT_EXPORT_COLUMNS,
    Analysis,
    analyse_visits,
    daily_series,
    hour_of_week,
    zone_transitions,
)
from analytics.site_table import table_of
from analytics.zones import zone_name
from app.commands.export import visit_rows, write_rows
from app.dashboard import cache, data, tables
from app.dashboard.data import DatabaseUnavailable, Source
from devices.manufacturers import short_name
from store.frames import load_visits
from store.models import APReport, Observation
from store.queries import ap_reports, local_day_bounds, retired_aps
from store.sites import clocks_of
from store.visits import RefreshBusy, VisitsOutOfDate, refresh_visits
from store.visits.zone_models import load_models

LIVE_REFRESH = timedelta(seconds=30)  # the live panel reruns itself this often
RECENT = timedelta(hours=4)  # the live line's span
RECENT_LOAD = RECENT + timedelta(hours=2)  # visits in progress at the line's start began up to this long ago
# How long a live tick waits for another process's refresh of the stored visits (a report's, a rebuild) before it
# shows them as they are: a tick comes every LIVE_REFRESH, and a late count is better than none.
LIVE_REFRESH_WAIT = timedelta(seconds=5)
LIVE_FREQ_MINUTES = 5
TYPICAL_FREQ_MINUTES = 15
TYPICAL_WEEKS = 4
# An AP that has reported nothing for this long gets a warning: EnGenius and HiveManager both post every minute
# or so while they hear anything, and a shop's APs always hear someone's phone during opening hours.
AP_SILENT_AFTER = timedelta(minutes=10)
VISIT_TABLE_ROWS = 2000  # shown on the page; the CSV download has them all


@st.cache_data(ttl=data.SPAN_TTL, show_spinner=False, refresh_mode="background", hash_funcs=data.HASH_FUNCS)
def filter_options(src: Source, first: date, last: date, sites: tuple[str, ...] = ()) -> dict[str, Any]:
    """SSIDs, manufacturers and APs (display name -> MAC) heard from the history before `first` up to `last` at
    `sites` (empty: every site), and the zones they make.

    Read with three DISTINCT queries on the last_seen index, and cached for a minute only: the sidebar is drawn
    before any page, and a new SSID or AP should be offered soon after it is first heard. Manufacturers are their
    short names (devices.manufacturers), as the visits carry them. An AP's display name is its configured name, or
    its MAC; a name two APs share (the Entrance of every shop of a chain) gets the MAC added. Zones are named after
    the AP each one hears strongest (analytics.zones), so the AP names are the zone names.
    """
    start, end = local_day_bounds(first, last, src.tz)
    since = start - data.analytics_settings().history
    table = Observation.__table__
    values = {}
    try:
        with data.engine(src.database_url).connect() as connection:
            for name in ("ssid", "manufacturer", "ap_mac"):
                column = table.c[name]
                # The last_seen index narrows the scan to the window; DISTINCT keeps the answer small.
                query = select(column).distinct().where(table.c.last_seen >= since, table.c.last_seen < end)
                if sites:
                    query = query.where(table.c.site.in_(sites))
                values[name] = sorted(value for value in connection.execute(query.where(column.is_not(None))).scalars())
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    configured = {ap.mac for ap in src.access_points if not sites or ap.site in sites}
    aps = sorted(set(values["ap_mac"]) | configured)
    names = {mac: zone_name(mac, src.ap_map) for mac in aps}
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    labels = {(f"{name} ({mac})" if name in shared else name): mac for mac, name in names.items()}
    return {
        "ssids": values["ssid"],
        "manufacturers": sorted({short_name(name) for name in values["manufacturer"]} - {None}),
        "aps": dict(sorted(labels.items())),
        "zones": sorted(set(names.values())),
    }


# --- explorer ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explorer:
    """What the Visitors page shows for one selection."""

    report: dict[str, Any]
    previous: dict[str, Any] | None  # None: the previous period starts before the first day with data
    daily: pd.DataFrame
    dwell_buckets: pd.DataFrame
    loyalty: pd.DataFrame
    manufacturers: pd.DataFrame
    unknown_manufacturer: int  # visitors whose phone names no manufacturer (randomized MACs)
    ssids: pd.DataFrame
    not_connected: int  # visitors never associated to any SSID
    proximity: pd.DataFrame  # passersby, visitors, connected per day (per hour when the range is one day)
    hourly: bool


@st.cache_data(
    ttl=cache.HISTORY_TTL, show_spinner="Counting visitors…", refresh_mode="background", hash_funcs=data.HASH_FUNCS
)
def explorer(src: Source, first: date, last: date, filters: Filters) -> Explorer:
    """The selection's report, the previous period's, and the tidy frames behind the Visitors page's charts."""
    days = (last - first).days + 1
    previous_first, previous_last = first - timedelta(days=days), first - timedelta(days=1)
    current = cache.analysis_of(src, first, last, filters)
    now = cache.report_of(src, first, last, filters)
    manufacturers, unknown_manufacturer = tables.breakdown(current.visitor_visits, "manufacturer")
    ssids, not_connected = tables.breakdown(current.visitor_visits, "ssid")
    compared = _comparable(src, previous_first)
    return Explorer(
        report=now,
        previous=cache.report_of(src, previous_first, previous_last, filters) if compared else None,
        daily=tables.daily(now, tables.staff_per_day(current.window_visits)),
        dwell_buckets=tables.dwell_buckets(now),
        loyalty=tables.loyalty(now),
        manufacturers=manufacturers,
        unknown_manufacturer=unknown_manufacturer,
        ssids=ssids,
        not_connected=not_connected,
        proximity=_proximity(src, first, last, filters, now),
        hourly=first == last,
    )


def _comparable(src: Source, previous_first: date) -> bool:
    """Whether a previous period starting on `previous_first` can be compared with: the days before the first
    observation are not days without visitors, so a period that holds any of them (one only partly covered by the
    data as much as one wholly before it) shows no change against it."""
    first_day = data.span(src).first_day
    return first_day is None or previous_first >= first_day


def _proximity(src: Source, first: date, last: date, filters: Filters, now: dict[str, Any]) -> pd.DataFrame:
    """Per day from the report's daily rows; for one day, per hour from every visit of it (passersby included,
    which a report only counts: one day's are few)."""
    if first != last:
        return tables.proximity_daily(now)
    day = cache.analysis_of(src, first, last, filters, complete=True)
    return tables.proximity_hourly(day.window_visits, day.tz, first)


@st.cache_data(ttl=cache.HISTORY_TTL, show_spinner=False, hash_funcs=data.HASH_FUNCS)
def visit_list(src: Source, first: date, last: date, filters: Filters, categories: tuple[str, ...]) -> pd.DataFrame:
    """The selection's visits of the given categories ("visitor", "passerby", "staff"), newest first."""
    current = cache.analysis_of(src, first, last, filters, complete=True)
    return tables.visit_table(current.window_visits, current.tz, categories)


@st.cache_data(ttl=cache.HISTORY_TTL, show_spinner=False, hash_funcs=data.HASH_FUNCS)
def visits_csv(src: Source, first: date, last: date, filters: Filters, categories: tuple[str, ...]) -> bytes:
    """The selection's visits of the given categories as `presence export visits --format csv` writes them: the
    same columns (analytics.report.VISIT_EXPORT_COLUMNS), in time order, times in ISO 8601 UTC."""
    current = cache.analysis_of(src, first, last, filters, complete=True)
    out = io.StringIO()
    write_rows(visit_rows(current, categories), VISIT_EXPORT_COLUMNS, "csv", out)
    return out.getvalue().encode()


# --- trends ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trends:
    """What the Trends page shows: one week (its Monday to `last`) against the weeks before it."""

    this_monday: date
    last: date
    this_week: dict[str, Any]
    last_week: dict[str, Any]
    week_over_week: pd.DataFrame
    hour_of_week: pd.DataFrame
    weekday: pd.DataFrame


@st.cache_data(
    ttl=cache.HISTORY_TTL, show_spinner="Comparing weeks…", refresh_mode="background", hash_funcs=data.HASH_FUNCS
)
def trends(src: Source, first: date, last: date, filters: Filters) -> Trends:
    """The week of `first` (its Monday to `last`) against the same days of the week before, both as `presence
    report` counts them; daily visitors by weekday for it, the week before and the average of the TYPICAL_WEEKS
    weeks before; and its hour-of-week and weekday profiles (one range for everything the page shows)."""
    this_monday = tables.monday_of(last)
    weeks_first = this_monday - timedelta(weeks=TYPICAL_WEEKS)
    by_day = daily_series(cache.analysis_of(src, weeks_first, last, filters))
    # Days before the first observation are not days without visitors: leave them out of the averages.
    first_day = data.span(src).first_day
    if first_day is not None:
        by_day = by_day.loc[by_day["date"] >= pd.Timestamp(first_day)]
    selected = cache.analysis_of(src, first, last, filters)
    return Trends(
        this_monday=this_monday,
        last=last,
        this_week=cache.report_of(src, this_monday, last, filters),
        last_week=cache.report_of(src, this_monday - timedelta(weeks=1), last - timedelta(weeks=1), filters),
        week_over_week=tables.week_over_week(by_day, this_monday, TYPICAL_WEEKS),
        hour_of_week=tables.hour_of_week(hour_of_week(selected)),
        weekday=tables.weekday_means(daily_series(selected)),
    )


# --- sites -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SitesView:
    """What the Sites page shows: every site side by side, and the groups' subtotals with the total."""

    sites: pd.DataFrame  # tables.site_table: one row per site
    groups: pd.DataFrame  # the same columns: one row per group ([[sites]] group), then "All sites"
    days: tuple[date, ...]  # the days of each row's daily_visitors (each site's own local days)
    compared: bool = True  # False when the period before starts before the first day with data: no changes then


@st.cache_data(
    ttl=cache.HISTORY_TTL, show_spinner="Comparing sites…", refresh_mode="background", hash_funcs=data.HASH_FUNCS
)
def sites_view(src: Source, first: date, last: date, filters: Filters) -> SitesView:
    """Each site's figures for first..last and for the period of equal length before, each site's days in its own
    time zone, counted in the database (cache.site_tallies: each site's `presence report --site` figures, without
    loading the visits or making a report per site); groups and the total add their sites up."""
    days = (last - first).days + 1
    previous_first, previous_last = first - timedelta(days=days), first - timedelta(days=1)
    scope = list(filters.sites) or data.known_sites(src)
    compared = _comparable(src, previous_first)
    groups = {group: [site for site in members if site in scope] for group, members in src.groups().items()}
    groups = {group: members for group, members in groups.items() if members}
    periods = [(first, last), (previous_first, previous_last)] if compared else [(first, last)]
    by_period = [
        table_of(tallies, scope, groups, pd.date_range(pd.Timestamp(low), pd.Timestamp(high), freq="D"))
        for tallies, (low, high) in zip(cache.site_tallies(src, periods, filters), periods, strict=True)
    ]
    current, previous = by_period[0], (by_period[1] if compared else None)
    dates = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="D")
    rows = [
        tables.site_row(
            site,
            src.site(site).group,
            src.site(site).timezone,
            current.sites[site],
            previous.sites[site] if previous is not None else None,
        )
        for site in scope
    ]
    subtotals = [
        tables.site_row(
            group, None, "", current.groups[group], previous.groups[group] if previous is not None else None
        )
        for group in groups
    ]
    total = tables.site_row(tables.ALL_SITES, None, "", current.total, previous.total if previous is not None else None)
    return SitesView(
        sites=tables.site_table(rows),
        groups=tables.site_table([*subtotals, total]),
        days=tuple(day.date() for day in dates),
        compared=compared,
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


@st.cache_data(
    ttl=cache.HISTORY_TTL,
    show_spinner="Placing visits in zones…",
    refresh_mode="background",
    hash_funcs=data.HASH_FUNCS,
)
def zone_view(src: Source, first: date, last: date, filters: Filters) -> ZoneView:
    """Per-zone report rows, occupancy over time per zone, zone-to-zone moves, and the floor plot's points."""
    current = cache.analysis_of(src, first, last, filters)

    def zone_series(visits: pd.DataFrame) -> pd.Series:
        return occupancy.occupancy_series(visits, current.window_start, current.window_end, current.tz, "15min")

    return ZoneView(
        stats=tables.zone_stats(cache.report_of(src, first, last, filters)),
        occupancy=tables.zone_occupancy(current.visitor_visits, zone_series),
        transitions=tables.transitions(_zone_transitions(src, first, last, filters, current)),
        floor_aps=tables.floor_aps(src.ap_map),
        positions=tables.floor_positions(current.visitor_visits),
    )


def _zone_transitions(src: Source, first: date, last: date, filters: Filters, current: Analysis) -> pd.DataFrame:
    """Zone-to-zone moves of the window's visitors. An analysis of stored visits carries no moves (the report has
    no use for them), so they are loaded here with the window's visits (each site's own days, as `current`'s); the
    visits were refreshed for `current`."""
    start, end = current.window_start.to_pydatetime(), current.window_end.to_pydatetime()
    try:
        stored = load_visits(
            data.engine(src.database_url),
            start,
            end,
            data.analytics_settings(),
            tz=current.tz,
            complete=True,
            filters=filters,
            moves=True,
            clocks=current.clocks,
            dates=current.dates,
        )
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    moved = analyse_visits(
        stored.visits,
        start,
        end,
        data.analytics_settings(),
        filters,
        current.tz,
        stored.device_counts,
        stored.moves,
        current.clocks,
        current.dates,
    )
    return zone_transitions(moved)


# --- live --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveHistory:
    """What the live panel compares with, computed from the TYPICAL_WEEKS weeks before today."""

    typical: pd.DataFrame  # weekday, minute, visitors: every site in scope together, in the scope's time zone
    site_typical: dict[str, pd.DataFrame]  # the same per site, in the site's own time zone (several sites only)
    staff: frozenset[tuple[str, str]]  # (site, device) of staff, by analytics' staff rule
    computed_at: datetime


@st.cache_data(
    ttl=cache.HISTORY_TTL,
    show_spinner="Learning what a usual day looks like…",
    refresh_mode="background",
    hash_funcs=data.HASH_FUNCS,
)
def live_history(src: Source, today: date, filters: Filters) -> LiveHistory:
    """Typical occupancy per weekday and 15 minutes (of the scope, and of each site when there are several), and
    the staff devices, from the weeks before today.

    Cached for HISTORY_TTL and refreshed in the background: a live tick never waits for it after the first.
    """
    first, last = today - timedelta(weeks=TYPICAL_WEEKS), today - timedelta(days=1)
    history = cache.analysis_of(src, first, last, filters)
    frequency = f"{TYPICAL_FREQ_MINUTES}min"
    visits = history.visitor_visits
    samples = occupancy.occupancy_series(visits, history.window_start, history.window_end, history.tz, frequency)
    scope = _scope(src, filters)
    site_typical = {}
    if len(scope) > 1:
        for site in scope:
            low, high = history.site_window(site)
            site_samples = occupancy.occupancy_series(
                visits.loc[visits["site"] == site], low, high, src.site(site).tz, frequency
            )
            site_typical[site] = tables.typical_occupancy(site_samples)
    today_start, today_end = local_day_bounds(today, today, src.scope_tz(scope))
    staff = staff_devices(history.visits, today_start, today_end, data.analytics_settings())
    return LiveHistory(
        typical=tables.typical_occupancy(samples),
        site_typical=site_typical,
        staff=frozenset((str(site), str(device)) for site, device in staff),
        computed_at=data.clock(),
    )


def _scope(src: Source, filters: Filters) -> list[str]:
    """The sites a view covers: those chosen, else every known site."""
    return list(filters.sites) or data.known_sites(src)


@dataclass(frozen=True)
class Live:
    """The live panel at one moment: of one site (`site`), or of several side by side (`sites`)."""

    now: datetime
    inside: int
    typical_now: float | None
    per_zone: pd.DataFrame
    recent: pd.DataFrame
    aps: pd.DataFrame
    learning: bool  # history is still being computed: no typical values yet, staff not told apart
    timezone: str = "UTC"  # the time the page shows: the site's, or the sites' when they share one
    site: str | None = None  # the one site shown (None: several)
    capacity: int | None = None  # the one site's [[sites]] capacity
    sites: pd.DataFrame = field(default_factory=pd.DataFrame)  # several sites: tables.live_sites
    stale: bool = False  # the stored visits could not be brought up to date in time (another refresh ran)

    @property
    def share_used(self) -> float | None:
        """Visitors inside as a share of the site's capacity (None without one)."""
        return tables.capacity_share(self.inside, self.capacity)

    @property
    def capacity_level(self) -> str | None:
        """ "ok", "near" (>= 80 % of capacity) or "over" (>= 100 %); None without a capacity."""
        return tables.capacity_level(self.inside, self.capacity)

    @property
    def silent_aps(self) -> list[str]:
        """Names of the APs that have not reported for over AP_SILENT_AFTER (retired ones never are)."""
        return self.aps.loc[self.aps["silent"], "name"].tolist()

    @property
    def retired_aps(self) -> list[str]:
        """Names of the APs retired with `presence aps retire`: listed, never warned about."""
        return self.aps.loc[self.aps["retired"], "name"].tolist()

    @property
    def all_silent(self) -> bool:
        watched = len(self.aps) - len(self.retired_aps)
        return len(self.silent_aps) == watched and (watched > 0 or self.aps.empty)


def live(src: Source, filters: Filters) -> Live:
    """Visitors inside now (heard within the analytics' live window), per zone, the last hours against typical,
    and each AP's last report; with several sites in scope, each site's too. Read from the stored visits of the
    last RECENT_LOAD (brought up to date first, zoned by the stored zone models: a tick never fits one); history
    comes from the cache.

    On a server that warms up (`presence dashboard`), the very first tick does not wait for the history: it shows
    the count at once and the history follows on a later tick.
    """
    now = data.clock()
    key = (src, now.astimezone(src.tz).date(), filters)
    state = cache.warm_ups()
    if state.background and key not in state.ready:
        cache.in_background(state, key, _learn_history)
        return _live(src, filters, _tick(now), None)
    history = live_history(*key)
    state.ready.add(key)
    return _live(src, filters, _tick(now), history)


def _learn_history(state: cache.WarmUps, key: tuple[Source, date, Filters]) -> None:
    live_history(*key)
    state.ready.add(key)


def _tick(now: datetime) -> datetime:
    """`now` floored to the live cache's granularity, so every session in the same tick shares one computation."""
    seconds = cache.LIVE_TTL.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=UTC)


@st.cache_data(
    ttl=cache.LIVE_TTL,
    show_spinner=False,
    hash_funcs={**data.HASH_FUNCS, LiveHistory: lambda history: history.computed_at},
)
def _live(src: Source, filters: Filters, now: datetime, history: LiveHistory | None) -> Live:
    settings = data.analytics_settings()
    scope = _scope(src, filters)
    tz = src.scope_tz(scope)
    visits, stale = _recent_visitor_visits(src, filters, now, tz)
    if history is not None and history.staff and len(visits):
        is_staff = pd.MultiIndex.from_frame(visits[PARTY]).isin(list(history.staff))
        visits = visits.loc[~is_staff]
    inside, zones = occupancy.live_occupancy(visits, now, settings.live_window)
    line = occupancy.occupancy_series(visits, now - RECENT, now, tz, f"{LIVE_FREQ_MINUTES}min")
    typical = history.typical if history is not None else tables.typical_occupancy(pd.Series(dtype="float64"))
    typical_now = _typical_now(typical, now, tz)
    aps = _ap_table(src, filters, now, tz)
    one = scope[0] if len(scope) == 1 else None
    sites = pd.DataFrame()
    if one is None:
        inside_per_site = occupancy.live_occupancy_per_site(visits, now, settings.live_window)
        sites = tables.live_sites(
            scope,
            groups={site: src.site(site).group for site in scope},
            inside={site: int(inside_per_site.get(site, 0)) for site in scope},
            typical={
                site: _typical_now(history.site_typical[site], now, src.site(site).tz)
                if history is not None and site in history.site_typical
                else None
                for site in scope
            },
            capacity={site: src.site(site).capacity for site in scope},
            silent=aps,
        )
    return Live(
        now=now,
        inside=inside,
        typical_now=typical_now,
        per_zone=tables.per_zone(zones, _zone_names(src, one) if one is not None else ()),
        recent=tables.recent_with_typical(line, typical, TYPICAL_FREQ_MINUTES),
        aps=aps,
        learning=history is None,
        timezone=str(tz),
        site=one,
        capacity=src.site(one).capacity if one is not None else None,
        sites=sites,
        stale=stale,
    )


def _typical_now(typical: pd.DataFrame, now: datetime, tz: ZoneInfo) -> float | None:
    """The typical occupancy at `now`'s weekday and quarter-hour in `tz` (None where history has none)."""
    return tables.typical_at_one(typical, pd.Timestamp(now).tz_convert(tz).tz_localize(None), TYPICAL_FREQ_MINUTES)


def _recent_visitor_visits(src: Source, filters: Filters, now: datetime, tz: ZoneInfo) -> tuple[pd.DataFrame, bool]:
    """The visitor visits (qualifying, not staff) that began within RECENT_LOAD before `now`, from the stored
    visits: brought up to date first (`refresh_visits`, which merges only the observations since the last refresh),
    each placed in its zone (`last_zone`) by the site's stored zone model. True with them when another process's
    refresh held the visits for longer than LIVE_REFRESH_WAIT: they are then as of that process's last one."""
    settings, analytics_settings = data.settings(), data.analytics_settings()
    engine = data.engine(src.database_url)
    start = now - RECENT_LOAD
    clocks = clocks_of(settings)  # each site's opening hours and day start
    stale = False
    try:
        try:
            sites = list(filters.sites) or None  # one site's Live brings only that site up to date
            refresh_visits(engine, settings, analytics_settings, wait=LIVE_REFRESH_WAIT, sites=sites)
        except RefreshBusy:
            stale = True
        stored = load_visits(
            engine, start, now, analytics_settings, tz=tz, filters=filters, clocks=clocks, visitors_only=True
        )
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    except VisitsOutOfDate as exc:
        raise DatabaseUnavailable(f"the stored visits of {src.display_url} are not usable: {exc}") from exc
    current = analyse_visits(stored.visits, start, now, analytics_settings, filters, tz, None, None, clocks)
    return current.visitor_visits, stale


def _ap_table(src: Source, filters: Filters, now: datetime, tz: ZoneInfo) -> pd.DataFrame:
    """Every AP's last report (the receiver's record of its POSTs, kept in each POST's transaction, an empty list
    counting; bulk loads and `presence simulate` keep it too), with its site; only the chosen sites' APs when
    sites are chosen. Configured APs that never reported are listed as silent."""
    reports = _ap_reports(src)
    times = pd.to_datetime([data.aware(report["last_report_at"]) for report in reports], utc=True)
    last_seen = pd.Series(times, index=[report["ap_mac"] for report in reports], dtype="datetime64[ns, UTC]")
    site_of = {
        **{report["ap_mac"]: report["site"] for report in reports},
        **{ap.mac: ap.site for ap in src.access_points},
    }
    names = {ap.mac: ap.name for ap in src.access_points}
    aps = tables.ap_status(last_seen, names, now, AP_SILENT_AFTER, tz, _retired_aps(src), site_of)
    if filters.sites:
        aps = aps.loc[aps["site"].isin(list(filters.sites))].reset_index(drop=True)
    return aps


def _ap_reports(src: Source) -> list[dict[str, Any]]:
    """Every AP's row of the receiver's record of its POSTs (ap_report), empty lists included."""
    try:
        eng = data.engine(src.database_url)
        if not inspect(eng).has_table(APReport.__tablename__):
            return []
        return ap_reports(eng)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc


def _zone_names(src: Source, site: str) -> set[str]:
    """Every zone the site's stored zone model can place a visitor in, for cards that show 0 when a zone is
    empty (a site without a fitted model yet: none)."""
    try:
        model = load_models(data.engine(src.database_url)).get(site)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    if model is None or not model.fitted:
        return set()
    return set(model.zones(src.ap_map).cluster_zones)


def _retired_aps(src: Source) -> list[str]:
    """The MACs of the APs retired with `presence aps retire`."""
    try:
        return list(retired_aps(data.engine(src.database_url)))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc


# --- warm-up -----------------------------------------------------------------------------------------------------


def warm_up(src: Source, first: date, last: date) -> None:
    """Compute every page's default view in a background thread, once per server process and range.

    The first reading of four weeks of observations takes seconds; done here, while someone looks at the first
    page, every other page then opens from the cache. Caches refresh in the background after that.
    """
    state = cache.warm_ups()
    state.background = True
    cache.in_background(state, (src, first, last), _warm)


def _warm(state: cache.WarmUps, key: tuple[Source, date, date]) -> None:
    src, first, last = key
    everything = Filters()
    _learn_history(state, (src, data.today(src), everything))
    explorer(src, first, last, everything)
    visit_list(src, first, last, everything, ("visitor",))
    zone_view(src, first, last, everything)
    trends(src, first, last, everything)
    if len(data.known_sites(src)) > 1:
        sites_view(src, first, last, everything)
