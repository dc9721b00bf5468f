"""Observations and stored visits as typed DataFrames: the one bridge from the database to the analytics.

SQLAlchemy Core, not the ORM, and only the columns the analytics read: a busy shop stores about ten million
observations a week, so rows are fetched in large partitions and turned into typed columns chunk by chunk.
Reports read stored visits instead (`load_visits`; store.visits keeps them up to date), and only the
ones a report needs.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    type_coerce,
)

from analytics.clocks import Clock, Clocks
from analytics.filters import Filters
from analytics.schema import STORED_VISIT_DTYPES, DeviceCounts
from analytics.settings import AnalyticsSettings
from devices.manufacturers import short_names
from store.models import (
    QUALIFYING,
    QUALIFYING_DWELL_SECONDS,
    QUALIFYING_RSSI_DBM,
    Observation,
    UTCDateTime,
    Visit,
)

TIME_DTYPE = "datetime64[ns, UTC]"
# Column -> dtype of the frame (the columns `analytics.schema` expects, plus vendor).
FRAME_DTYPES: dict[str, str] = {
    "vendor": "str",
    "site": "str",
    "ap_mac": "str",
    "device": "str",
    "randomized": "bool",
    "manufacturer": "str",
    "ssid": "str",
    "associated": "bool",
    "first_seen": TIME_DTYPE,
    "last_seen": TIME_DTYPE,
    "rssi_max": "float64",
    "rssi_avg": "float64",
}
# The analytics' default look-back (analytics.settings.AnalyticsSettings.history): staff need the 14 days before
# the window, loyalty and new visitors the 28 days before it.
DEFAULT_HISTORY = timedelta(days=28)
# ... and visits in progress at the window's end are followed this long after it (visit_lookahead).
DEFAULT_LOOKAHEAD = timedelta(hours=6)
# No stored record spans more than this (EnGenius aggregates one reporting interval, Aerohive one moment): it
# bounds last_seen from above too, so the last_seen index serves both ends of the window.
MAX_RECORD_SPAN = timedelta(days=1)
PARTITION_ROWS = 250_000


def load_observations(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    *,
    history: timedelta = DEFAULT_HISTORY,
    lookahead: timedelta = DEFAULT_LOOKAHEAD,
) -> pd.DataFrame:
    """Observations of the UTC window [start, end), the `history` before it and the `lookahead` after it.

    Rows are those with last_seen >= start - history and first_seen < end + lookahead (None leaves a side
    open), ordered by last_seen. Columns are FRAME_DTYPES, times as datetime64[ns, UTC]; manufacturer and ssid
    are missing (NA) where not reported, and the manufacturer is its short name (devices.manufacturers).
    """
    table = Observation.__table__  # type: ignore[attr-defined]
    sqlite = engine.dialect.name == "sqlite"
    columns = []
    for name in FRAME_DTYPES:
        column = table.c[name]
        if sqlite and FRAME_DTYPES[name] == TIME_DTYPE:
            # SQLite keeps times as ISO text; parsing it in one vectorized step is far faster than the
            # per-row datetime conversion of the column type.
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    query = select(*columns)
    if start is not None:
        query = query.where(table.c.last_seen >= start - history)
    if end is not None:
        horizon = end + lookahead
        query = query.where(table.c.first_seen < horizon, table.c.last_seen < horizon + MAX_RECORD_SPAN)
    query = query.order_by(table.c.last_seen, table.c.id)
    chunks = []
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=PARTITION_ROWS).execute(query)
        for partition in result.partitions():
            chunks.append(_typed(pd.DataFrame.from_records(partition, columns=list(FRAME_DTYPES))))
    if not chunks:
        return _typed(pd.DataFrame({name: [] for name in FRAME_DTYPES}))
    return pd.concat(chunks, ignore_index=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    typed = {}
    for name, dtype in FRAME_DTYPES.items():
        values = frame[name]
        if dtype == TIME_DTYPE:
            typed[name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(TIME_DTYPE)
        elif dtype == "bool":
            typed[name] = values.astype(bool)
        else:
            typed[name] = values.astype(dtype)
    typed["manufacturer"] = short_names(typed["manufacturer"])
    return pd.DataFrame(typed)


# --- stored visits ---------------------------------------------------------------------------------------------


def read_tuples(connection: Connection, query: Select) -> list[tuple]:
    """The rows of `query` as plain tuples, fetched with the driver's own cursor.

    SQLAlchemy builds a Row object per row, which for the hundreds of thousands of rows a report or a refresh
    reads costs more than the query itself. The statement is compiled with its parameters inline: they are
    times, numbers and strings the database stored (devices, sites), rendered and escaped by SQLAlchemy's literal
    processors, which format SQLite's times exactly as the UTCDateTime column stores them. No result processing
    is applied, so select SQLite's times as text (`type_coerce(column, String())`) and parse them vectorized.
    """
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    collecting = gc.isenabled()
    try:
        cursor.execute(sql)
        # The driver makes a tuple per row, and every few hundred new tuples may start a garbage collection: once
        # enough survive, a full one over the whole heap (a dashboard process holds millions of objects). Rows
        # make no reference cycles, so none is needed while they are fetched (24k rows: 0.04 s, not 0.06-0.12 s).
        gc.disable()
        return cursor.fetchall()
    finally:
        if collecting:
            gc.enable()
        cursor.close()


# The columns of a stored visit the analytics read (analytics.schema.STORED_VISIT_DTYPES; `id` becomes `visit`).
VISIT_FRAME_COLUMNS = (
    "id",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "max_rssi",
    "associated",
    "randomized",
    "observations",
    "dwell_seconds",
    "ssid",
    "manufacturer",
    "zone",
    "last_zone",
    "x",
    "y",
    "previous_first_seen",
    "ssids",
    "ap_macs",
)
# What a report reads of each visit (`detail=False`; the others are NA then), all in ix_visit_qualifying.
REPORT_COLUMNS = (
    "id",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "max_rssi",
    "associated",
    "randomized",
    "zone",
    "previous_first_seen",
    "dwell_seconds",
)


@dataclass(frozen=True)
class StoredVisits:
    """Stored visits loaded for a window: the frame `analytics.report.analyse_visits` takes, each visit's zone
    moves (None unless asked for), and the window's device counts (None when every window visit was loaded)."""

    visits: pd.DataFrame
    moves: pd.DataFrame | None
    device_counts: DeviceCounts | None
    site_counts: dict[str, DeviceCounts] | None = None  # per site, when asked for (per_site)


