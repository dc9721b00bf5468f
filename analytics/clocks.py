"""Site clocks: how each site tells its days apart, in its own time zone, from its own day boundary.

A chain's sites can sit in several time zones, and a venue open past midnight can start its day at 04:00 so
that the night counts to the evening before. Every day-based figure (daily rows, repeat days, loyalty, staff
days, hours of the week) uses the clock of the visit's site. A report over several sites adds up each site's
own local days: Monday is each site's Monday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Clock:
    """One site's day: its IANA time zone, how long after local midnight its day starts, and its opening hours.

    hours: per weekday (Monday first) the open span as minutes after that day's local midnight, (opens, closes)
    with closes > opens (past 1440 when it runs past midnight), or None when closed all day; an empty tuple
    means no hours are set, and every moment counts as open.
    """

    timezone: str = "UTC"
    day_start: timedelta = timedelta(0)
    hours: tuple[tuple[int, int] | None, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def days_of(self, times: pd.Series) -> pd.Series:
        """The site day each UTC time falls in, as naive midnight timestamps (DST-safe)."""
        local = times.dt.tz_convert(self.tz).dt.tz_localize(None)
        return (local - pd.Timedelta(self.day_start)).dt.normalize()

    def day_of(self, moment: datetime | pd.Timestamp) -> pd.Timestamp:
        """The site day of one aware moment, as a naive midnight."""
        local = pd.Timestamp(moment).tz_convert(self.tz).tz_localize(None)
        return (local - pd.Timedelta(self.day_start)).normalize()

    def starts(self, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """When each of `days` (naive midnights) begins, in UTC: local midnight plus day_start."""
        local = (days + pd.Timedelta(self.day_start)).tz_localize(self.tz, ambiguous=True, nonexistent="shift_forward")
        return local.tz_convert("UTC")

    def bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """The UTC instants [start, end) of the site days first..last."""
        after = last + timedelta(days=1)
        days = pd.DatetimeIndex([datetime.combine(first, time.min), datetime.combine(after, time.min)])
        start, end = self.starts(days)
        return start.to_pydatetime(), end.to_pydatetime()

    def open_at(self, times: pd.Series) -> pd.Series:
        """True where a UTC time falls within the opening hours: the local day's, or the day before's when those
        run past midnight. Always true without hours."""
        if not self.hours:
            return pd.Series(True, index=times.index)
        local = times.dt.tz_convert(self.tz).dt.tz_localize(None)
        minutes = (local - local.dt.normalize()).dt.total_seconds().to_numpy() / 60
        weekday = local.dt.day_of_week.to_numpy()
        opens = np.array([span[0] if span else 0 for span in self.hours], dtype="float64")
        closes = np.array([span[1] if span else 0 for span in self.hours], dtype="float64")
        today = (minutes >= opens[weekday]) & (minutes < closes[weekday])
        yesterday = (weekday - 1) % 7
        overnight = minutes + 1440 < closes[yesterday]
        return pd.Series(today | overnight, index=times.index)

    def open_spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The UTC spans [a, b) within [start, end) where `open_at` is true, for a query to select in SQL exactly
        the visits `open_at` keeps; [(start, end)] without hours.

        Opening hours are whole minutes and every time zone in use is offset from UTC by whole minutes, so
        `open_at` is constant within each UTC minute: it is evaluated once per minute and runs of open minutes
        become spans. That keeps one definition of "open" (the wall-clock test of `open_at`, whatever it gives
        in an hour that repeats or is skipped when the clocks change) rather than a second conversion of hours to
        instants that could disagree with it on a DST night."""
        if not self.hours:
            return [(start, end)]
        low, high = pd.Timestamp(start).floor("min"), pd.Timestamp(end).ceil("min")
        minutes = pd.date_range(low, high, freq="min", inclusive="left")
        is_open = self.open_at(pd.Series(minutes)).to_numpy()
        edges = np.flatnonzero(np.diff(np.concatenate(([False], is_open, [False])).astype("int8")))
        spans = []
        for first, after in zip(edges[::2], edges[1::2], strict=True):
            a = max(minutes[first], pd.Timestamp(start))
            b = min(minutes[after - 1] + pd.Timedelta(minutes=1), pd.Timestamp(end))
            if a < b:
                spans.append((a.to_pydatetime(), b.to_pydatetime()))
        return spans

    def window_days(self, start: datetime, end: datetime) -> pd.DatetimeIndex:
        """The site days that the UTC window [start, end) touches (naive midnights)."""
        first = self.day_of(start)
        last = self.day_of(pd.Timestamp(end) - pd.Timedelta(1, "ns"))
        return pd.date_range(first, last, freq="D")


