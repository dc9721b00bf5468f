"""The whole analysis of a window, and the report dict built from it (what the CLI prints and the dashboard shows).

`analyse` runs the pipeline once: observations -> visits -> zones -> filters -> classification.
`analyse_visits` does the same from stored visits (store.visits keeps them up to date; store.frames
loads them, applying the same filters in SQL), which is what `presence report` uses for every filter; `analyse`
is kept as the cross-check (`--naive`) and for the live panel.
Everything else here reads an `Analysis`; the dashboard calls the same functions for its KPIs and charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from analytics import occupancy, zones
from analytics.classify import PARTY, capture_rate, classify_visits, devices, qualifying
from analytics.clocks import Clock, Clocks
from analytics.dwell import dwell_buckets, dwell_stats
from analytics.filters import Filters, filter_visits
from analytics.loyalty import LOYALTY_CATEGORIES, loyalty, new_visitors, repeat_visitors
from analytics.schema import STORED_VISIT_DTYPES, TIME_DTYPE, DeviceCounts, typed_observations
from analytics.settings import AnalyticsSettings
from analytics.visits import VISIT_COLUMNS, label_visits, local_day, visits


@dataclass(frozen=True)
class Analysis:
    """A window's visits, classified and placed, with what produced them.

    visits: every visit started in the loaded range (history included), with the columns of `visits.visits`
    plus zone, last_zone, x, y (NaN outside the window unless a zone filter needed them), qualifying, staff,
    category and in_window. periods: the zone of each fingerprint period of those visits.

    From stored visits (`analyse_visits`) periods is empty and `moves` holds each visit's zone moves instead
    (None when they were not loaded); with `device_counts`, `visits` holds only what the report needs (the
    window's qualifying visits, staff candidates' visits and the qualifying history of the window's devices)
    and passersby are counted from `device_counts` rather than listed.
    """

    window_start: pd.Timestamp
    window_end: pd.Timestamp
    tz: tzinfo
    settings: AnalyticsSettings
    filters: Filters
    visits: pd.DataFrame
    periods: pd.DataFrame
    zone_model: zones.ZoneModel = field(repr=False)
    device_counts: DeviceCounts | None = None
    moves: pd.DataFrame | None = field(default=None, repr=False)
    # Sites that keep their own days (analytics.clocks): the window is then the site days `dates` (first, last)
    # of each visit's site, and window_start/window_end only the UTC span that holds them all.
    clocks: Clocks | None = None
    dates: tuple[date, date] | None = None
    site_counts: Mapping[str, DeviceCounts] | None = field(default=None, repr=False)  # per site, with device_counts

    @property
    def window_visits(self) -> pd.DataFrame:
        """Visits that started in the window, of every category."""
        return self.visits.loc[self.visits["in_window"]]

    @property
    def visitor_visits(self) -> pd.DataFrame:
        """Qualifying visits of visitors (not staff) that started in the window: what dwell and zones count."""
        window = self.window_visits
        return window.loc[window["qualifying"] & ~window["staff"]]

    @property
    def days(self) -> pd.DatetimeIndex:
        """The site-local days of the window, as naive midnights."""
        if self.dates is not None:
            return pd.date_range(pd.Timestamp(self.dates[0]), pd.Timestamp(self.dates[1]), freq="D")
        first = pd.Timestamp(self.window_start).tz_convert(self.tz).tz_localize(None).normalize()
        last = (pd.Timestamp(self.window_end) - pd.Timedelta(1, "ns")).tz_convert(self.tz).tz_localize(None)
        return pd.date_range(first, last.normalize(), freq="D")

    def clock_groups(self, visits: pd.DataFrame) -> list[tuple[Clock, pd.DataFrame, pd.Timestamp, pd.Timestamp]]:
        """`visits` split by their site's clock, each with that clock's UTC window: one group (this analysis's
        time zone and window) unless the sites keep days of their own."""
        if self.clocks is None or self.dates is None:
            return [(Clock(str(self.tz)), visits, self.window_start, self.window_end)]
        groups = []
        for clock, sites in self.clocks.by_clock(visits["site"].unique()).items():
            low, high = clock.bounds(*self.dates)
            groups.append((clock, visits.loc[visits["site"].isin(sites)], pd.Timestamp(low), pd.Timestamp(high)))
        return groups or [(self.clocks.default, visits, self.window_start, self.window_end)]

    def row_bounds(self, visits: pd.DataFrame) -> tuple[pd.Timestamp | pd.Series, pd.Timestamp | pd.Series]:
        """The window's start and end for each of `visits`: one pair, or Series aligned with the visits when
        the sites keep days of their own."""
        if self.clocks is None or self.dates is None:
            return self.window_start, self.window_end
        return self.clocks.window_bounds(visits["site"], *self.dates)

    def sites(self) -> list[str]:
        """The sites with a visit in the window (or counted there), sorted."""
        names = set(self.window_visits["site"].unique())
        if self.site_counts is not None:
            names |= {site for site, counts in self.site_counts.items() if counts.devices}
        return sorted(names)

    def site_window(self, site: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The UTC window of `site`'s own days when the sites keep days of their own, else the analysis's."""
        if self.clocks is None or self.dates is None:
            return self.window_start, self.window_end
        low, high = self.clocks.clock(site).bounds(*self.dates)
        return pd.Timestamp(low), pd.Timestamp(high)

    def for_site(self, site: str) -> Analysis:
        """This analysis narrowed to one site (its visits, moves and zone periods), with that site's device
        counts (`site_counts`, which store.frames counts when asked) and its own time zone."""
        device_counts = None
        if self.device_counts is not None:
            if self.site_counts is None:
                raise ValueError("a per-site analysis of counted passersby needs the sites' counts (per_site)")
            empty = DeviceCounts(0, 0, pd.Series(0, index=self.days, dtype="int64"))
            device_counts = self.site_counts.get(site, empty)
        keep = self.visits["site"] == site
        visits = self.visits.loc[keep].reset_index(drop=True)
        ids = set(visits["visit"])
        moves = self.moves.loc[self.moves["visit"].isin(ids)] if self.moves is not None else None
        periods = self.periods.loc[self.periods["visit"].isin(ids)]
        tz = self.clocks.clock(site).tz if self.clocks is not None else self.tz
        start, end = self.site_window(site)
        return replace(
            self,
            visits=visits,
            periods=periods,
            moves=moves,
            device_counts=device_counts,
            site_counts=None,
            tz=tz,
            window_start=start,
            window_end=end,
            filters=replace(self.filters, sites=(site,)),
        )


def analyse(
    observations: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
    settings: AnalyticsSettings | None = None,
    filters: Filters | None = None,
    tz: tzinfo = UTC,
    access_points: Mapping[str, zones.NamedAccessPoint] | None = None,
    clocks: Clocks | None = None,
    dates: tuple[date, date] | None = None,
) -> Analysis:
    """Run the pipeline on `observations` for the window [window_start, window_end) (aware datetimes).

    With `clocks` and `dates` the window is each site's own days `dates` (analytics.clocks) and window_start /
    window_end must span them all (Clocks.envelope).

    Pass observations from `settings.history` before window_start to `settings.visit_lookahead` after window_end
    (store.frames loads exactly that); others are ignored. Visits count in the window when they start in it,
    and keep their whole length up to the look-ahead. The zone model is fitted on the window's observations before any
    filter, so a filter never renames zones.
    """
    settings = settings or AnalyticsSettings()
    filters = filters or Filters()
    start, end = pd.Timestamp(window_start), pd.Timestamp(window_end)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    frame = typed_observations(observations)
    horizon = end + pd.Timedelta(settings.visit_lookahead)
    frame = frame.loc[(frame["first_seen"] < horizon) & (frame["last_seen"] >= start - pd.Timedelta(settings.history))]
    model = zones.fit_zones(
        _visitor_observations(frame.loc[frame["last_seen"] >= start], settings), access_points, settings
    )

    labelled = label_visits(frame, settings.visit_gap)
    found = visits(labelled, tz, settings)
    if clocks is not None:
        found["day"] = clocks.days_of(found["site"], found["first_seen"])
    # Zones are only needed for window visits, unless a zone filter must judge the history's visits too.
    placed = found["first_seen"] >= start if not filters.zone else pd.Series(True, index=found.index)
    placed_labelled = labelled.loc[labelled["visit"].isin(found.loc[placed, "visit"])]
    periods = zones.period_zones(placed_labelled, model, settings)
    found = found.join(zones.visit_zones(periods, settings.visit_gap), on="visit").join(
        zones.visit_positions(placed_labelled, access_points), on="visit"
    )
    found = _open_hours(filter_visits(found, filters), filters, clocks, tz)
    analysis = Analysis(start, end, tz, settings, filters, found, periods, model, clocks=clocks, dates=dates)
    classified = classify_visits(found, *analysis.row_bounds(found), settings)
    periods = periods.loc[periods["visit"].isin(classified["visit"])].reset_index(drop=True)
    return replace(analysis, visits=classified, periods=periods)


def _open_hours(visits: pd.DataFrame, filters: Filters, clocks: Clocks | None, tz: tzinfo) -> pd.DataFrame:
    """The visits that started within their site's opening hours, when the filter asks for it."""
    if not filters.open_hours:
        return visits
    clocks = clocks or Clocks(Clock(str(tz)))
    return visits.loc[clocks.open_at(visits["site"], visits["first_seen"]).to_numpy()].reset_index(drop=True)


def _visitor_observations(observations: pd.DataFrame, settings: AnalyticsSettings) -> pd.DataFrame:
    """The observations of qualifying visits: where visitors spend time, the places zones are fitted to (street
    traffic outnumbers visitors ten to one and would otherwise claim clusters of its own)."""
    labelled = label_visits(observations, settings.visit_gap)
    found = visits(labelled, UTC, settings)
    keep = found.loc[qualifying(found, settings), "visit"]
    chosen = labelled.loc[labelled["visit"].isin(keep)]
    return chosen if len(chosen) else observations


def analyse_visits(
    stored: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
    settings: AnalyticsSettings | None = None,
    filters: Filters | None = None,
    tz: tzinfo = UTC,
    device_counts: DeviceCounts | None = None,
    moves: pd.DataFrame | None = None,
    clocks: Clocks | None = None,
    dates: tuple[date, date] | None = None,
) -> Analysis:
    """`analyse` from stored visits (store.frames.load_visits): the same Analysis, without the observations.

    Stored visits are whole: they are not cut at the history's start or the look-ahead's end as visits made
    from a window's observations are, which changes nothing unless a visit spans one of those moments. Zones
    come from each site's stored zone model. Every filter applies (the stored visits carry their SSIDs and APs);
    `device_counts` must have been counted with the same filters (store.frames.load_visits counts them so).
    """
    settings = settings or AnalyticsSettings()
    filters = filters or Filters()
    start, end = pd.Timestamp(window_start), pd.Timestamp(window_end)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    columns = [name for name in STORED_VISIT_DTYPES if name not in ("previous_first_seen", "dwell_seconds")]
    found = stored.loc[:, columns].astype(
        {name: dtype for name, dtype in STORED_VISIT_DTYPES.items() if name in columns and dtype != "str"}
    )
    found = found.sort_values(["site", "device", "first_seen"], kind="stable")
    seconds = stored["dwell_seconds"].reindex(found.index) if "dwell_seconds" in stored else None
    found = found.reset_index(drop=True)
    found["dwell"] = stored_dwell(found, None if seconds is None else seconds.to_numpy(dtype="float64"))
    found["dwell_minutes"] = found["dwell"].dt.total_seconds() / 60
    if clocks is None:
        found["day"] = local_day(found["first_seen"], tz)
    else:
        found["day"] = clocks.days_of(found["site"], found["first_seen"])
    found = filter_visits(found.loc[:, [*VISIT_COLUMNS, "zone", "last_zone", "x", "y"]], filters)
    found = _open_hours(found, filters, clocks, tz)
    periods = pd.DataFrame(
        {"visit": pd.Series(dtype="int64"), "period": pd.Series(dtype=TIME_DTYPE), "zone": pd.Series(dtype="str")}
    )
    analysis = Analysis(
        start, end, tz, settings, filters, found, periods, zones.ZoneModel({}), device_counts, None, clocks, dates
    )
    classified = classify_visits(found, *analysis.row_bounds(found), settings)
    if moves is not None:
        moves = moves.loc[moves["visit"].isin(classified["visit"])].reset_index(drop=True)
    return replace(analysis, visits=classified, moves=moves)


def stored_dwell(found: pd.DataFrame, dwell_seconds: np.ndarray | None) -> pd.Series:
    """Stored visits' dwell: their `dwell_seconds` (the measure they were built with, store.visits), to the
    microsecond as the observation pipeline gives it; the span where it was not loaded."""
    span = found["last_seen"] - found["first_seen"]
    if dwell_seconds is None:
        return span
    stored = pd.Series(_to_microsecond(dwell_seconds), index=found.index)
    return stored.where(~np.isnan(dwell_seconds), span)


def stored_dwell_minutes(dwell_seconds: np.ndarray) -> np.ndarray:
    """Stored visits' `dwell_seconds` in minutes, exactly as `analyse_visits` makes their dwell_minutes (the
    figures store.site_figures counts in the database take their median)."""
    return _to_microsecond(dwell_seconds).total_seconds().to_numpy() / 60


def _to_microsecond(dwell_seconds: np.ndarray) -> pd.TimedeltaIndex:
    return pd.to_timedelta(np.round(dwell_seconds * 1e6), unit="us")


def build_visit_report(
    stored: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
    settings: AnalyticsSettings | None = None,
    filters: Filters | None = None,
    tz: tzinfo = UTC,
    device_counts: DeviceCounts | None = None,
) -> dict[str, Any]:
    """`build_report` from stored visits (see `analyse_visits`)."""
    return report(analyse_visits(stored, window_start, window_end, settings, filters, tz, device_counts))


def daily_series(analysis: Analysis) -> pd.DataFrame:
    """One row per site-local day of the window: date, visitors, passersby, connected, staff, visits,
    median_dwell_minutes and peak_occupancy. Each day classifies its own visits: a device that passed by on
    Monday and came in on Tuesday is a passerby on Monday and a visitor on Tuesday."""
    window = analysis.window_visits
    flags = window.assign(
        visitor_visit=window["qualifying"] & ~window["staff"],
        connected_visit=window["qualifying"] & ~window["staff"] & window["associated"],
    )
    per_device = flags.groupby(["day", *PARTY], sort=True).agg(
        staff=("staff", "max"), visitor=("visitor_visit", "max"), connected=("connected_visit", "max")
    )
    staff, visitor = per_device["staff"].astype(bool), per_device["visitor"].astype(bool)
    day_level = per_device.index.get_level_values("day")
    counts = pd.DataFrame(
        {
            "visitors": (visitor & ~staff).groupby(day_level).sum(),
            "passersby": (~visitor & ~staff).groupby(day_level).sum(),
            "connected": per_device["connected"].astype(bool).groupby(day_level).sum(),
            "staff": staff.groupby(day_level).sum(),
        }
    )
    days = analysis.days
    result = counts.reindex(days, fill_value=0).astype("int64")
    if analysis.device_counts is not None:
        seen = analysis.device_counts.daily.reindex(days, fill_value=0).astype("int64")
        result["passersby"] = seen - result["visitors"] - result["staff"]
    visitor_visits = analysis.visitor_visits
    result["visits"] = visitor_visits.groupby("day").size().reindex(days, fill_value=0).astype("int64")
    result["median_dwell_minutes"] = visitor_visits.groupby("day")["dwell_minutes"].median().reindex(days)
    peaks = [
        occupancy.daily_peaks(group, days, clock.tz, clock.day_start)
        for clock, group, _, _ in analysis.clock_groups(visitor_visits)
    ]
    # Sites in several time zones: each site's peak within its own day, added up (an upper bound of the most
    # people inside them all at once, as their peaks need not coincide; docs/analytics.md).
    result["peak_occupancy"] = pd.concat(peaks, axis=1).sum(axis=1).astype("int64") if len(peaks) > 1 else peaks[0]
    result.index.name = "date"
    return result.reset_index()


def hour_of_week(analysis: Analysis) -> pd.DataFrame:
    """Mean occupancy (visitors inside, sampled every 15 minutes) per site-local weekday (rows) and hour
    (columns) over the window."""
    parts = [
        occupancy.hour_of_week(group, low, high, clock.tz)
        for clock, group, low, high in analysis.clock_groups(analysis.visitor_visits)
    ]
    return sum(parts[1:], start=parts[0])


def occupancy_series(analysis: Analysis, freq: str = "15min") -> pd.Series:
    """Visitors inside every `freq` over the window, indexed by site-local time."""
    return occupancy.occupancy_series(
        analysis.visitor_visits, analysis.window_start, analysis.window_end, analysis.tz, freq
    )


def zone_stats(analysis: Analysis) -> pd.DataFrame:
    """Per zone: visitors, visits and median dwell of the window's visitor visits."""
    return zones.zone_stats(analysis.visitor_visits)


def zone_transitions(analysis: Analysis) -> pd.DataFrame:
    """Moves between zones (rows: from, columns: to) during the window's visitor visits."""
    if analysis.moves is not None:
        visitor_visits = analysis.visitor_visits
        moves = analysis.moves.loc[analysis.moves["visit"].isin(visitor_visits["visit"])]
        names = set(visitor_visits["zone"].dropna()) | set(moves["from"]) | set(moves["to"])
        return zones.moves_matrix(moves, sorted(names))
    periods = analysis.periods
    return zones.zone_transitions(periods.loc[periods["visit"].isin(analysis.visitor_visits["visit"])])


def live_occupancy(analysis: Analysis, now: datetime) -> tuple[int, pd.Series]:
    """Visitors heard within `live_window` before `now`, in total and per zone (analyse up to `now` first)."""
    return occupancy.live_occupancy(analysis.visitor_visits, now, analysis.settings.live_window)


def device_table(analysis: Analysis) -> pd.DataFrame:
    """One row per (site, device) seen in the window: category, connected, randomized, visits, first_seen.

    With `device_counts` (stored visits loaded for a report) passersby are counted, not loaded, so this lists
    visitors and staff only.
    """
    return devices(analysis.window_visits)


VISIT_EXPORT_COLUMNS = (
    "device",
    "first_seen",
    "last_seen",
    "dwell_minutes",
    "max_rssi",
    "category",
    "associated",
    "ssid",
    "manufacturer",
    "randomized",
    "zone",
)


def visit_table(analysis: Analysis) -> pd.DataFrame:
    """One row per visit started in the window, in time order, with VISIT_EXPORT_COLUMNS (dwell rounded to
    0.01 min). category is staff for a staff device's visit, visitor for a qualifying visit, else passerby."""
    window = analysis.window_visits.sort_values(["first_seen", "site", "device"], kind="stable")
    table = window.loc[:, list(VISIT_EXPORT_COLUMNS)].reset_index(drop=True)
    table["dwell_minutes"] = table["dwell_minutes"].round(2)
    return table


def build_report(
    observations: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
    settings: AnalyticsSettings | None = None,
    filters: Filters | None = None,
    tz: tzinfo = UTC,
    access_points: Mapping[str, zones.NamedAccessPoint] | None = None,
) -> dict[str, Any]:
    """The report of a window as plain JSON-ready values (see docs/analytics.md for every key)."""
    return report(analyse(observations, window_start, window_end, settings, filters, tz, access_points))


def site_reports(analysis: Analysis) -> list[dict[str, Any]]:
    """The report of each site in the analysis (Analysis.sites), each with its `site` name first."""
    return [{"site": site, **report(analysis.for_site(site))} for site in analysis.sites()]


def report(analysis: Analysis) -> dict[str, Any]:
    """The report dict of an `Analysis`."""
    settings = analysis.settings
    table = device_table(analysis)
    category = table["category"]
    visitors, passersby = int((category == "visitor").sum()), int((category == "passerby").sum())
    staff = int((category == "staff").sum())
    visitor_index = table.index[(category == "visitor").to_numpy()]
    visitor_visits = analysis.visitor_visits
    seen = table.loc[category.isin(["visitor", "passerby"])]
    randomized_share = float(seen["randomized"].mean()) if len(seen) else None
    if analysis.device_counts is not None:
        # Passersby are every device seen that is neither visitor nor staff; randomized MACs likewise.
        passersby = analysis.device_counts.devices - visitors - staff
        randomized = analysis.device_counts.randomized - int(table.loc[category == "staff", "randomized"].sum())
        randomized_share = randomized / (visitors + passersby) if visitors + passersby else None
    days = analysis.days
    loyal = loyalty(analysis.visits, analysis.window_end, analysis.tz, settings, days[-1] if len(days) else None)
    loyal = loyal.reindex(visitor_index, fill_value="occasional")
    peak, peak_at = occupancy.peak_occupancy(visitor_visits)
    daily = daily_series(analysis)
    return {
        "from": analysis.days[0].date().isoformat() if len(analysis.days) else None,
        "to": analysis.days[-1].date().isoformat() if len(analysis.days) else None,
        "filters": analysis.filters.as_dict(),
        "visitors": visitors,
        "passersby": passersby,
        "connected": int((table["connected"] & (category == "visitor")).sum()),
        "staff": staff,
        "visits": len(visitor_visits),
        "capture_rate": _rounded(capture_rate(visitors, passersby), 4),
        "repeat_visitors": len(repeat_visitors(visitor_visits, settings)),
        "new_visitors": len(new_visitors(analysis.visits, *analysis.row_bounds(analysis.visits), settings)),
        "randomized_share": _rounded(randomized_share, 4),
        "dwell_minutes": {
            key: _rounded(value, 2) for key, value in dwell_stats(visitor_visits["dwell_minutes"]).items()
        },
        "dwell_buckets": dwell_buckets(visitor_visits["dwell_minutes"], settings.dwell_bucket_edges_minutes),
        "loyalty": {name: int((loyal == name).sum()) for name in LOYALTY_CATEGORIES},
        "peak_occupancy": {"count": peak, "at": _local_iso(_whole_second(peak_at), analysis.tz)},
        "zones": [
            {
                "zone": str(row.zone),
                "visitors": int(row.visitors),
                "visits": int(row.visits),
                "median_dwell_minutes": _rounded(float(row.median_dwell_minutes), 2),
            }
            for row in zone_stats(analysis).itertuples(index=False)
        ],
        "daily": [
            {
                "date": row.date.date().isoformat(),
                "visitors": int(row.visitors),
                "passersby": int(row.passersby),
                "connected": int(row.connected),
                "median_dwell_minutes": _rounded(float(row.median_dwell_minutes), 2),
                "peak_occupancy": int(row.peak_occupancy),
            }
            for row in daily.itertuples(index=False)
        ],
    }


def _rounded(value: float | None, digits: int) -> float | None:
    if value is None or np.isnan(value):
        return None
    return round(float(value), digits)


def _whole_second(moment: pd.Timestamp | None) -> pd.Timestamp | None:
    """The first whole second from `moment`: with the estimated stay a visit's arrival is an estimate to the
    microsecond, which a report of when the shop was fullest should not pretend to know."""
    return None if moment is None else moment.ceil("s")


def _local_iso(moment: pd.Timestamp | None, tz: tzinfo) -> str | None:
    return None if moment is None else moment.tz_convert(tz).isoformat()


__all__ = [
    "Analysis",
    "analyse",
    "analyse_visits",
    "build_report",
    "build_visit_report",
    "daily_series",
    "device_table",
    "hour_of_week",
    "live_occupancy",
    "local_day",
    "occupancy_series",
    "report",
    "site_reports",
    "visit_table",
    "zone_stats",
    "zone_transitions",
]