def load_visits(
    engine: Engine,
    start: datetime,
    end: datetime,
    settings: AnalyticsSettings,
    *,
    tz: tzinfo,
    complete: bool = False,
    detail: bool = True,
    filters: Filters | None = None,
    moves: bool = False,
    clocks: Clocks | None = None,
    dates: tuple[date, date] | None = None,
    per_site: bool = False,
    visitors_only: bool = False,
) -> StoredVisits:
    """Stored visits (store.visits) for the UTC window [start, end): what a report of it needs.

    Always: the visits of the window that qualify (dwell >= min_dwell, strongest RSSI >= visitor_rssi_dbm); every
    visit of at least `staff_min_visit` from `staff_history` before the window to its end (staff are found among
    these) and every window visit of the devices that made them; and the qualifying visits of the `history` before
    the window of the window's visitors (loyalty and new visitors), asked for only where `previous_first_seen`
    shows the device was seen since the history's start. Everything else a report needs about
    passersby is counted in the database (`device_counts`: distinct devices in the window, per site-local day,
    randomized ones), so a busy week's passersby are never read. With `complete`, every window visit is loaded
    instead of the counts (visit lists, a zone filter). Without `detail`, only what `analytics.report.report`
    reads (REPORT_COLUMNS, and the columns the filters look at; the others are NA).

    `filters` (analytics.filters) apply in SQL to every read, as `analyse` applies them to every visit it makes:
    exclude_randomized, and ssid, manufacturer and AP on the visit's `ssids`, `manufacturer` and `ap_macs`
    (substrings, case-insensitive; on SQLite for ASCII letters only), and the zone on the visit's stored `zone`.
    Randomized is a property of the device, so its counts come from the index; the others belong to single visits,
    so their devices are counted with DISTINCT. The sites filter is `site IN (...)`; open_hours is each site
    clock's open spans of first_seen (`open_hours_condition`), a property of single visits as well.

    With `clocks` and `dates`, [start, end) must span every site's days `dates` (Clocks.envelope): the devices
    are counted per site clock within that clock's own days. `per_site` also counts them per site
    (`site_counts`). Refresh the visits first (`refresh_visits`).

    `visitors_only` loads what a live count needs and nothing more: the window's qualifying visits and the staff
    candidates' (so visitor visits come out as a report's), without the loyalty history or the device counts
    (passersby, new and returning visitors are then not known): six hours of a hundred sites are 56,000 visits, of
    which 8,600 qualify.
    """
    table = Visit.__table__  # type: ignore[attr-defined]
    filters = filters or Filters()
    opening = open_hours_condition(table, clocks, start - settings.history, end) if filters.open_hours else None
    complete = complete or opening is False  # too many spans for one query: count from the loaded visits
    names = VISIT_FRAME_COLUMNS if detail else (*REPORT_COLUMNS, *_filtered_columns(filters))
    columns = _as_text(engine, table, names)
    c = table.c
    window = and_(c.first_seen >= start, c.first_seen < end)
    qualifying = qualifying_condition(c, settings)
    keep = filter_condition(table, filters, opening)
    by_device = filter_condition(table, filters, opening, site_index=False)  # the device list picks the rows
    history_start = start - settings.history
    with engine.connect() as connection:
        staff_window = long_visits_condition(connection, c, settings, start - settings.staff_history, end, filters)
        long = _visit_frame(read_tuples(connection, select(*columns).where(staff_window, keep)), names)
        main = and_(window, keep) if complete else and_(window, qualifying, keep)
        in_window = _visit_frame(read_tuples(connection, select(*columns).where(main)), names)
        staff_candidates = sorted(set(long["device"]))
        frames = [long, in_window, _by_device(connection, columns, names, and_(window, by_device), staff_candidates)]
        # Loyalty and new visitors need the qualifying history of the window's devices. A device whose first
        # visit in the window follows none since `history_start` has none: only the others are asked for.
        if not visitors_only:
            first = in_window.sort_values("first_seen").drop_duplicates(["site", "device"])
            returning = sorted(set(first.loc[first["previous_first_seen"] >= history_start, "device"]))
            history = and_(c.first_seen >= history_start, c.first_seen < start, qualifying, by_device)
            frames.append(_by_device(connection, columns, names, history, returning))
        counts, site_counts = None, None
        if not complete and not visitors_only:
            spans = clock_spans(connection, table, start, end, tz, filters, clocks, dates)
            if per_site:
                site_counts = count_per_site(connection, table, spans, filters, clocks)
                counts = _total(list(site_counts.values()), _union_days(spans))
            else:
                parts = [_device_counts(connection, table, *span, filters, clocks) for span in spans]
                counts = _total(parts, _union_days(spans))
        frame = pd.concat(frames, ignore_index=True).drop_duplicates("visit", ignore_index=True)
        zone_moves = _moves(connection, table, frame["visit"].tolist()) if moves else None
    return StoredVisits(frame, zone_moves, counts, site_counts)


