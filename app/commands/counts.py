"""`presence counts`: per site and site-local hour or day, the devices count-only mode counted (PRESENCE_COUNT_ONLY)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

import pandas as pd

from analytics.counts import INTERVALS, interval_summary
from app.commands.export import write_rows
from app.commands.filter_args import UnknownFilter, add_site_arguments, sites_from
from app.commands.report import add_report_window
from config.settings import Settings
from store import db
from store.count_frames import site_minutes
from store.queries import local_day_bounds
from store.sites import clocks_of, known_sites

FIGURES = ("peak_nearby", "avg_nearby", "peak_devices", "peak_connected", "minutes_heard")
HEADINGS = {
    "peak_nearby": "peak nearby",
    "avg_nearby": "avg nearby",
    "peak_devices": "peak devices",
    "peak_connected": "peak connected",
    "minutes_heard": "minutes heard",
}


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "counts", help="devices nearby, connected and heard per hour or day (what count-only mode keeps)"
    )
    add_report_window(parser)
    parser.add_argument("--interval", choices=INTERVALS, default="day", help="one row per site and ... (default day)")
    parser.add_argument("--format", choices=("text", "csv", "json"), default="text")
    add_site_arguments(parser)
    parser.set_defaults(run=run)


def counts(settings: Settings, first: date, last: date, interval: str, sites: tuple[str, ...] = ()) -> pd.DataFrame:
    """`analytics.counts.interval_summary` of the site-local days first..last (inclusive) of `sites` (or all),
    each site in its own time zone and from its own day start ([[sites]] timezone and day_starts)."""
    clocks = clocks_of(settings)
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        if not sites and clocks.is_uniform():
            start, end = local_day_bounds(first, last, settings.tz)
            minutes = site_minutes(engine, start, end)  # type: ignore[arg-type]  # both days given
            return interval_summary(minutes, start, end, settings.tz, interval)  # type: ignore[arg-type]
        parts = []
        for clock, members in clocks.by_clock(sites or known_sites(engine, settings)).items():
            start, end = clock.bounds(first, last)
            minutes = site_minutes(engine, start, end)
            minutes = minutes.loc[minutes["site"].isin(members)].reset_index(drop=True)
            parts.append(interval_summary(minutes, start, end, clock.tz, interval, clock.day_start))
    finally:
        engine.dispose()
    return pd.concat(parts, ignore_index=True).sort_values(["site", "start"], kind="stable", ignore_index=True)


def count_rows(summary: pd.DataFrame, interval: str) -> list[dict[str, Any]]:
    """Plain rows for CSV and JSON: the interval as a site-local day (YYYY-MM-DD) or hour (ISO 8601 with its
    UTC offset), the average to two decimals."""
    return [
        {
            "site": row.site,
            interval: row.start.date().isoformat() if interval == "day" else row.start.isoformat(),
            "peak_nearby": int(row.peak_nearby),
            "avg_nearby": round(float(row.avg_nearby), 2),
            "peak_devices": int(row.peak_devices),
            "peak_connected": int(row.peak_connected),
            "minutes_heard": int(row.minutes_heard),
        }
        for row in summary.itertuples(index=False)
    ]


def counts_text(summary: pd.DataFrame, first: date, last: date, interval: str, timezone: str) -> str:
    """A readable table per site for a person."""
    lines = [
        f"Device counts {first} to {last}, per {interval} ({timezone})",
        "peak: the most in any one minute; avg: over every minute of the "
        f"{interval}; at a site's busiest AP, so a lower bound",
        "nearby: heard at -75 dBm or stronger (about the people in the shop); minutes heard: minutes with any device",
    ]
    if summary.empty:
        return "\n".join([*lines, "", "No device counts in this window."]) + "\n"
    label = "%Y-%m-%d" if interval == "day" else "%Y-%m-%d %H:%M %Z"
    width = 11 if interval == "day" else 22
    for site, rows in summary.groupby("site", sort=True):
        lines += ["", str(site), f"{interval.capitalize():<{width}}" + "".join(f"{HEADINGS[f]:>16}" for f in FIGURES)]
        lines += [
            f"{row.start.strftime(label):<{width}}{row.peak_nearby:>16}{row.avg_nearby:>16.1f}{row.peak_devices:>16}"
            f"{row.peak_connected:>16}{row.minutes_heard:>16}"
            for row in rows.itertuples(index=False)
        ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.last < args.first:
        print("presence counts: --to is before --from", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if not settings.count_only:
        print(
            "presence counts: PRESENCE_COUNT_ONLY is not set, so devices are stored as observations, not counted; "
            "this shows only counts kept while it was set (`presence report` has the figures of observations)",
            file=sys.stderr,
        )
    try:
        sites = sites_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence counts: {exc}", file=sys.stderr)
        return 2
    summary = counts(settings, args.first, args.last, args.interval, sites)
    if args.format == "text":
        sys.stdout.write(counts_text(summary, args.first, args.last, args.interval, settings.timezone))
    else:
        columns = ("site", args.interval, *FIGURES)
        write_rows(count_rows(summary, args.interval), columns, args.format, sys.stdout)
    return 0
