"""Every site's headline figures side by side (the Sites page), as tallies that add up: site by site, then groups
and the total as their sums.

`report(analysis.for_site(site))` works out a whole report per site: loyalty, new visitors, dwell buckets, zones,
daily peaks. A table of sites shows six figures of each, and each of those adds up across sites, because a device
counts once per site in every figure: so a site's figures are a `SiteTally` (counts, visitors per day and the
dwell of each visitor visit), a group's tally the sum of its sites' and the total the sum of all. `table_of`
makes the table's rows from tallies; `analysis_tallies` takes them from an Analysis in one pass grouped by site, and
store.site_figures counts them in the database without loading the visits (the Sites page at a hundred sites).
Either way a site's figures are those of its own `presence report --site`, a group's those of `presence report
--group` and the total those of `report(analysis)` (tests/analytics/test_chain_report.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.classify import PARTY, capture_rate
from analytics.report import Analysis
from analytics.schema import DeviceCounts

# What the figures read of a visit: a narrow copy of the window's visits, not the analysis's every column.
COLUMNS = [*PARTY, "day", "dwell_minutes", "qualifying", "staff", "associated"]


@dataclass(frozen=True)
class SiteTally:
    """What a table of sites shows of some sites, in numbers that add up: devices seen, visitors, connected
    visitors, staff and repeat visitors (each a device counted once per site), visitors on each day of the
    table (every site's own local days: the same dates), and the dwell in minutes of every visitor visit (for
    the median). Sites' tallies sum to their group's (`total`); a tally without days counts none on each."""

    seen: int = 0
    visitors: int = 0
    connected: int = 0
    staff: int = 0
    repeat_visitors: int = 0
    daily: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    dwell_minutes: np.ndarray = field(default_factory=lambda: np.empty(0))

    @staticmethod
    def total(parts: Sequence[SiteTally]) -> SiteTally:
        """The sum of `parts` (a group of sites, all of them), each array joined once."""
        dailies = [part.daily for part in parts if len(part.daily)]
        return SiteTally(
            sum(part.seen for part in parts),
            sum(part.visitors for part in parts),
            sum(part.connected for part in parts),
            sum(part.staff for part in parts),
            sum(part.repeat_visitors for part in parts),
            np.sum(dailies, axis=0, dtype="int64") if dailies else np.zeros(0, dtype="int64"),
            np.concatenate([np.empty(0), *(part.dwell_minutes for part in parts)]),
        )

    def figures(self, days: pd.DatetimeIndex) -> dict[str, Any]:
        """The figures, keyed and rounded as analytics.report's report (dwell_minutes with its median only, daily
        with each day's visitors only), with a row for each of `days` (those of `daily`)."""
        passersby = self.seen - self.visitors - self.staff
        median = float(np.median(self.dwell_minutes)) if len(self.dwell_minutes) else None
        daily = self.daily if len(self.daily) else np.zeros(len(days), dtype="int64")
        return {
            "visitors": self.visitors,
            "passersby": passersby,
            "connected": self.connected,
            "staff": self.staff,
            "capture_rate": _rounded(capture_rate(self.visitors, passersby), 4),
            "repeat_visitors": self.repeat_visitors,
            "dwell_minutes": {"median": _rounded(median, 2)},
            "daily": [
                {"date": day.date().isoformat(), "visitors": int(count)} for day, count in zip(days, daily, strict=True)
            ],
        }


@dataclass(frozen=True)
class SiteTable:
    """The figures of each site, each group and all of them (SiteTally.figures)."""

    sites: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    total: dict[str, Any]


def table_of(
    tallies: Mapping[str, SiteTally],
    sites: Sequence[str],
    groups: Mapping[str, Sequence[str]] | None,
    days: pd.DatetimeIndex,
) -> SiteTable:
    """The figures of every site of `sites` (one without a tally: all zero), of every group of `groups` (name ->
    its sites among `sites`; a site in one group at most) as the sum of its sites, and of every tally together,
    each with a daily row for each of `days` (the tallies' days: every site's own local days, the same dates)."""
    nothing = SiteTally()

    def summed(names) -> SiteTally:
        return SiteTally.total([tallies.get(name, nothing) for name in names])

    return SiteTable(
        sites={site: tallies.get(site, nothing).figures(days) for site in sites},
        groups={group: summed(members).figures(days) for group, members in (groups or {}).items()},
        total=summed(tallies).figures(days),
    )


def site_table(
    analysis: Analysis, sites: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None
) -> SiteTable:
    """The figures of every site of `sites`, of every group of `groups` and of the whole analysis (`table_of`
    of `analysis_tallies`): a site's are those of `report(analysis.for_site(site))`, a group's those of `presence
    report --group` (a device counts once per site in every figure, the capture rate is that of the sums and the
    median dwell that of all its visitors' visits)."""
    return table_of(analysis_tallies(analysis, sites), sites, groups, analysis.days)


