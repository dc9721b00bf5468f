"""`presence aps [list] | retire MAC | unretire MAC`: the access points known, and taking gone ones off watch.

Known APs are those that have reported (ap_report), those listed under `[[aps]]` in the config, and those retired.
A retired AP is never reported silent, by `presence status` or the dashboard's Live page; it is still listed, and
whatever it sends is still stored. Every AP listed in the config is expected: one that never reported is silent.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from config.settings import Settings
from devices.macs import normalize_mac
from store import db
from store.queries import ap_reports, retire_ap, retired_aps, unretire_ap


def register(subcommands) -> None:
    parser = subcommands.add_parser("aps", help="list the access points; retire one that is gone (or unretire it)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=run_list)
    action = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = action.add_parser("list", help="every known AP: name, site, vendor, last report, records, retired")
    listing.add_argument("--format", choices=("text", "json"), default=argparse.SUPPRESS)
    listing.set_defaults(run=run_list)
    for name, run, what in (
        ("retire", run_retire, "stop reporting this AP silent (it is gone, or was only a test)"),
        ("unretire", run_unretire, "watch a retired AP again"),
    ):
        command = action.add_parser(name, help=what)
        command.add_argument("mac", help="the AP's MAC, in any spelling (colons, dashes, bare hex, dotted)")
        command.set_defaults(run=run)


def _engine(settings: Settings):
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    db.migrate(engine)
    return engine


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def known_aps(settings: Settings, engine) -> list[dict]:
    """Every known AP, sorted by site and name: what it is called, where, whether it reported and is retired."""
    reports = {row["ap_mac"]: row for row in ap_reports(engine)}
    retired = retired_aps(engine)
    aps = []
    for mac in sorted(set(reports) | set(settings.access_points) | set(retired)):
        row = reports.get(mac, {})
        configured = settings.access_points.get(mac)
        aps.append(
            {
                "ap_mac": mac,
                "name": configured.name if configured else None,
                "site": row.get("site") or settings.site_of(mac),
                "vendor": row.get("vendor"),
                "last_report_at": _time(row.get("last_report_at")),
                "reports": row.get("reports", 0),
                "records": row.get("records", 0),
                "configured": configured is not None,
                "retired": mac in retired,
                "retired_at": _time(retired.get(mac)),
            }
        )
    return sorted(aps, key=lambda ap: (ap["site"], ap["name"] or ap["ap_mac"], ap["ap_mac"]))


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = _engine(settings)
    aps = known_aps(settings, engine)
    engine.dispose()
    if args.format == "json":
        print(json.dumps(aps, indent=2))
        return 0
    if not aps:
        print("no AP known yet: none has reported and none is listed under [[aps]] in the config")
        return 0
    print(f"{'MAC':<17}  {'name':<16} {'site':<14} {'vendor':<9} {'last report (UTC)':<17} {'records':>9}  retired")
    for ap in aps:
        last = (ap["last_report_at"] or "never")[:16].replace("T", " ")
        print(
            f"{ap['ap_mac']:<17}  {(ap['name'] or '-'):<16} {ap['site']:<14} {(ap['vendor'] or '-'):<9} {last:<17} "
            f"{ap['records']:>9,}  {(ap['retired_at'] or '')[:10] or '-'}"
        )
    return 0


def _known_mac(args: argparse.Namespace, settings: Settings, engine) -> str | None:
    """The argument as a normalized MAC of a known AP, or None after saying on stderr which APs are known."""
    known = sorted(ap["ap_mac"] for ap in known_aps(settings, engine))
    try:
        mac = normalize_mac(args.mac)
    except ValueError:
        mac = None
    if mac in known:
        return mac
    what = "is not a MAC address" if mac is None else "is not a known AP"
    print(
        f"presence aps {args.action}: {args.mac} {what}; known APs: {', '.join(known) or 'none'}",
        file=sys.stderr,
    )
    return None


def run_retire(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = _engine(settings)
    mac = _known_mac(args, settings, engine)
    if mac is None:
        engine.dispose()
        return 2
    done = retire_ap(engine, mac, datetime.now(UTC))
    engine.dispose()
    print(f"{mac} retired: never reported silent again (presence aps unretire {mac} undoes it)" if done
          else f"{mac} was already retired")  # fmt: skip
    return 0


def run_unretire(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = _engine(settings)
    mac = _known_mac(args, settings, engine)
    if mac is None:
        engine.dispose()
        return 2
    done = unretire_ap(engine, mac)
    engine.dispose()
    print(f"{mac} is watched again" if done else f"{mac} was not retired")
    return 0