def long_visits_condition(
    connection: Connection, c, settings: AnalyticsSettings, since: datetime, end: datetime, filters: Filters
) -> Any:
    """The SQL condition of the long visits (dwell >= staff_min_visit, staff are found among them) that started
    in [since, end). Unless `filters` choose sites (then ix_visit_site_first_seen covers the sites' window), on
    SQLite the window is written on `+first_seen`, which keeps the planner on the dwell index: on the first_seen
    index it walked every visit of the staff history to find the few long ones (0.05 s a week at 12 sites), and
    without the window in SQL every long visit ever stored was read, a number that grows with the database's age
    (about 175,000 a year at a hundred sites)."""
    minimum = pd.Timedelta(settings.staff_min_visit).total_seconds()
    first_seen = c.first_seen
    if connection.dialect.name == "sqlite" and not filters.sites:
        first_seen = literal_column(f"+{c.first_seen.name}", type_=c.first_seen.type)
    return and_(c.dwell_seconds >= minimum, first_seen >= since, first_seen < end)


def qualifying_condition(c, settings: AnalyticsSettings) -> Any:
    """The SQL condition of a qualifying visit (dwell >= min_dwell, strongest RSSI >= visitor_rssi_dbm): with the
    default thresholds word for word the partial index's condition (store.models.QUALIFYING), so SQLite uses it."""
    min_dwell = pd.Timedelta(settings.min_dwell).total_seconds()
    if (min_dwell, settings.visitor_rssi_dbm) == (QUALIFYING_DWELL_SECONDS, QUALIFYING_RSSI_DBM):
        return text(QUALIFYING)
    return and_(c.dwell_seconds >= min_dwell, c.max_rssi >= settings.visitor_rssi_dbm)


