"""The report filters on the command line (`presence report`, `presence export visits`), checked against the data.

Every filter keeps whole visits (analytics.filters, docs/analytics.md). An AP is given by MAC or by its configured
name; an AP or zone that names nothing known is refused with the known names (exit 2) instead of giving an empty
report.
"""

from __future__ import annotations

import argparse

from analytics.filters import Filters
from config.settings import Settings
from devices.macs import normalize_mac
from store import db
from store.queries import ap_reports, zone_names
from store.sites import UnknownSite, known_sites, resolve_sites


class UnknownFilter(ValueError):
    """A filter value that matches nothing known; the message lists what is known."""


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ssid", help="only the visits during which the device was heard on an SSID containing this (case-insensitive)"
    )
    parser.add_argument(
        "--manufacturer",
        help="only the visits of devices whose manufacturer (short name, e.g. Apple) contains this (case-insensitive)",
    )
    parser.add_argument("--ap", help="only the visits heard by this AP: its MAC or its configured name")
    parser.add_argument("--zone", help="only the visits that spent most of their time in this zone")
    parser.add_argument("--exclude-randomized", action="store_true", help="leave out randomized (private) MACs")
    add_site_arguments(parser)
    parser.add_argument(
        "--open-hours",
        action="store_true",
        help="only the visits that started within their site's opening hours ([[sites]] hours)",
    )


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site",
        dest="sites",
        action="append",
        default=[],
        metavar="NAME",
        help="only this site (repeatable; default: every site)",
    )
    parser.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="NAME",
        help="only the sites of this group ([[sites]] group; repeatable)",
    )


def sites_from(args: argparse.Namespace, settings: Settings) -> tuple[str, ...]:
    """The sites `--site` and `--group` name (empty: every site); raises UnknownFilter for a name nobody knows."""
    if not args.sites and not args.groups:
        return ()
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        known = known_sites(engine, settings)
    finally:
        engine.dispose()
    try:
        return resolve_sites(known, settings.groups(), args.sites, args.groups)
    except UnknownSite as exc:
        raise UnknownFilter(str(exc)) from exc


def filters_from(args: argparse.Namespace, settings: Settings) -> Filters:
    """The Filters the arguments ask for, with an AP name resolved to its MAC; raises UnknownFilter."""
    return Filters(
        ssid=args.ssid or None,
        manufacturer=args.manufacturer or None,
        ap=resolve_ap(args.ap, settings) if args.ap else None,
        zone=check_zone(args.zone, settings) if args.zone else None,
        exclude_randomized=args.exclude_randomized,
        sites=sites_from(args, settings),
        open_hours=args.open_hours,
    )


def resolve_ap(value: str, settings: Settings) -> str:
    """An AP's MAC from its MAC (any spelling) or its configured name (case-insensitive)."""
    by_name = {ap.name.casefold(): ap.mac for ap in settings.access_points.values()}
    if value.casefold() in by_name:
        return by_name[value.casefold()]
    try:
        mac = normalize_mac(value)
    except ValueError:
        mac = None
    known = _known_aps(settings)
    if mac is not None and mac in known:
        return mac
    listed = ", ".join(f"{name} ({mac})" if name != mac else mac for mac, name in sorted(known.items())) or "none yet"
    raise UnknownFilter(f"--ap {value!r} is no known AP; known APs: {listed}")


def check_zone(value: str, settings: Settings) -> str:
    """The zone as given, if a stored visit was placed in it (case-insensitive) or an AP is named so."""
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        zones = set(zone_names(engine))
    finally:
        engine.dispose()
    zones |= {ap.name for ap in settings.access_points.values()}
    if value.casefold() in {zone.casefold() for zone in zones}:
        return value
    raise UnknownFilter(f"--zone {value!r} is no known zone; known zones: {', '.join(sorted(zones)) or 'none yet'}")


def _known_aps(settings: Settings) -> dict[str, str]:
    """MAC -> display name of every configured AP and every AP that has reported."""
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        reported = {report["ap_mac"] for report in ap_reports(engine)}
    finally:
        engine.dispose()
    names = {ap.mac: ap.name for ap in settings.access_points.values()}
    return {mac: names.get(mac, mac) for mac in sorted(reported | set(names))}