def analysis_tallies(analysis: Analysis, sites: Sequence[str] = ()) -> dict[str, SiteTally]:
    """The tally of every site with a visit in the analysis's window, and of each of `sites`, in one pass over
    its visits grouped by site.

    Devices seen come from the sites' device counts (`site_counts`, load_visits' per_site) when the analysis
    counted its passersby, else from its visits; one site alone may take the analysis's own counts, which are
    its."""
    window = _window(analysis)
    present = list(dict.fromkeys([*sorted(window["site"].unique()), *sites]))
    counts: Mapping[str, DeviceCounts] | None = None
    if analysis.device_counts is not None:
        if analysis.site_counts is not None:
            counts = analysis.site_counts
            present = list(dict.fromkeys([*present, *(site for site, part in counts.items() if part.devices)]))
        elif len(present) <= 1:
            counts = dict.fromkeys(present, analysis.device_counts)  # one site in scope: the total is its count
        else:
            raise ValueError("the figures of several sites with counted passersby need the sites' counts (per_site)")
    devices = None if counts is None else {site: part.devices for site, part in counts.items()}
    return _tallies(window, present, devices, analysis.days, analysis.settings.repeat_min_days)


def _window(analysis: Analysis) -> pd.DataFrame:
    """The columns the figures read of the window's visits (every category), with `party`: a number for each
    (site, device), as grouping on two columns of strings is several times slower."""
    visits = analysis.visits
    window = visits.loc[visits["in_window"].to_numpy(dtype=bool), COLUMNS]
    sites, devices = pd.factorize(window["site"])[0], pd.factorize(window["device"])[0]
    party = sites.astype("int64") * (int(devices.max()) + 1 if len(devices) else 1) + devices
    return window.assign(party=party)


def _tallies(
    window: pd.DataFrame,
    names: list[str],
    devices: Mapping[str, int] | None,
    days: pd.DatetimeIndex,
    repeat_min_days: int,
) -> dict[str, SiteTally]:
    """The tally of each of `names` from `window`'s visits (one without visits: zero). `devices`: each site's
    count of devices seen (None: count them from the visits)."""
    visitor_visit = (window["qualifying"] & ~window["staff"]).to_numpy(dtype=bool)
    codes, uniques = pd.factorize(window["site"])
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

    # The visitor visits (qualifying, not staff): repeat visitors, the dwell and each day's visitors.
    visits = pd.DataFrame(
        {
            "key": codes[visitor_visit],
            "party": window["party"].to_numpy()[visitor_visit],
            "day": window["day"].to_numpy()[visitor_visit],
            "dwell_minutes": window["dwell_minutes"].to_numpy(dtype="float64")[visitor_visit],
        }
    )
    visit_days = visits.groupby(["key", "party"], sort=False)["day"].nunique()
    repeat = (visit_days >= repeat_min_days).groupby(level="key").sum().to_dict()
    dwell = {key: part.to_numpy() for key, part in visits.groupby("key")["dwell_minutes"]}
    daily = visits.loc[:, ["key", "party", "day"]].drop_duplicates().groupby(["key", "day"]).size()
    per_day = {key: part.droplevel("key") for key, part in daily.groupby(level="key")}

    code_of = {name: code for code, name in enumerate(uniques)}
    nothing = dict.fromkeys(("visitors", "staff", "connected", "seen"), 0)
    result = {}
    for name in names:
        code = code_of.get(name, -1)
        row = totals.get(code, nothing)
        result[name] = SiteTally(
            seen=int(row["seen"]) if devices is None else devices.get(name, 0),
            visitors=int(row["visitors"]),
            connected=int(row["connected"]),
            staff=int(row["staff"]),
            repeat_visitors=int(repeat.get(code, 0)),
            daily=_daily(per_day.get(code), days),
            dwell_minutes=dwell.get(code, np.empty(0)),
        )
    return result


def _daily(per_day: pd.Series | None, days: pd.DatetimeIndex) -> np.ndarray:
    """Visitors on each of `days` (zero where none)."""
    if per_day is None:
        return np.zeros(len(days), dtype="int64")
    return per_day.set_axis(pd.DatetimeIndex(per_day.index)).reindex(days, fill_value=0).to_numpy(dtype="int64")


def _rounded(value: float | None, digits: int) -> float | None:
    """As analytics.report rounds its figures: None for no value."""
    if value is None or np.isnan(value):
        return None
    return round(float(value), digits)