# One site clock's part of a window: (start, end, clock, sites or None for every site not in another part).
Span = tuple[datetime, datetime, Clock, tuple[str, ...] | None]


def clock_spans(
    connection, table, start: datetime, end: datetime, tz: tzinfo, filters: Filters, clocks: Clocks | None, dates
) -> list[Span]:
    """The window cut by site clock: one span of [start, end) in `tz` unless some site in scope keeps days of its
    own, then one per clock with that clock's days `dates` and its sites."""
    if clocks is None or dates is None:
        return [(start, end, Clock(str(tz)), None)]
    one: list[Span] = [(*clocks.default.bounds(*dates), clocks.default, None)]
    if clocks.keep_default_days():  # every site keeps the default's days: no need to ask which are in the window
        return one
    groups = clocks.by_clock(list(filters.sites) or sites_in(connection, table, start, end))
    if not groups:
        return one
    return [(*clock.bounds(*dates), clock, tuple(members)) for clock, members in groups.items()]


def sites_in(connection, table, start: datetime, end: datetime) -> list[str]:
    """The sites with a visit starting in [start, end).

    A DISTINCT over the window reads every visit of it (a second on a busy week); instead the sites are walked
    in ix_visit_site_first_seen, one probe for the next site name and one for a visit of it in the window, in
    one recursive query (a loose index scan): a chain of a hundred sites costs two hundred index lookups and one
    round trip (five times faster than a query per probe at 12 sites)."""
    c = table.c
    walk = select(func.min(c.site).label("site")).cte("walk", recursive=True)
    following = select(func.min(c.site)).where(c.site > walk.c.site).scalar_subquery()
    walk = walk.union_all(select(following).where(walk.c.site.is_not(None)))
    # In index order: with a bare LIMIT 1 PostgreSQL may scan the table for the first match (6 ms a site).
    first = (
        select(c.first_seen)
        .where(c.site == walk.c.site, c.first_seen >= start, c.first_seen < end)
        .order_by(c.first_seen)
        .limit(1)
        .scalar_subquery()
    )
    found = select(walk.c.site).where(walk.c.site.is_not(None), first.is_not(None)).order_by(walk.c.site)
    return list(connection.execute(found).scalars())


def _union_days(spans: list[Span]) -> pd.DatetimeIndex:
    days = spans[0][2].window_days(spans[0][0], spans[0][1])
    for start, end, clock, _ in spans[1:]:
        days = days.union(clock.window_days(start, end))
    return days


def _total(parts: list[DeviceCounts], days: pd.DatetimeIndex) -> DeviceCounts:
    """Device counts of disjoint sites added up (a device counts once per site, as every figure counts it)."""
    daily = sum((part.daily.reindex(days, fill_value=0) for part in parts), start=pd.Series(0, index=days))
    return DeviceCounts(
        sum(part.devices for part in parts), sum(part.randomized for part in parts), daily.astype("int64")
    )


def count_per_site(connection, table, spans: list[Span], filters: Filters, clocks=None) -> dict[str, DeviceCounts]:
    """Device counts of every site with a visit in its span: one site at a time, or on PostgreSQL without a
    filter on single visits one pass per span grouped by site (`_grouped_device_counts`)."""
    grouped = connection.dialect.name == "postgresql" and not (filters.narrows_visits or filters.open_hours)
    counts: dict[str, DeviceCounts] = {}
    for start, end, clock, sites in spans:
        names = sites if sites is not None else (list(filters.sites) or sites_in(connection, table, start, end))
        if grouped:
            counts.update(_grouped_device_counts(connection, table, start, end, clock, names, filters))
            continue
        for site in names:
            counts[site] = _device_counts(connection, table, start, end, clock, (site,), filters, clocks)
    return counts


