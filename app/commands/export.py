"""`presence export observations|visits`: normalized observations, or one row per visit, as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.clocks import Clocks
from analytics.filters import Filters
from analytics.report import VISIT_EXPORT_COLUMNS, Analysis, analyse, analyse_visits, visit_table
from analytics.settings import AnalyticsSettings
from analytics.site_table import SiteTally, analysis_tallies
from app.commands.filter_args import UnknownFilter, add_filter_arguments, add_site_arguments, filters_from, sites_from
from config.settings import Settings
from store import db
from store.analytics_settings import analytics_settings_of
from store.counts import COUNT_ONLY_REFUSAL
from store.frames import load_observations, load_visits
from store.models import OBSERVATION_EXPORT_COLUMNS
from store.queries import iter_observations, local_day_bounds
from store.site_figures import site_tallies
from store.sites import clocks_of, known_sites
from store.visits import refresh_visits


def register(subcommands) -> None:
    parser = subcommands.add_parser("export", help="export stored data as CSV or JSON")
    what = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    observations = what.add_parser("observations", help="normalized observations, one row per AP report")
    add_window_arguments(observations)
    add_site_arguments(observations)
    observations.set_defaults(run=run_observations)
    visits = what.add_parser("visits", help="one row per visit: dwell, category (visitor/passerby/staff), zone")
    visits.add_argument("--from", dest="first", type=date.fromisoformat, required=True, help="first site-local day")
    visits.add_argument("--to", dest="last", type=date.fromisoformat, required=True, help="last site-local day")
    visits.add_argument("--format", choices=("csv", "json"), default="csv")
    add_filter_arguments(visits)
    add_naive_argument(visits)
    visits.set_defaults(run=run_visits)


def add_naive_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--naive",
        action="store_true",
        help="work visits out from the observations instead of the stored visits (slow; for comparison)",
    )


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first site-local day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last site-local day (inclusive)")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")


def run_observations(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.count_only:
        print(f"presence export: {COUNT_ONLY_REFUSAL}", file=sys.stderr)
        return 2
    try:
        sites = sites_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence export observations: {exc}", file=sys.stderr)
        return 2
    # One site's days are its own; several sites' are the installation's time zone's (observations carry UTC).
    tz = settings.site(sites[0]).tz if len(sites) == 1 else settings.tz
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        start, end = local_day_bounds(args.first, args.last, tz)
        rows = iter_observations(engine, start, end, sites=sites)
        write_rows(rows, OBSERVATION_EXPORT_COLUMNS, args.format, sys.stdout)
    finally:
        engine.dispose()
    return 0


def run_visits(args: argparse.Namespace) -> int:
    """Visits that started in the window (site-local days, inclusive), classified with the default settings."""
    if args.last < args.first:
        print("presence export visits: --to is before --from", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if settings.count_only:
        print(f"presence export: {COUNT_ONLY_REFUSAL}", file=sys.stderr)
        return 2
    start, end = local_day_bounds(args.first, args.last, settings.tz)
    try:
        filters = filters_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence export visits: {exc}", file=sys.stderr)
        return 2
    analysis = window_analysis(
        settings,
        analytics_settings_of(settings),
        start,
        end,
        filters,
        complete=True,
        naive=args.naive,
        dates=(args.first, args.last),
    )
    write_rows(visit_rows(analysis), VISIT_EXPORT_COLUMNS, args.format, sys.stdout)
    return 0


def visit_rows(analysis: Analysis, categories: Iterable[str] | None = None) -> list[dict]:
    """`presence export visits`' rows (VISIT_EXPORT_COLUMNS, times as UTC datetimes for `write_rows`), of the given
    categories or all; the dashboard's visits CSV is made of the same rows."""
    table = visit_table(analysis)
    if categories is not None:
        table = table.loc[table["category"].isin(list(categories))]
    return table.astype(object).where(table.notna(), None).to_dict("records")


