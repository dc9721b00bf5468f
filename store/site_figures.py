"""The Sites page's figures of every site, counted from the stored visits without analysing them.

A chain's week holds hundreds of thousands of visits; loading and analysing them to show six figures per site
cost the Sites page about 0.06 s a site and period (13 s at a hundred sites). Each figure of a table of sites
adds up over (site, device) pairs (analytics.site_table.SiteTally), so they are counted per site directly:

- devices seen: one COUNT per site clock grouped by site, in the covering index, as `presence report` counts
  passersby (`count_per_site` with a filter on single visits);
- staff: found as analytics.classify finds them, among the long visits (a few per site and day);
- visitors, connected and repeat visitors, each day's visitors and the dwell of each visitor visit: the window's
  qualifying visits read as five plain values each from their covering partial index, counted with numpy, each
  site on its own days.

The same definitions on the same stored visits as `analyse_visits`, so every figure equals the report's of each
site (tests/analytics/test_chain_report.py holds them equal, on SQLite and PostgreSQL, with filters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    cast,
    func,
    select,
    type_coerce,
)

from analytics.classify import staff_devices
from analytics.clocks import Clocks
from analytics.filters import Filters
from analytics.report import stored_dwell, stored_dwell_minutes
from analytics.settings import AnalyticsSettings
from analytics.site_table import SiteTally
from analytics.visits import local_day
from store.frames import (
    Span,
    clock_spans,
    count_per_site,
    day_bounds,
    filter_condition,
    first_since,
    long_visits_condition,
    open_hours_condition,
    qualifying_condition,
    read_tuples,
    sites_in,
)
from store.models import Visit

TABLE = Visit.__table__  # type: ignore[attr-defined]


def site_tallies(
    connection: Connection,
    start: datetime,
    end: datetime,
    settings: AnalyticsSettings,
    *,
    tz: tzinfo,
    filters: Filters | None = None,
    clocks: Clocks | None = None,
    dates: tuple[date, date] | None = None,
) -> dict[str, SiteTally] | None:
    """The tally of every site with a visit in the UTC window [start, end) (with `clocks` and `dates`: each
    site's own days `dates`, [start, end) their envelope, as `load_visits` takes them), `filters` applied as
    `load_visits` applies them. None when they cannot be counted so (opening hours of more spans than one query
    takes, days that do not start on a whole second): the caller then analyses the loaded visits. Refresh the
    visits first (`refresh_visits`)."""
    table = TABLE
    filters = filters or Filters()
    staff_since = start - settings.staff_history
    opening = open_hours_condition(table, clocks, staff_since, end) if filters.open_hours else None
    if opening is False:
        return None
    spans = clock_spans(connection, table, start, end, tz, filters, clocks, dates)
    window = _window(spans)
    if window is None:
        return None
    keep = filter_condition(table, filters, opening)
    seen = _seen(connection, spans, filters, clocks)
    staff = _staff(connection, start, end, settings, filters, keep, tz, clocks, dates)
    names = sorted(set(seen) | {site for *_, sites in spans for site in sites or ()})
    return _tallies(connection, window, settings, keep, staff, seen, names)


@dataclass(frozen=True)
class _Window:
    """Every site's window: the UTC span that holds them all (low..high, the index range read), and per site
    clock its sites (None: every site of no other clock) and the instants its days `days` start, and the last
    ends, in whole seconds since the epoch (each site's own days: the same dates)."""

    low: datetime
    high: datetime
    days: pd.DatetimeIndex
    clocks: tuple[tuple[tuple[str, ...] | None, np.ndarray], ...]

    def day_of(self, sites: np.ndarray, codes: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Which of `days` each visit started on at its own site (`codes` into the names `sites`, `seconds`
        its first_seen floored to the second), -1 outside its site's window. Flooring keeps every comparison
        exact, as the days start on whole seconds."""
        clock_of = np.full(len(sites), -1)
        for index, (members, _) in enumerate(self.clocks):
            if members is None:
                clock_of[:] = np.where(clock_of == -1, index, clock_of)
            else:
                clock_of[np.isin(sites, members)] = index
        day = np.full(len(codes), -1)
        for index, (_, edges) in enumerate(self.clocks):
            rows = clock_of[codes] == index
            found = np.searchsorted(edges, seconds[rows], side="right") - 1
            day[rows] = np.where(found < len(edges) - 1, found, -1)
        return day


def _window(spans: Sequence[Span]) -> _Window | None:
    """The `_Window` of the spans (one per site clock); None when their days differ (a window without `dates`
    has one span) or a day does not start on a whole second (a window of arbitrary instants)."""
    days = day_bounds(*spans[0][:3])[0]
    clocks = []
    for low, high, clock, sites in spans:
        span_days, bounds = day_bounds(low, high, clock)
        edges = [pd.Timestamp(bounds[0][0]), *(pd.Timestamp(upper) for _, upper in bounds)]
        if not span_days.equals(days) or any(edge.value % 1_000_000_000 for edge in edges):
            return None
        clocks.append((sites, np.array([edge.value // 1_000_000_000 for edge in edges], dtype="int64")))
    low, high = min(span[0] for span in spans), max(span[1] for span in spans)
    return _Window(low, high, days, tuple(clocks))


def _first_seen(connection: Connection) -> Any:
    """first_seen as the database hands it over cheapest (`_seconds` makes whole seconds of it): SQLite's stored
    text as it is, which numpy parses in C (SQLite's own strftime('%s') was 60 % of the visitors' query),
    PostgreSQL's whole seconds since the epoch."""
    c = TABLE.c
    if connection.dialect.name == "sqlite":
        return type_coerce(c.first_seen, String())
    return cast(func.floor(func.extract("epoch", c.first_seen)), BigInteger)


def _seconds(values: Sequence[Any]) -> np.ndarray:
    """What `_first_seen` selected, as whole seconds since the epoch (floored)."""
    if len(values) and isinstance(values[0], str):  # SQLite's 'YYYY-MM-DD HH:MM:SS.ffffff', in UTC
        return np.array(values, dtype="datetime64[us]").astype("int64") // 1_000_000
    return np.array(values, dtype="int64")


def _seen(connection: Connection, spans: Sequence[Span], filters: Filters, clocks: Clocks | None) -> dict[str, int]:
    """Per site, the devices with a matching visit in its window, as `presence report` counts them.

    Without a filter on single visits a device's first visit in a span is one whose previous visit started
    before it, so one COUNT per site clock grouped by site does, from ix_visit_site_first_seen without reading a
    row: the page needs no count per day, which `count_per_site` makes for the report (eight COUNTs a site and
    week on SQLite). With such a filter the devices are counted DISTINCT, by `count_per_site`."""
    if filters.narrows_visits or filters.open_hours:
        return {
            site: part.devices for site, part in count_per_site(connection, TABLE, list(spans), filters, clocks).items()
        }
    c = TABLE.c
    seen: dict[str, int] = {}
    for low, high, _, sites in spans:
        names = sites if sites is not None else (list(filters.sites) or sites_in(connection, TABLE, low, high))
        if not names:
            continue
        keep = filter_condition(TABLE, replace(filters, sites=tuple(names)))
        query = (
            select(c.site, func.count())
            .where(c.first_seen >= low, c.first_seen < high, first_since(c, low), keep)
            .group_by(c.site)
        )
        seen.update({site: int(count) for site, count in connection.execute(query)})
    return seen


def _staff(
    connection: Connection,
    start: datetime,
    end: datetime,
    settings: AnalyticsSettings,
    filters: Filters,
    keep: Any,
    tz: tzinfo,
    clocks: Clocks | None,
    dates: tuple[date, date] | None,
) -> list[tuple[str, str]]:
    """The (site, device) staff pairs of the window (analytics.classify.staff_devices), from the long visits that
    match the filters, each site's window its own."""
    c = TABLE.c
    sqlite = connection.dialect.name == "sqlite"
    first_seen = type_coerce(c.first_seen, String()) if sqlite else c.first_seen
    last_seen = type_coerce(c.last_seen, String()) if sqlite else c.last_seen
    staff_window = long_visits_condition(connection, c, settings, start - settings.staff_history, end, filters)
    long_visits = select(c.site, c.device, first_seen, last_seen, c.dwell_seconds).where(staff_window, keep)
    long = pd.DataFrame(
        read_tuples(connection, long_visits), columns=["site", "device", "first_seen", "last_seen", "dwell_seconds"]
    )
    for name in ("first_seen", "last_seen"):
        long[name] = pd.to_datetime(long[name], utc=True, format="ISO8601")
    long["dwell"] = stored_dwell(long, long["dwell_seconds"].to_numpy(dtype="float64"))
    long["day"] = (
        local_day(long["first_seen"], tz) if clocks is None else clocks.days_of(long["site"], long["first_seen"])
    )
    if clocks is not None and dates is not None:
        low, high = clocks.window_bounds(long["site"], *dates)
    else:
        low, high = pd.Timestamp(start), pd.Timestamp(end)
    return list(staff_devices(long, low, high, settings))


def _tallies(
    connection: Connection,
    window: _Window,
    settings: AnalyticsSettings,
    keep: Any,
    staff: Sequence[tuple[str, str]],
    seen: dict[str, int],
    names: Sequence[str],
) -> dict[str, SiteTally]:
    """The tallies of every site of `names` and every site with a visitor in the window.

    The window's qualifying visits are read as five numbers and strings each (site, device, start time,
    associated, dwell) and counted with numpy: on SQLite that is twice as fast as grouping them by device in SQL,
    which sorts them and keeps a distinct set per device for its days, and each site's own days are told apart
    here rather than by a CASE per site clock that SQLite evaluates for every row."""
    c = TABLE.c
    here = and_(c.first_seen >= window.low, c.first_seen < window.high, keep)
    staff_count = _present(connection, window, here, staff)
    qualifying = qualifying_condition(c, settings)
    query = select(c.site, c.device, _first_seen(connection), c.associated, c.dwell_seconds).where(here, qualifying)
    rows = read_tuples(connection, query)
    # Columns straight from the rows: a DataFrame of them would cost as much as reading them.
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    site, sites = pd.factorize(np.array(columns[0], dtype=object))
    device, devices = pd.factorize(np.array(columns[1], dtype=object))
    sites = np.asarray(sites, dtype=object)
    day = window.day_of(sites, site, _seconds(columns[2]))
    width = max(len(devices), 1)
    party = site.astype("int64") * width + device
    site_code = {name: code for code, name in enumerate(sites)}
    device_code = {name: code for code, name in enumerate(devices)}
    staff_parties = [
        site_code[name] * width + device_code[phone]
        for name, phone in staff
        if name in site_code and phone in device_code
    ]
    visitor = (day >= 0) & ~np.isin(party, staff_parties)
    site, party, day = site[visitor], party[visitor], day[visitor]
    associated = np.array(columns[3], dtype=bool)[visitor]
    minutes = stored_dwell_minutes(np.array(columns[4], dtype="float64")[visitor])

    # Per (site, device): its site, whether connected in any visit, and on which days; then per site.
    days = window.days
    parties, first, party_of = np.unique(party, return_index=True, return_inverse=True)
    party_site = site[first]
    connected = np.bincount(party_of, weights=associated, minlength=len(parties)) > 0
    party_days = np.unique(party_of * len(days) + day)  # each (site, device) and day once
    on_days = np.bincount(party_days // len(days), minlength=len(parties))
    repeat = on_days >= settings.repeat_min_days
    daily_cells = party_site[party_days // len(days)] * len(days) + party_days % len(days)
    daily = np.bincount(daily_cells, minlength=len(sites) * len(days)).reshape(len(sites), len(days))

    def per_site(values: np.ndarray) -> np.ndarray:
        return np.bincount(party_site, weights=values, minlength=len(sites)).astype("int64")

    visitors, connected_count, repeat_count = per_site(np.ones(len(parties))), per_site(connected), per_site(repeat)
    order = np.argsort(site, kind="stable")
    ordered = site[order]
    starts = np.flatnonzero(np.diff(ordered, prepend=-1))  # where each site's visits begin
    parts = np.split(minutes[order], starts[1:]) if len(starts) else []  # none: no visitor at all
    dwell = {sites[ordered[at]]: part for at, part in zip(starts, parts, strict=True)}

    tallies = {}
    for name in dict.fromkeys([*names, *sites]):
        code = site_code.get(name)
        tallies[name] = SiteTally(
            seen=seen.get(name, 0),
            visitors=int(visitors[code]) if code is not None else 0,
            connected=int(connected_count[code]) if code is not None else 0,
            staff=staff_count.get(name, 0),
            repeat_visitors=int(repeat_count[code]) if code is not None else 0,
            daily=daily[code] if code is not None else np.zeros(len(days), dtype="int64"),
            dwell_minutes=dwell.get(name, np.empty(0)),
        )
    return tallies


def _present(connection: Connection, window: _Window, here: Any, staff: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Per site, the staff devices with a visit matching `here` in their site's window (what makes a staff
    device counted), asked for by device (ix_visit_device_first_seen)."""
    c = TABLE.c
    wanted = set(staff)
    found: set[tuple[str, str]] = set()
    devices = sorted({device for _, device in staff})
    for offset in range(0, len(devices), 5000):
        part = devices[offset : offset + 5000]
        query = select(c.site, c.device, _first_seen(connection)).where(here, c.device.in_(part))
        rows = connection.execute(query).all()  # in ix_visit_device_first_seen: a few staff phones
        if not rows:
            continue
        codes, sites = pd.factorize(np.array([row[0] for row in rows], dtype=object))
        day = window.day_of(np.asarray(sites, dtype=object), codes, _seconds([row[2] for row in rows]))
        found.update(
            (row[0], row[1])
            for row, inside in zip(rows, day >= 0, strict=True)
            if inside and (row[0], row[1]) in wanted
        )
    counts: dict[str, int] = {}
    for site, _ in found:
        counts[site] = counts.get(site, 0) + 1
    return counts