def first_since(c, moment: datetime) -> Any:
    """A visit that is its device's first since `moment`: the device's previous visit started before it."""
    return or_(c.previous_first_seen.is_(None), c.previous_first_seen < moment)


def _grouped_device_counts(
    connection, table, start: datetime, end: datetime, clock: Clock, sites: Sequence[str], filters: Filters
) -> dict[str, DeviceCounts]:
    """`_device_counts` of each of `sites` without a filter on single visits, in one pass grouped by site.

    A visit is its device's first in a span when the device's previous visit started before the span, as in
    `_device_counts`; here each day's count is a sum over the window's visits instead of a COUNT per day and site.
    On PostgreSQL each COUNT visits the table's pages for rows the visibility map does not vouch for (visits are
    rewritten by every refresh), so the one pass is 2.4-6x faster on the chain benchmark's 12 sites (0.17 s
    instead of 1.04 s a week); SQLite counts in the covering index without reading a row, and one pass there is
    1.6x slower than its 96 COUNTs, so it keeps them."""
    c = table.c
    if not sites:
        return {}
    keep = filter_condition(table, replace(filters, sites=tuple(sites)))
    days, bounds = day_bounds(start, end, clock)

    def total(condition) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    daily = [total(and_(c.first_seen >= low, c.first_seen < high, first_since(c, low))) for low, high in bounds]
    query = (
        select(c.site, total(first_since(c, start)), total(and_(first_since(c, start), c.randomized.is_(True))), *daily)
        .where(c.first_seen >= start, c.first_seen < end, keep)
        .group_by(c.site)
    )
    found = {row[0]: row for row in connection.execute(query)}
    empty = (None, 0, 0, *([0] * len(bounds)))
    counts = {}
    for site in sites:
        row = found.get(site, empty)
        per_day = pd.Series([int(value) for value in row[3:]], index=days, dtype="int64")
        counts[site] = DeviceCounts(int(row[1]), int(row[2]), per_day)
    return counts


# Above this many open spans in one query (a long window of many clocks with hours), open_hours is applied to the
# loaded visits instead: SQLite parses a chain of ORs as a tree as deep as it is long, and refuses one deeper than
# 1000 (SQLITE_MAX_EXPR_DEPTH).
MAX_OPEN_SPANS = 400


def open_hours_condition(table, clocks: Clocks | None, start: datetime, end: datetime) -> Any:
    """The SQL condition "first_seen within its site's opening hours" for visits that start in [start, end): per
    site clock, its sites and its open spans (Clock.open_spans, exactly what analytics.clocks.Clocks.open_at
    keeps). None when no site has hours (every visit is open); False when the spans are too many for one query."""
    if clocks is None or (not clocks.default.hours and all(not clock.hours for _, clock in clocks.sites)):
        return None
    c = table.c
    listed = [name for name, _ in clocks.sites]
    members: dict[Clock, list[str]] = {}
    for name, clock in clocks.sites:
        members.setdefault(clock, []).append(name)
    parts, spans = [], 0
    for clock, sites in [(clocks.default, None), *members.items()]:
        opened = clock.open_spans(start, end)
        spans += len(opened)
        times = or_(false(), *(and_(c.first_seen >= low, c.first_seen < high) for low, high in opened))
        if sites is None:
            parts.append(and_(c.site.not_in(listed), times) if listed else times)
        else:
            parts.append(and_(c.site.in_(sites), times))
    if spans > MAX_OPEN_SPANS:
        return False
    # Inside a CASE, so no planner takes the spans for index ranges: the query's own window (or dwell) picks the
    # index, and the spans only sift the rows it reads (SQLite otherwise read a busy week's visits span by span).
    return case((or_(*parts), 1), else_=0) == 1


