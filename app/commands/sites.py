"""`presence sites`: every site of the chain, with its group, time zone, hours, APs and what it sent today.

Sites are those the config names (`[[sites]]`, and the `site` of `[[aps]]`) and those whose APs have reported
(an AP the config does not list reports under the default site). "Today" is each site's own local day.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from config.settings import Settings
from store import db
from store.sites import clock_of, known_sites, site_activity


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "sites", help="list the sites: group, time zone, opening hours, APs, last report, observations today"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=run)


def site_rows(settings: Settings, engine, now: datetime) -> list[dict]:
    """One dict per known site, in config order then the others that reported."""
    names = known_sites(engine, settings)
    sites = {name: settings.site(name) for name in names}
    today_starts = {}
    for name, site in sites.items():
        clock = clock_of(site)
        today = clock.day_of(now).date()
        today_starts[name] = clock.bounds(today, today)[0]
    activity = site_activity(engine, today_starts)
    configured_aps: dict[str, list[str]] = {}
    for ap in settings.access_points.values():
        configured_aps.setdefault(ap.site, []).append(ap.name)
    configured_macs: dict[str, set[str]] = {}
    for mac, ap in settings.access_points.items():
        configured_macs.setdefault(ap.site, set()).add(mac)
    rows = []
    for name, site in sites.items():
        seen = activity.get(name, {})
        last = seen.get("last_report_at")
        rows.append(
            {
                "site": name,
                "group": site.group,
                "timezone": site.timezone,
                "hours": site.hours_text() or None,
                "day_starts": f"{site.day_starts:%H:%M}",
                "capacity": site.capacity,
                "configured": site.configured,
                "aps": sorted(configured_aps.get(name, [])),
                "aps_reported": seen.get("aps_reported", 0),
                # Reporting under the site without an [[aps]] entry of it (the site given to unknown APs).
                "aps_unconfigured": [
                    mac for mac in seen.get("ap_macs", []) if mac not in configured_macs.get(name, ())
                ],
                "last_report_at": last.astimezone(UTC).isoformat().replace("+00:00", "Z") if last else None,
                "observations_today": seen.get("observations_today", 0),
            }
        )
    return rows


def _aps_cell(row: dict) -> str:
    """The APs cell: "3 of 4" configured APs reported, and "+1 unconfigured" for APs reporting without an entry."""
    unconfigured = len(row["aps_unconfigured"])
    if not row["aps"]:
        return str(row["aps_reported"])
    cell = f"{row['aps_reported'] - unconfigured} of {len(row['aps'])}"
    return f"{cell}, +{unconfigured} unconfigured" if unconfigured else cell


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        rows = site_rows(settings, engine, datetime.now(UTC))
    finally:
        engine.dispose()
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        sys.stdout.write("No sites yet: name them with site = ... under [[aps]], or describe them under [[sites]].\n")
        return 0
    header = ("site", "group", "timezone", "APs", "last report", "today")
    table = [
        (
            row["site"],
            row["group"] or "-",
            row["timezone"],
            _aps_cell(row),
            _ago(row["last_report_at"]) if row["last_report_at"] else "never",
            f"{row['observations_today']:,}",
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *table, strict=True)]
    for line in (header, *table):
        sys.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")
    sys.stdout.write(
        "APs: configured APs that reported, of those configured (and APs reporting without an [[aps]] entry for the "
        "site); "
        "today: observations stored since the site's local day began.\n"
    )
    return 0


def _ago(iso: str) -> str:
    seconds = (datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"
