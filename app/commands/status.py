"""`presence status`: is every AP reporting, is any site over capacity, and was anything refused? Exit status 1
when an AP is silent or a site is over its capacity, so cron or a monitoring system can alert on it.

Silent: an AP that has not reported for `--silent-after`, or one listed under `[[aps]]` in the config (every listed
AP is expected) that has never reported. A retired AP (`presence aps retire`) is never silent. Over capacity: a
site whose `[[sites]]` capacity is set has at least that many visitors inside now (the Live page's count).
`--site`/`--group` narrow everything to those sites.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from analytics.filters import Filters
from analytics.report import live_occupancy
from app.commands.export import window_analysis
from app.commands.filter_args import UnknownFilter, add_site_arguments, sites_from
from config.settings import Settings
from store import db, quarantine
from store.analytics_settings import analytics_settings_of
from store.count_frames import count_span
from store.queries import ap_reports, observation_summary, retired_aps

RECENT = timedelta(hours=6)  # visits in progress now began at most this long ago (the Live page's look-back)
DEFAULT_SILENT_MINUTES = 10  # APs post every 30-60 s: ten minutes is ten or more missed reports in a row


def register(subcommands) -> None:
    parser = subcommands.add_parser("status", help="APs reporting or silent, refused posts, database summary")
    parser.add_argument(
        "--silent-after", type=float, default=DEFAULT_SILENT_MINUTES, metavar="MINUTES",
        help=f"an AP is silent when it has not reported for this long (default {DEFAULT_SILENT_MINUTES})",
    )  # fmt: skip
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_site_arguments(parser)
    parser.set_defaults(run=run)


def capacity(settings: Settings, now: datetime, sites: tuple[str, ...] = ()) -> list[dict]:
    """Each site with a capacity (of `sites`, or all): visitors inside now, its capacity and whether it is over.

    Inside is the Live page's count: visitors (not staff) heard within the live window before now, from the stored
    visits brought up to date first."""
    chosen = [name for name in (sites or tuple(settings.sites)) if settings.site(name).capacity]
    if not chosen or settings.count_only:
        return []
    analytics_settings = analytics_settings_of(settings)
    analysis = window_analysis(
        settings, analytics_settings, now - RECENT, now, Filters(sites=tuple(chosen)), complete=True
    )
    rows = []
    for name in chosen:
        inside, _ = live_occupancy(analysis.for_site(name), now)
        limit = settings.site(name).capacity or 0
        rows.append({"site": name, "inside": inside, "capacity": limit, "share": round(inside / limit, 3),
                     "over": inside >= limit})  # fmt: skip
    return rows


def status(settings: Settings, silent_after: timedelta, now: datetime, sites: tuple[str, ...] = ()) -> dict:
    """The operator's answer in one dict: each AP with its silence, each site's capacity, quarantine of the last
    day, data summary. `sites` narrows the APs and capacities to those sites (empty: all)."""
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    aps = []
    retired = retired_aps(engine)
    reports = ap_reports(engine)
    for row in reports:
        quiet = now - row["last_report_at"]
        ap = settings.access_points.get(row["ap_mac"])
        aps.append(
            {
                "ap_mac": row["ap_mac"],
                "name": ap.name if ap else None,
                "vendor": row["vendor"],
                "site": row["site"],
                "last_report_at": row["last_report_at"].isoformat().replace("+00:00", "Z"),
                "silent_for_seconds": round(quiet.total_seconds()),
                "silent": quiet > silent_after and row["ap_mac"] not in retired,
                "retired": row["ap_mac"] in retired,
                "reports": row["reports"],
                "records": row["records"],
            }
        )
    reported = {row["ap_mac"] for row in reports}
    for mac, ap in sorted(settings.access_points.items()):
        if mac not in reported:  # expected, as every configured AP is, but never heard from
            aps.append(
                {
                    "ap_mac": mac,
                    "name": ap.name,
                    "vendor": None,
                    "site": ap.site,
                    "last_report_at": None,
                    "silent_for_seconds": None,
                    "silent": mac not in retired,
                    "retired": mac in retired,
                    "reports": 0,
                    "records": 0,
                }
            )
    if sites:
        aps = [ap for ap in aps if ap["site"] in sites]
    refused = [row for row in quarantine.entries(engine) if row["received_at"] > now - timedelta(days=1)]
    summary = observation_summary(engine)
    newest = summary["newest_last_seen"]
    newest_count = count_span(engine)[1] if settings.count_only else None
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "count_only": settings.count_only,
        "observations": summary["observations_approx"],
        "newest_observation": newest.isoformat().replace("+00:00", "Z") if newest else None,
        "newest_count_minute": newest_count.isoformat().replace("+00:00", "Z") if newest_count else None,
        "aps": aps,
        "silent_aps": sum(ap["silent"] for ap in aps),
        "capacity": (sites_full := capacity(settings, now, sites)),
        "over_capacity": sum(row["over"] for row in sites_full),
        "quarantined_last_24h": len(refused),
    }


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        sites = sites_from(args, settings)
    except UnknownFilter as exc:
        print(f"presence status: {exc}", file=sys.stderr)
        return 2
    report = status(settings, timedelta(minutes=args.silent_after), datetime.now(UTC), sites)
    alarm = 1 if report["silent_aps"] or report["over_capacity"] else 0
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return alarm
    if report["count_only"]:
        newest = report["newest_count_minute"] or "-"
        print(f"database: {report['database']}, count-only mode (no device identifiers), newest count {newest}")
    else:
        newest = report["newest_observation"] or "-"
        print(f"database: {report['database']}, about {report['observations']:,} observations, newest {newest}")
    if not report["aps"]:
        print("no AP has reported yet: point EnGenius, Aerohive or Meraki at /ingest/<vendor> (see README)")
    for ap in report["aps"]:
        if ap["last_report_at"] is None:
            state = "retired" if ap["retired"] else "SILENT: configured, never reported"
            print(f"  {ap['ap_mac']}  {(ap['name'] or '-'):<16} {'-':<9} no report yet  {state}")
            continue
        state = (
            "retired"
            if ap["retired"]
            else f"SILENT for {_duration(ap['silent_for_seconds'])}"
            if ap["silent"]
            else "reporting"
        )
        print(
            f"  {ap['ap_mac']}  {(ap['name'] or '-'):<16} {ap['vendor']:<9} last report "
            f"{_duration(ap['silent_for_seconds'])} ago  {ap['reports']:>8,} reports  {state}"
        )
    for row in report["capacity"]:
        state = "OVER CAPACITY" if row["over"] else "within capacity"
        print(f"  {row['site']}: {row['inside']} inside of {row['capacity']} ({row['share']:.0%})  {state}")
    print(f"quarantined (refused after authentication) in the last 24 h: {report['quarantined_last_24h']}"
          + ("  -> presence quarantine list" if report["quarantined_last_24h"] else ""))  # fmt: skip
    return alarm