def filter_condition(table, filters: Filters, opening: Any = None, *, site_index: bool = True) -> Any:
    """The SQL condition on `visit` rows of every filter (see `load_visits`); `opening` is open_hours's
    (`open_hours_condition`), or None to leave open_hours to the analytics.

    Without `site_index` the sites are compared as `site || ''`, which no index serves: for reads that a list of
    devices drives (`_by_device`), where SQLite would otherwise walk the chosen sites' whole window by
    ix_visit_site_first_seen rather than look the devices up by ix_visit_device_first_seen (0.8 s of a busy
    week's `--site` report, for a few hundred staff candidates)."""
    c = table.c
    conditions = [] if opening is None or opening is False else [opening]
    if filters.exclude_randomized:
        conditions.append(c.randomized.is_(False))
    if filters.ssid:
        conditions.append(c.ssids.icontains(filters.ssid, autoescape=True))
    if filters.manufacturer:
        conditions.append(c.manufacturer.icontains(filters.manufacturer, autoescape=True))
    if filters.ap:
        conditions.append(c.ap_macs.contains(filters.ap.lower(), autoescape=True))
    if filters.zone:
        conditions.append(func.lower(c.zone) == filters.zone.lower())
    if filters.sites:
        site = c.site if site_index else c.site.concat("")
        conditions.append(site.in_(filters.sites))
    return and_(true(), *conditions)


def _filtered_columns(filters: Filters) -> tuple[str, ...]:
    """The columns beyond REPORT_COLUMNS that `analyse_visits` needs to apply `filters` again."""
    wanted = {"ssids": filters.ssid, "manufacturer": filters.manufacturer, "ap_macs": filters.ap}
    return tuple(name for name, value in wanted.items() if value)


def _by_device(
    connection: Connection, columns: list, names: Sequence[str], where: Any, devices: list[str]
) -> pd.DataFrame:
    """The visits matching `where` of the given devices, asked for a few thousand at a time."""
    table = Visit.__table__  # type: ignore[attr-defined]
    parts = [
        _visit_frame(
            read_tuples(connection, select(*columns).where(where, table.c.device.in_(devices[i : i + 5000]))), names
        )
        for i in range(0, len(devices), 5000)
    ]
    return pd.concat(parts, ignore_index=True) if parts else _visit_frame([], names)


def _as_text(engine: Engine, table, names) -> list:
    columns = []
    for name in names:
        column = table.c[name]
        if engine.dialect.name == "sqlite" and isinstance(column.type, UTCDateTime):
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    return columns