def window_analysis(
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    start: datetime,
    end: datetime,
    filters: Filters | None = None,
    *,
    complete: bool = False,
    detail: bool | None = None,
    naive: bool = False,
    dates: tuple[date, date] | None = None,
    per_site: bool = False,
) -> Analysis:
    """The analysis of the UTC window [start, end) with `filters`, from the stored visits (refreshed first), or
    with `naive` from the observations as `analytics.report.analyse` works them out (the cross-check).

    `complete` loads every visit of the window (visit lists); otherwise passersby are only counted. `detail`
    (default: `complete`) loads every column of the visits (SSID, manufacturer, position: the dashboard's charts);
    without it only what the report's figures need.

    With `dates` (first, last) the window is those site days at every site, each in its own time zone and from its
    own day start ([[sites]]; start and end are then ignored), and the analysis is in the sites' time zone when they
    share one, else the installation's. `per_site` counts each site's passersby too (Analysis.for_site).
    """
    filters = filters or Filters()
    clocks = None
    tz = settings.tz
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        if dates is not None:
            clocks = clocks_of(settings)
            scope = list(filters.sites) or known_sites(engine, settings)
            start, end = clocks.envelope(scope, *dates)
            per_site = per_site and len(scope) > 1  # one site's counts are the total
            tz = scope_zone(clocks, scope, settings)
        if naive:
            observations = load_observations(
                engine, start, end, history=analytics_settings.history, lookahead=analytics_settings.visit_lookahead
            )
            return analyse(
                observations, start, end, analytics_settings, filters, tz, settings.access_points, clocks, dates
            )
        refresh_visits(engine, settings, analytics_settings, sites=list(filters.sites) or None)  # only theirs
        stored = load_visits(
            engine,
            start,
            end,
            analytics_settings,
            tz=tz,
            complete=complete,
            detail=complete if detail is None else detail,
            filters=filters,
            clocks=clocks,
            dates=dates,
            per_site=per_site,
        )
    finally:
        engine.dispose()
    analysis = analyse_visits(
        stored.visits, start, end, analytics_settings, filters, tz, stored.device_counts, stored.moves, clocks, dates
    )
    return replace(analysis, site_counts=stored.site_counts)


def scope_zone(clocks: Clocks, scope: Sequence[str], settings: Settings) -> ZoneInfo:
    """The time zone of an analysis of `scope`: the sites' when they share one, else the installation's."""
    groups = clocks.by_clock(scope)
    return next(iter(groups)).tz if len(groups) == 1 else settings.tz


def window_site_tallies(
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    periods: Sequence[tuple[date, date]],
    filters: Filters | None = None,
) -> list[dict[str, SiteTally]]:
    """Every site's figures of each period (first, last site days) with `filters` (the Sites page's periods:
    analytics.site_table), each site on its own days: counted from the stored visits (store.site_figures),
    refreshed once first, or where they cannot be counted so (opening hours of too many spans) from
    `window_analysis`."""
    filters = filters or Filters()
    clocks = clocks_of(settings)
    engine = db.make_engine(settings.database_url)
    counted: list[dict[str, SiteTally] | None] = []
    try:
        db.migrate(engine)
        scope = list(filters.sites) or known_sites(engine, settings)
        tz = scope_zone(clocks, scope, settings)
        refresh_visits(engine, settings, analytics_settings, sites=list(filters.sites) or None)  # only theirs

        def count(dates: tuple[date, date]) -> dict[str, SiteTally] | None:
            start, end = clocks.envelope(scope, *dates)
            with engine.connect() as connection:
                return site_tallies(
                    connection, start, end, analytics_settings, tz=tz, filters=filters, clocks=clocks, dates=dates
                )

        # On PostgreSQL the periods are counted at once, each on a connection and a thread of its own: the server
        # counts and reads one while this process works through the other's rows. On SQLite both halves are this
        # process's own and hold the GIL: in turn was faster there (1.58 s against 1.85 s at 100 sites).
        workers = len(periods) if engine.dialect.name == "postgresql" else 1
        with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="site-tallies") as pool:
            counted.extend(pool.map(count, periods))
    finally:
        engine.dispose()
    return [
        tallies
        if tallies is not None
        else analysis_tallies(
            window_analysis(settings, analytics_settings, None, None, filters, dates=dates, per_site=True),
            scope,  # type: ignore[arg-type]
        )
        for tallies, dates in zip(counted, periods, strict=True)
    ]


def load_window(
    settings: Settings, analytics_settings: AnalyticsSettings, start: datetime, end: datetime
) -> pd.DataFrame:
    """The observations the analytics need for the UTC window [start, end): its history and look-ahead too."""
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        return load_observations(
            engine, start, end, history=analytics_settings.history, lookahead=analytics_settings.visit_lookahead
        )
    finally:
        engine.dispose()


def write_rows(rows: Iterable[dict], columns: Iterable[str], fmt: str, out: TextIO) -> None:
    """Stream rows as CSV (header first) or as one JSON array; times become ISO 8601 UTC."""
    columns = list(columns)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _plain(row.get(key)) for key in columns})
        return
    out.write("[")
    for index, row in enumerate(rows):
        out.write(",\n" if index else "\n")
        out.write(json.dumps({key: _plain(row.get(key)) for key in columns}))
    out.write("\n]\n")


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
