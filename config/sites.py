"""Sites: each shop of a chain with its own time zone, group, opening hours, day boundary and capacity.

A site is named by the `site` of its `[[aps]]` entries; a `[[sites]]` entry of the TOML config describes it:

    [[sites]]
    name = "West Mall"
    timezone = "America/New_York"       # default: the top-level timezone, else PRESENCE_TIMEZONE, else UTC
    group = "US East"                   # optional: a region or district, for subtotals and filters
    hours = { default = "09:00-21:00", sun = "11:00-17:00", mon = "closed" }
    day_starts = "04:00"                # a venue open past midnight counts the night to the previous day
    capacity = 120                      # the most people allowed inside, shown on Live

A site named by an AP but not listed gets the defaults. Everything here is plain data: the analytics read a
site's clock (`tz`, `day_starts`) and hours, and never the TOML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class SiteConfigError(ValueError):
    """A `[[sites]]` entry is malformed; the message names the site and the key."""


@dataclass(frozen=True)
class Hours:
    """One weekday's opening hours, [opens, closes) in site-local wall time; closes <= opens runs past midnight
    (18:00-02:00 closes at 02:00 the next morning); 00:00-00:00 (or 00:00-24:00) is open all day."""

    opens: time
    closes: time

    @property
    def span(self) -> tuple[timedelta, timedelta]:
        """The hours as offsets from the weekday's midnight: (opens, closes), closes > opens."""
        opens = timedelta(hours=self.opens.hour, minutes=self.opens.minute)
        closes = timedelta(hours=self.closes.hour, minutes=self.closes.minute)
        return opens, closes if closes > opens else closes + timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"


@dataclass(frozen=True)
class Site:
    """A shop of the chain. `hours` is per weekday (0 = Monday): its Hours, or None when closed all day; an
    empty mapping means no hours are configured (every visit counts as within them)."""

    name: str
    timezone: str = "UTC"
    group: str | None = None
    hours: Mapping[int, Hours | None] = field(default_factory=dict)
    day_starts: time = time(0)
    capacity: int | None = None
    configured: bool = False  # listed in [[sites]] (False: named by an AP only, with the defaults)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_offset(self) -> timedelta:
        """How far after local midnight the site's day begins (day_starts)."""
        return timedelta(hours=self.day_starts.hour, minutes=self.day_starts.minute)

    @property
    def has_hours(self) -> bool:
        return bool(self.hours)

    def open_at(self, moment: datetime) -> bool:
        """True if the site is open at `moment` (aware): within today's hours, or yesterday's running past
        midnight. A site without configured hours is always open."""
        if not self.hours:
            return True
        local = moment.astimezone(self.tz).replace(tzinfo=None)
        midnight = datetime.combine(local.date(), time(0))
        for days_back in (0, 1):
            day = midnight - timedelta(days=days_back)
            hours = self.hours.get(day.weekday())
            if hours is None:
                continue
            opens, closes = hours.span
            if day + opens <= local < day + closes:
                return True
        return False

    def hours_text(self) -> str:
        """The opening hours in one line (`Mon closed, Tue-Sat 09:00-21:00, Sun 11:00-17:00`), or '' if unset."""
        if not self.hours:
            return ""
        runs: list[tuple[int, int, str]] = []
        for day in range(7):
            hours = self.hours.get(day)
            text = "closed" if hours is None else str(hours)
            if runs and runs[-1][2] == text:
                runs[-1] = (runs[-1][0], day, text)
            else:
                runs.append((day, day, text))
        names = [key.capitalize() for key in WEEKDAY_KEYS]
        return ", ".join(f"{names[a]}{'' if a == b else '-' + names[b]} {text}" for a, b, text in runs)


def parse_sites(entries: object, default_timezone: str) -> dict[str, Site]:
    """The `[[sites]]` array of the TOML config, by name."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise SiteConfigError("[[sites]] must be an array of tables, one per site")
    sites: dict[str, Site] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            raise SiteConfigError(f"every [[sites]] entry needs a name: {entry!r}")
        name = str(entry["name"]).strip()
        if name in sites:
            raise SiteConfigError(f"[[sites]] lists {name!r} twice")
        unknown = set(entry) - {"name", "timezone", "group", "hours", "day_starts", "capacity"}
        if unknown:
            raise SiteConfigError(f"site {name!r}: unknown key(s) {', '.join(sorted(unknown))}")
        timezone = str(entry.get("timezone") or default_timezone)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SiteConfigError(f"site {name!r}: timezone {timezone!r} is not an IANA time zone name") from exc
        group = entry.get("group")
        sites[name] = Site(
            name=name,
            timezone=timezone,
            group=str(group).strip() or None if group is not None else None,
            hours=_hours(name, entry.get("hours")),
            day_starts=_clock(name, "day_starts", entry.get("day_starts", "00:00")),
            capacity=_capacity(name, entry.get("capacity")),
            configured=True,
        )
    return sites


def _hours(site: str, value: object) -> dict[int, Hours | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SiteConfigError(f'site {site!r}: hours must be a table such as {{ default = "09:00-21:00" }}')
    unknown = set(value) - {"default", *WEEKDAY_KEYS}
    if unknown:
        raise SiteConfigError(
            f"site {site!r}: hours has unknown day(s) {', '.join(sorted(unknown))}; use default, "
            + ", ".join(WEEKDAY_KEYS)
        )
    default = _day_hours(site, "default", value["default"]) if "default" in value else None
    return {day: _day_hours(site, key, value[key]) if key in value else default for day, key in enumerate(WEEKDAY_KEYS)}


def _day_hours(site: str, key: str, text: object) -> Hours | None:
    if str(text).strip().lower() == "closed":
        return None
    match = _HOURS.match(str(text))
    if not match:
        raise SiteConfigError(f'site {site!r}: hours.{key} = {text!r} is not "HH:MM-HH:MM" or "closed"')
    oh, om, ch, cm = (int(part) for part in match.groups())
    if ch == 24 and cm == 0:
        ch = 0
    if oh > 23 or ch > 23 or om > 59 or cm > 59:
        raise SiteConfigError(f"site {site!r}: hours.{key} = {text!r} is not a time of day")
    return Hours(time(oh, om), time(ch, cm))


def _clock(site: str, key: str, text: object) -> time:
    match = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", str(text))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise SiteConfigError(f'site {site!r}: {key} = {text!r} is not a time of day "HH:MM"')
    return time(int(match.group(1)), int(match.group(2)))


def _capacity(site: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**7:
        raise SiteConfigError(f"site {site!r}: capacity = {value!r} must be a whole number of people above 0")
    return value