def _visit_frame(rows, names) -> pd.DataFrame:
    """Typed STORED_VISIT_DTYPES columns from result rows with the columns `names` (others NA)."""
    frame = pd.DataFrame(rows, columns=list(names)).rename(columns={"id": "visit"})
    typed = {}
    for name, dtype in STORED_VISIT_DTYPES.items():
        values = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)
        if dtype == TIME_DTYPE:
            typed[name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(TIME_DTYPE)
        elif dtype == "bool":
            typed[name] = values.astype(bool)
        elif dtype in ("float64", "Int64"):
            typed[name] = pd.to_numeric(values).astype(dtype)
        else:
            typed[name] = values.astype(dtype)
    return pd.DataFrame(typed)


def day_bounds(
    start: datetime, end: datetime, clock: Clock
) -> tuple[pd.DatetimeIndex, list[tuple[datetime, datetime]]]:
    """The site days that [start, end) touches, and the UTC span of each inside the window."""
    days = clock.window_days(start, end)
    midnights = days.append(pd.DatetimeIndex([days[-1] + pd.Timedelta(days=1)]))
    instants = clock.starts(midnights)
    bounds = [
        (max(pd.Timestamp(start), low).to_pydatetime(), min(pd.Timestamp(end), high).to_pydatetime())
        for low, high in zip(instants[:-1], instants[1:], strict=True)
    ]
    return days, bounds


def _device_counts(
    connection,
    table,
    start: datetime,
    end: datetime,
    clock: Clock,
    sites: tuple[str, ...] | None,
    filters: Filters,
    clocks: Clocks | None = None,
) -> DeviceCounts:
    """Distinct devices with a matching visit starting in the window, and per site-local day, without reading them.

    Unfiltered (or only without randomized MACs, a property of the device): a visit is a device's first in a span
    when its device's previous visit started before the span, so one COUNT per span does. A filter on single
    visits (SSID, manufacturer, AP, zone, opening hours) breaks that chain (the previous visit may not match), so
    those count DISTINCT devices among the matching visits, in one pass over the window's matching visits."""
    c = table.c
    if sites is not None:
        filters = replace(filters, sites=sites)
    opening = open_hours_condition(table, clocks, start, end) if filters.open_hours else None  # the span's own
    keep = filter_condition(table, filters, opening)
    days, bounds = day_bounds(start, end, clock)
    randomized = func.coalesce(func.sum(case((c.randomized.is_(True), 1), else_=0)), 0)
    if filters.narrows_visits or not (opening is None or opening is False):
        return _distinct_device_counts(connection, table, start, end, keep, days, bounds)

    # One plain COUNT per span, each with only its own first_seen range (SQLite uses one range per query): it
    # counts in the covering first_seen index without reading a row.
    totals = connection.execute(
        select(func.count(), randomized).where(c.first_seen >= start, c.first_seen < end, first_since(c, start), keep)
    ).one()
    daily = [
        int(
            connection.execute(
                select(func.count()).where(c.first_seen >= low, c.first_seen < high, first_since(c, low), keep)
            ).scalar_one()
        )
        for low, high in bounds
    ]
    return DeviceCounts(int(totals[0]), int(totals[1]), pd.Series(daily, index=days, dtype="int64"))


# The most site days one pass of `_distinct_device_counts` answers: a device's days are a bitmask in a 64-bit
# integer (the sign bit left alone).
MASK_DAYS = 62


def _distinct_device_counts(connection, table, start, end, keep, days, bounds) -> DeviceCounts:
    """Distinct devices among the matching visits of [start, end), of them randomized, and per day (`bounds`).

    One pass over the window's matching visits, grouped by device: the days a device was seen are summed as
    distinct powers of two, a bitmask the outer query counts bit by bit. SQLite sorts to group, so each extra
    grouping is a sort of every matching device; a DISTINCT per day cost a busy week's --ap report eight sorts
    (5.7 s), this one (3.5 s). A window longer than MASK_DAYS counts day by day."""
    c = table.c
    flag = func.max(case((c.randomized.is_(True), 1), else_=0))
    if len(bounds) > MASK_DAYS:
        devices = (
            select(flag.label("randomized"))
            .where(c.first_seen >= start, c.first_seen < end, keep)
            .group_by(c.site, c.device)
            .subquery()
        )
        totals = connection.execute(select(func.count(), func.coalesce(func.sum(devices.c.randomized), 0))).one()

        def devices_in(low: datetime, high: datetime) -> int:
            day = select(c.site, c.device).where(c.first_seen >= low, c.first_seen < high, keep).distinct().subquery()
            return int(connection.execute(select(func.count()).select_from(day)).scalar_one())

        daily = [devices_in(low, high) for low, high in bounds]
        return DeviceCounts(int(totals[0]), int(totals[1]), pd.Series(daily, index=days, dtype="int64"))
    day = case(*((c.first_seen < high, index) for index, (_, high) in enumerate(bounds)), else_=len(bounds) - 1)
    bit = cast(literal(1), BigInteger).op("<<")(day)
    party = (
        select(flag.label("randomized"), cast(func.sum(bit.distinct()), BigInteger).label("days"))  # PG: numeric
        .where(c.first_seen >= start, c.first_seen < end, keep)
        .group_by(c.site, c.device)
        .subquery()
    )
    seen = [
        func.coalesce(func.sum(case((party.c.days.op("&")(1 << index) != 0, 1), else_=0)), 0)
        for index in range(len(bounds))
    ]
    row = connection.execute(select(func.count(), func.coalesce(func.sum(party.c.randomized), 0), *seen)).one()
    per_day = [int(value) for value in row[2:]]
    return DeviceCounts(int(row[0]), int(row[1]), pd.Series(per_day, index=days, dtype="int64"))


def _moves(connection, table, visit_ids: list[int]) -> pd.DataFrame:
    """Zone moves of the given stored visits: columns visit, from, to, moves."""
    rows = []
    for offset in range(0, len(visit_ids), 5000):
        part = visit_ids[offset : offset + 5000]
        query = select(table.c.id, table.c.zone_moves).where(table.c.id.in_(part), table.c.zone_moves.is_not(None))
        rows.extend(connection.execute(query).all())
    records = [(visit, *move) for visit, encoded in rows for move in json.loads(encoded)]
    frame = pd.DataFrame.from_records(records, columns=["visit", "from", "to", "moves"])
    return frame.astype({"visit": "int64", "from": "str", "to": "str", "moves": "int64"})
