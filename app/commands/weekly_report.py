"""`presence weekly-report`: one week's report as a self-contained HTML file (app.weekly_report)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.commands.filter_args import UnknownFilter, add_site_arguments, sites_from
from app.dashboard.weeks import monday_of_iso
from app.weekly_report import default_monday, weekly_report_html
from config.settings import Settings
from store.counts import COUNT_ONLY_REFUSAL


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "weekly-report", help="one week's figures and charts as a self-contained HTML file (prints well to PDF)"
    )
    parser.add_argument(
        "--week", type=_iso_week, help="ISO week, e.g. 2026-W48 (default: the last complete Monday-Sunday week)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    add_site_arguments(parser)
    parser.set_defaults(run=run)


def _iso_week(value: str) -> str:
    try:
        monday_of_iso(value)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO week like 2026-W48") from None
    return value


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.count_only:
        print(f"presence weekly-report: {COUNT_ONLY_REFUSAL}", file=sys.stderr)
        return 2
    try:
        sites = sites_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence weekly-report: {exc}", file=sys.stderr)
        return 2
    today = datetime.now(UTC).astimezone(settings.site(sites[0]).tz if len(sites) == 1 else settings.tz).date()
    monday = monday_of_iso(args.week) if args.week else default_monday(today)
    args.out.write_text(weekly_report_html(settings, monday, sites=sites), encoding="utf-8")
    print(f"wrote {args.out} (week of {monday:%a %d %b %Y})")
    return 0
