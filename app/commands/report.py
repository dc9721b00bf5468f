"""`presence report`: the analytics report of a window of site-local days, as JSON, CSV or text."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from analytics.report import report, site_reports
from app.commands.export import add_naive_argument, window_analysis, write_rows
from app.commands.filter_args import UnknownFilter, add_filter_arguments, filters_from
from config.settings import Settings
from store.analytics_settings import analytics_settings_of
from store.counts import COUNT_ONLY_REFUSAL
from store.queries import local_day_bounds


def register(subcommands) -> None:
    parser = subcommands.add_parser("report", help="visitors, passersby, dwell, loyalty and zones of a window")
    add_report_window(parser)
    add_filter_arguments(parser)
    parser.add_argument("--format", choices=("json", "csv", "text"), default="text")
    add_naive_argument(parser)
    parser.set_defaults(run=run)


def _site_entry(entry: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """One site's figures, with the site's group and time zone after its name."""
    site = settings.site(entry["site"])
    return {"site": entry["site"], "group": site.group, "timezone": site.timezone, **entry}


def add_report_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="first", type=date.fromisoformat, required=True, help="first site-local day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--to", dest="last", type=date.fromisoformat, required=True, help="last site-local day (inclusive)"
    )


def run(args: argparse.Namespace) -> int:
    if args.last < args.first:
        print("presence report: --to is before --from", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if settings.count_only:
        print(f"presence report: {COUNT_ONLY_REFUSAL}", file=sys.stderr)
        return 2
    start, end = local_day_bounds(args.first, args.last, settings.tz)
    try:
        filters = filters_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence report: {exc}", file=sys.stderr)
        return 2
    # Stored visits, refreshed first, for every filter; --naive works them out from the observations. Each site
    # counts its own local days.
    analysis = window_analysis(
        settings,
        analytics_settings_of(settings),
        start,
        end,
        filters,
        naive=args.naive,
        dates=(args.first, args.last),
        per_site=True,
    )
    result = report(analysis)
    if len(filters.sites) > 1 or (not filters.sites and len(analysis.sites()) > 1):
        result["sites"] = [_site_entry(entry, settings) for entry in site_reports(analysis)]
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    elif args.format == "csv":
        write_rows(report_rows(result), ("key", "value"), "csv", sys.stdout)
    else:
        sys.stdout.write(report_text(result))
    return 0


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report flattened to key,value rows: nested keys joined by dots, list entries keyed by their zone or
    date or site (`dwell_minutes.median`, `zones.Entrance.visitors`, `daily.2026-11-02.peak_occupancy`,
    `sites.West Mall.visitors`)."""
    rows: list[dict[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and not all(isinstance(entry, dict) for entry in value):
            rows.append({"key": prefix, "value": ", ".join(str(entry) for entry in value)})  # the sites filter
        elif isinstance(value, list):
            for entry in value:
                key = next(key for key in ("zone", "date", "site") if key in entry)
                walk(f"{prefix}.{entry[key]}", {k: v for k, v in entry.items() if k != key})
        else:
            rows.append({"key": prefix, "value": value})

    walk("", report)
    return rows


def report_text(report: dict[str, Any]) -> str:
    """A readable summary for a person."""

    def value(number: float | None, suffix: str = "") -> str:
        return "-" if number is None else f"{number:g}{suffix}"

    def percent(share: float | None) -> str:
        return "-" if share is None else f"{share * 100:.1f} %"

    filters = ", ".join(f"{key}={val}" for key, val in report["filters"].items() if val) or "none"
    dwell = report["dwell_minutes"]
    peak = report["peak_occupancy"]
    lines = [
        f"Presence report {report['from']} to {report['to']} (filters: {filters})",
        "",
        f"Visitors          {report['visitors']} ({report['connected']} connected, {report['visits']} visits)",
        f"Passersby         {report['passersby']}",
        f"Capture rate      {percent(report['capture_rate'])}",
        f"Staff (excluded)  {report['staff']}",
        f"Repeat visitors   {report['repeat_visitors']}",
        f"New visitors      {report['new_visitors']}",
        f"Randomized MACs   {percent(report['randomized_share'])} of visitors and passersby",
        f"Dwell             median {value(dwell['median'], ' min')}, mean {value(dwell['mean'], ' min')}, "
        f"90th percentile {value(dwell['p90'], ' min')}",
        "Dwell buckets     " + ", ".join(f"{name} min: {count}" for name, count in report["dwell_buckets"].items()),
        "Loyalty           " + ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in report["loyalty"].items()),
        f"Peak occupancy    {peak['count']}" + (f" at {peak['at']}" if peak["at"] else ""),
    ]
    if report.get("sites"):
        width = max(24, *(len(entry["site"]) for entry in report["sites"]))
        lines += ["", f"{'Site':<{width}} {'visitors':>9} {'passersby':>10} {'capture':>8} {'median dwell':>13}"]
        lines += [
            f"{entry['site']:<{width}} {entry['visitors']:>9} {entry['passersby']:>10} "
            f"{percent(entry['capture_rate']):>8} {value(entry['dwell_minutes']['median'], ' min'):>13}"
            for entry in report["sites"]
        ]
    if report["zones"]:
        lines += ["", f"{'Zone':<24} {'visitors':>9} {'visits':>7} {'median dwell':>13}"]
        lines += [
            f"{zone['zone']:<24} {zone['visitors']:>9} {zone['visits']:>7} "
            f"{value(zone['median_dwell_minutes'], ' min'):>13}"
            for zone in report["zones"]
        ]
    lines += [
        "",
        f"{'Day':<11} {'visitors':>9} {'passersby':>10} {'connected':>10} {'median dwell':>13} {'peak':>5}",
    ]
    lines += [
        f"{day['date']:<11} {day['visitors']:>9} {day['passersby']:>10} {day['connected']:>10} "
        f"{value(day['median_dwell_minutes'], ' min'):>13} {day['peak_occupancy']:>5}"
        for day in report["daily"]
    ]
    return "\n".join(lines) + "\n"