@dataclass(frozen=True)
class Clocks:
    """The clock of every site: `default` for a site not listed in `sites` (pairs of name and Clock)."""

    default: Clock = Clock()
    sites: tuple[tuple[str, Clock], ...] = ()

    @classmethod
    def of(cls, default: Clock, sites: Mapping[str, Clock]) -> Clocks:
        """Clocks with only the sites whose clock differs from the default listed (so equal setups hash equal)."""
        return cls(default, tuple(sorted((name, clock) for name, clock in sites.items() if clock != default)))

    @classmethod
    def single(cls, timezone: str) -> Clocks:
        return cls(Clock(timezone))

    def clock(self, site: str) -> Clock:
        return dict(self.sites).get(site, self.default)

    def by_clock(self, sites: Iterable[str]) -> dict[Clock, list[str]]:
        """`sites` grouped by their clock, each group sorted."""
        groups: dict[Clock, list[str]] = {}
        for site in sorted(set(sites)):
            groups.setdefault(self.clock(site), []).append(site)
        return groups

    def is_uniform(self, sites: Iterable[str] | None = None) -> bool:
        """True when every one of `sites` (all listed sites if None) keeps the default's clock."""
        if sites is None:
            return not self.sites
        return all(self.clock(site) == self.default for site in sites)

    def keep_default_days(self) -> bool:
        """True when every listed site's days are the default's (same time zone and day start; hours may differ)."""
        return all(
            (clock.timezone, clock.day_start) == (self.default.timezone, self.default.day_start)
            for _, clock in self.sites
        )

    def _masks(self, sites: pd.Series) -> list[tuple[Clock, np.ndarray]]:
        """Each clock other than the default with the rows of `sites` it keeps (sites factorized once, so a chain of
        many sites costs one pass per distinct clock, not per site)."""
        if not self.sites or sites.empty:
            return []
        codes, names = pd.factorize(sites)
        listed = dict(self.sites)
        clock_of_code = [listed.get(name, self.default) for name in names]
        masks = []
        for clock in dict.fromkeys(clock_of_code):
            if clock != self.default:
                chosen_codes = [code for code, other in enumerate(clock_of_code) if other == clock]
                masks.append((clock, np.isin(codes, chosen_codes)))
        return masks

    def days_of(self, sites: pd.Series, times: pd.Series) -> pd.Series:
        """The site day of each (site, UTC time) pair, as naive midnights."""
        result = self.default.days_of(times)
        for clock, chosen in self._masks(sites):
            result.loc[chosen] = clock.days_of(times.loc[chosen])
        return result

    def open_at(self, sites: pd.Series, times: pd.Series) -> pd.Series:
        """Per (site, UTC time) pair, True within that site's opening hours (Clock.open_at)."""
        result = self.default.open_at(times)
        for clock, chosen in self._masks(sites):
            result.loc[chosen] = clock.open_at(times.loc[chosen])
        return result.astype(bool)

    def window_bounds(self, sites: pd.Series, first: date, last: date) -> tuple[pd.Series, pd.Series]:
        """Per row of `sites`, the UTC start and end of the site days first..last of that row's site."""
        start, end = self.default.bounds(first, last)
        starts = pd.Series(pd.Timestamp(start), index=sites.index, dtype="datetime64[ns, UTC]")
        ends = pd.Series(pd.Timestamp(end), index=sites.index, dtype="datetime64[ns, UTC]")
        for clock, chosen in self._masks(sites):
            low, high = clock.bounds(first, last)
            starts.loc[chosen], ends.loc[chosen] = pd.Timestamp(low), pd.Timestamp(high)
        return starts, ends

    def envelope(self, sites: Iterable[str], first: date, last: date) -> tuple[datetime, datetime]:
        """The UTC span from the earliest site's start of `first` to the latest site's end of `last`."""
        spans = [clock.bounds(first, last) for clock in self.by_clock(sites) or {self.default: []}]
        return min(low for low, _ in spans), max(high for _, high in spans)
