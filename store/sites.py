"""Sites as the database and the config know them together: which exist, their clocks, what each is doing.

The config names sites (`[[sites]]` and the `site` of `[[aps]]`); the database holds the sites that have
reported (`ap_report`, one row per AP). A site can be in either: an AP not in the config reports under the
default site, and a configured site may not have reported yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, func, inspect, select

from analytics.clocks import Clock, Clocks
from config.settings import Settings
from config.sites import Site
from store.models import APReport, Observation


def clock_of(site: Site) -> Clock:
    """The analytics' clock of a configured site: time zone, day start and opening hours in minutes."""
    hours: tuple[tuple[int, int] | None, ...] = ()
    if site.has_hours:
        spans: list[tuple[int, int] | None] = []
        for day in range(7):
            day_hours = site.hours.get(day)
            if day_hours is None:
                spans.append(None)
                continue
            opens, closes = day_hours.span
            spans.append((int(opens.total_seconds() // 60), int(closes.total_seconds() // 60)))
        hours = tuple(spans)
    return Clock(site.timezone, site.day_offset, hours)


def clocks_of(settings: Settings) -> Clocks:
    """Every configured site's clock; a site not listed keeps the installation's time zone."""
    default = Clock(settings.site_timezone)
    return Clocks.of(default, {name: clock_of(site) for name, site in settings.sites.items()})


def reported_sites(engine: Engine) -> list[str]:
    """The sites whose APs have reported, from the receiver's record of each AP (small: one row per AP)."""
    if not inspect(engine).has_table(APReport.__tablename__):
        return []
    site = APReport.__table__.c.site  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(select(site).distinct().order_by(site))]


def known_sites(engine: Engine, settings: Settings) -> list[str]:
    """Every site the config names, then every other site that has reported, in that order."""
    return list(dict.fromkeys([*settings.site_names(), *reported_sites(engine)]))


class UnknownSite(ValueError):
    """A site or group name that neither the config nor the database knows; the message lists the known ones."""


def resolve_sites(
    known: list[str], groups: dict[str, list[str]], sites: Iterable[str], wanted_groups: Iterable[str]
) -> tuple[str, ...]:
    """The sites a `--site`/`--group` selection names, in the order known (empty: every site).

    A site name matches case-insensitively; an unknown site or group raises UnknownSite listing the known ones.
    """
    by_fold = {name.casefold(): name for name in known}
    chosen: list[str] = []
    for name in sites:
        if name.casefold() not in by_fold:
            raise UnknownSite(f"no site {name!r}; known sites: {', '.join(known) or 'none yet'}")
        chosen.append(by_fold[name.casefold()])
    group_fold = {name.casefold(): name for name in groups}
    for name in wanted_groups:
        if name.casefold() not in group_fold:
            raise UnknownSite(
                f"no group {name!r}; known groups: {', '.join(groups) or 'none (set group in [[sites]])'}"
            )
        chosen.extend(groups[group_fold[name.casefold()]])
    order = {name: index for index, name in enumerate(known)}
    return tuple(sorted(set(chosen), key=lambda name: order.get(name, len(order))))


def _no_activity() -> dict:
    return {"aps_reported": 0, "ap_macs": [], "last_report_at": None, "observations_today": 0}


def site_activity(engine: Engine, today_starts: dict[str, datetime]) -> dict[str, dict]:
    """Per site: how many of its APs reported (and which: `ap_macs`), when it last reported, and the observations
    stored since its own local day began (`today_starts`, per site; sites not listed are not counted)."""
    activity: dict[str, dict] = {}
    if not inspect(engine).has_table(APReport.__tablename__):
        return activity
    reports = APReport.__table__  # type: ignore[attr-defined]
    observations = Observation.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        query = select(reports.c.site, reports.c.ap_mac, reports.c.last_report_at).order_by(reports.c.ap_mac)
        for site, mac, last in connection.execute(query):  # a row per AP: a chain's few hundred
            entry = activity.setdefault(site, _no_activity())
            entry["ap_macs"].append(mac)
            entry["aps_reported"] = len(entry["ap_macs"])
            entry["last_report_at"] = last if entry["last_report_at"] is None else max(entry["last_report_at"], last)
        by_start: dict[datetime, list[str]] = {}
        for site, moment in today_starts.items():
            by_start.setdefault(moment, []).append(site)
        for moment, sites in by_start.items():
            counted = (
                select(observations.c.site, func.count())
                .where(observations.c.last_seen >= moment, observations.c.site.in_(sites))
                .group_by(observations.c.site)
            )
            for site, count in connection.execute(counted):
                entry = activity.setdefault(site, _no_activity())
                entry["observations_today"] = int(count)
    return activity
