"""Every site's headline figures side by side (the Sites page), from one Analysis in one pass grouped by site.

`report(analysis.for_site(site))` works out a whole report per site: loyalty, new visitors, dwell buckets, zones,
daily peaks. A table of sites shows six figures of each, so `site_table` computes only those, of every site, every
group of sites and all of them at once, with groupby over the site (or its group): the same definitions on the same
classified visits, so a site's figures are those of its own `presence report --site`, a group's those of `presence
report --group` and the total those of `report(analysis)` (tests/analytics/test_chain_report.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analytics.classify import PARTY, capture_rate
from analytics.report import Analysis
from analytics.schema import DeviceCounts

# What the figures read of a visit: a narrow copy of the window's visits, not the analysis's every column.
COLUMNS = [*PARTY, "day", "dwell_minutes", "qualifying", "staff", "associated"]
ALL = "__all__"  # the key of every site together


@dataclass(frozen=True)
class SiteTable:
    """The figures of each site, each group and all of them: dicts keyed and rounded as analytics.report's
    report (visitors, passersby, connected, staff, capture_rate, repeat_visitors, dwell_minutes with its median
    only, daily with each day's visitors only)."""

    sites: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    total: dict[str, Any]


def site_table(
    analysis: Analysis, sites: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None
) -> SiteTable:
    """The figures of every site of `sites` (one without visits included, all zero), of every group of `groups`
    (name -> its sites among `sites`; a site in one group at most) and of the whole analysis.

    A site's are those of `report(analysis.for_site(site))`. A group's add its sites up, as `presence report
    --group` counts them: a device counts once per site in every figure, the capture rate is that of the sums and
    the median dwell that of all its visitors' visits. Passersby come from the sites' device counts (`site_counts`,
    load_visits' per_site) when the analysis counted them, else from its visits; one site alone may take the
    analysis's own counts, which are its."""
    groups = dict(groups or {})
    window = _window(analysis)
    counts: Mapping[str, DeviceCounts] | None = None
    if analysis.device_counts is not None:
        if analysis.site_counts is not None:
            counts = analysis.site_counts
        elif len(sites) == 1 and set(window["site"].unique()) <= set(sites):
            counts = {sites[0]: analysis.device_counts}  # one site in scope: the total is its count
        else:
            raise ValueError("the figures of several sites with counted passersby need the sites' counts (per_site)")
    devices = None if counts is None else {site: part.devices for site, part in counts.items()}
    site_days = {site: _site_days(analysis, site) for site in sites}
    per_site = _figures(window, window["site"], list(sites), devices, site_days, analysis)

    group_of = {site: group for group, members in groups.items() for site in members}
    group_devices = None
    if devices is not None:
        group_devices = {group: sum(devices.get(site, 0) for site in members) for group, members in groups.items()}
    group_days = {
        group: pd.DatetimeIndex(sorted(set().union(*(site_days.get(site, analysis.days) for site in members))))
        for group, members in groups.items()
    }
    in_group = window["site"].isin(list(group_of))
    grouped = window.loc[in_group.to_numpy()]
    per_group = _figures(grouped, grouped["site"].map(group_of), list(groups), group_devices, group_days, analysis)

    total_devices = None if analysis.device_counts is None else {ALL: analysis.device_counts.devices}
    every = pd.Series(ALL, index=window.index)
    total = _figures(window, every, [ALL], total_devices, {ALL: analysis.days}, analysis)[ALL]
    return SiteTable(per_site, per_group, total)


def _window(analysis: Analysis) -> pd.DataFrame:
    """The columns the figures read of the window's visits (every category), with `party`: a number for each
    (site, device), as grouping on two columns of strings is several times slower."""
    visits = analysis.visits
    window = visits.loc[visits["in_window"].to_numpy(dtype=bool), COLUMNS]
    sites, devices = pd.factorize(window["site"])[0], pd.factorize(window["device"])[0]
    party = sites.astype("int64") * (int(devices.max()) + 1 if len(devices) else 1) + devices
    return window.assign(party=party)


def _site_days(analysis: Analysis, site: str) -> pd.DatetimeIndex:
    """The days of `analysis.for_site(site)`: the analysis's, in the site's own time zone (without copying the
    visits as for_site does)."""
    if analysis.clocks is None:
        return analysis.days
    start, end = analysis.site_window(site)
    return replace(analysis, tz=analysis.clocks.clock(site).tz, window_start=start, window_end=end).days


def _figures(
    window: pd.DataFrame,
    keys: pd.Series,
    names: list[str],
    devices: Mapping[str, int] | None,
    days: Mapping[str, pd.DatetimeIndex],
    analysis: Analysis,
) -> dict[str, dict[str, Any]]:
    """The figures of `window`'s visits grouped by `keys` (aligned with them), for each of `names` (one without
    visits: zero). `devices`: each key's count of devices seen (None: count them from the visits)."""
    visitor_visit = (window["qualifying"] & ~window["staff"]).to_numpy(dtype=bool)
    codes, uniques = pd.factorize(keys)
    # One row per (site, device) of the window, as analytics.classify.devices makes its categories.
    flags = pd.DataFrame(
        {
            "key": codes,
            "party": window["party"].to_numpy(),
            "staff": window["staff"].to_numpy(dtype=bool),
            "visitor": visitor_visit,
            "connected": visitor_visit & window["associated"].to_numpy(dtype=bool),
        }
    )
    parties = flags.groupby(["key", "party"], sort=False).max()
    staff = parties["staff"]
    visitor = parties["visitor"] & ~staff
    key_level = parties.index.get_level_values("key")
    per_key = pd.DataFrame(
        {
            "visitors": visitor.groupby(key_level).sum(),
            "staff": staff.groupby(key_level).sum(),
            "connected": (parties["connected"] & visitor).groupby(key_level).sum(),
            "seen": staff.groupby(key_level).size(),
        }
    )
    totals = per_key.astype("int64").to_dict("index")

    # The visitor visits (qualifying, not staff): repeat visitors, the median dwell and each day's visitors.
    visits = pd.DataFrame(
        {
            "key": codes[visitor_visit],
            "party": window["party"].to_numpy()[visitor_visit],
            "day": window["day"].to_numpy()[visitor_visit],
            "dwell_minutes": window["dwell_minutes"].to_numpy(dtype="float64")[visitor_visit],
        }
    )
    visit_days = visits.groupby(["key", "party"], sort=False)["day"].nunique()
    repeat = (visit_days >= analysis.settings.repeat_min_days).groupby(level="key").sum().to_dict()
    medians = visits.groupby("key")["dwell_minutes"].median().to_dict()
    daily = visits.loc[:, ["key", "party", "day"]].drop_duplicates().groupby(["key", "day"]).size().to_dict()

    code_of = {name: code for code, name in enumerate(uniques)}
    nothing = dict.fromkeys(("visitors", "staff", "connected", "seen"), 0)
    result = {}
    for name in names:
        code = code_of.get(name, -1)
        row = totals.get(code, nothing)
        visitors, staff_count = int(row["visitors"]), int(row["staff"])
        seen = int(row["seen"]) if devices is None else devices.get(name, 0)
        passersby = seen - visitors - staff_count
        result[name] = {
            "visitors": visitors,
            "passersby": passersby,
            "connected": int(row["connected"]),
            "staff": staff_count,
            "capture_rate": _rounded(capture_rate(visitors, passersby), 4),
            "repeat_visitors": int(repeat.get(code, 0)),
            "dwell_minutes": {"median": _rounded(medians.get(code), 2)},
            "daily": [
                {"date": day.date().isoformat(), "visitors": int(daily.get((code, day), 0))} for day in days[name]
            ],
        }
    return result


def _rounded(value: float | None, digits: int) -> float | None:
    """As analytics.report rounds its figures: None for no value."""
    if value is None or np.isnan(value):
        return None
    return round(float(value), digits)
