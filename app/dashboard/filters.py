"""The sidebar filters: one set for every page, bound to the URL query string so a view can be shared.

Each widget is bound with `bind="query-params"` under a short key (`?dates=2026-11-02&dates=2026-11-08&ssid=Shop`,
`?site=Shop%20001&site=Shop%20003`, `?group=Europe`), so opening a shared link restores the view and a value equal
to its default stays out of the URL. The filters mean exactly what `presence report`'s options mean (`--site`,
`--group` and `--open-hours` included): they become one `analytics.filters.Filters`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import streamlit as st

from analytics.filters import Filters

# Query-string keys (short, stable: they are part of every shared link).
DATES, SSID, MANUFACTURER, AP, ZONE, NO_RANDOMIZED, STAFF = "dates", "ssid", "maker", "ap", "zone", "norandom", "staff"
SITE, GROUP, OPEN_HOURS = "site", "group", "open"
DEFAULT_DAYS = 7
_SELECTION = "presence.selection"


@dataclass(frozen=True)
class FilterOptions:
    """The values the sidebar offers for a date range; APs as display name -> MAC (the name is what the URL
    carries, so a shared link reads `?ap=Entrance`)."""

    ssids: Sequence[str] = ()
    manufacturers: Sequence[str] = ()
    aps: Mapping[str, str] = field(default_factory=dict)
    zones: Sequence[str] = ()


@dataclass(frozen=True)
class SiteChoices:
    """The sites the sidebar offers: every known site in order (data.known_sites), the groups of [[sites]], and
    whether any site has opening hours (then the "Opening hours only" toggle is shown)."""

    sites: Sequence[str] = ()
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    any_hours: bool = False

    def resolve(self, sites: Sequence[str], group: str | None) -> tuple[str, ...]:
        """The chosen sites and the group's, in the order known (empty: every site), as `presence report
        --site ... --group ...` resolves them (store.sites.resolve_sites)."""
        chosen = {*sites, *(self.groups.get(group, ()) if group else ())}
        return tuple(name for name in self.sites if name in chosen)


@dataclass(frozen=True)
class Selection:
    """The view the user chose: site-local days `first`..`last` (inclusive), the report filters, and staff."""

    first: date
    last: date
    filters: Filters = Filters()
    include_staff: bool = False

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Selection:
        """The period of equal length just before this one, with the same filters."""
        return Selection(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.filters)

    def describe(self) -> str:
        """One line for captions and exports: the days and any active filter."""
        return " · ".join([f"{self.first:%a %d %b %Y} – {self.last:%a %d %b %Y}", *self.filter_parts()])

    def filter_parts(self) -> list[str]:
        """Each active filter in words ("ssid Guest", "exclude randomized", "sites Shop 001, Shop 003", "opening
        hours only", "staff shown")."""
        parts = []
        for name, value in self.filters.as_dict().items():
            if not value:
                continue
            if name == "open_hours":
                parts.append("opening hours only")
            elif name == "sites" and isinstance(value, list):
                parts.append(("site " if len(value) == 1 else "sites ") + ", ".join(value))
            else:
                parts.append(name.replace("_", " ") if value is True else f"{name} {value}")
        return [*parts, "staff shown"] if self.include_staff else parts


def default_range(first_day: date, last_day: date, today: date) -> tuple[date, date]:
    """The last DEFAULT_DAYS complete days with data: a half-finished today would make every comparison with the
    period before look like a collapse. Today counts only while it is the only day there is."""
    last = last_day if last_day < today else max(first_day, today - timedelta(days=1))
    return max(first_day, last - timedelta(days=DEFAULT_DAYS - 1)), last


def sidebar(
    first_day: date,
    last_day: date,
    today: date,
    options_for: Callable[[date, date, tuple[str, ...]], FilterOptions],
    choices: SiteChoices = SiteChoices(),
) -> Selection:
    """Draw the filters in the sidebar and remember the selection for the pages (see `current`).

    first_day..last_day are the site-local days with data, `today` the site's; `options_for(first, last, sites)`
    gives the values to offer for the chosen range and sites (empty: every site); `choices` the sites to offer
    (no site selector with one site or none).
    """
    bar = st.sidebar
    bar.subheader("Filters")
    sites = site_selector(choices)
    default_first, default_last = default_range(first_day, last_day, today)
    chosen = bar.date_input(
        "Dates",
        value=(default_first, default_last),
        min_value=first_day,
        max_value=last_day,
        key=DATES,
        bind="query-params",
        help="Site-local days, inclusive. Every page but Live uses them.",
    )
    first, last = _date_pair(chosen, default_first, default_last)
    if last < first:  # only a hand-made link can say so; refused as `presence report` refuses it
        st.warning(
            f"The link's dates end ({last:%d %b %Y}) before they start ({first:%d %b %Y}); showing "
            f"{default_first:%d %b %Y} – {default_last:%d %b %Y} instead."
        )
        first, last = default_first, default_last
    open_hours = (
        bar.toggle(
            "Opening hours only",
            key=OPEN_HOURS,
            bind="query-params",
            help="Only the visits that started while their site was open (its [[sites]] hours); a site without "
            "hours counts as always open.",
        )
        if choices.any_hours
        else False
    )
    options = options_for(first, last, sites)
    requested = {key: st.query_params.get(key) for key in (SSID, MANUFACTURER, AP, ZONE)}
    ssid = bar.selectbox(
        "SSID",
        options.ssids,
        index=None,
        placeholder="All SSIDs",
        key=SSID,
        bind="query-params",
        help="Visits during which the device was heard on a network whose name contains this; a visit that "
        "matches counts whole.",
    )
    manufacturer = bar.selectbox(
        "Manufacturer",
        options.manufacturers,
        index=None,
        placeholder="All manufacturers",
        key=MANUFACTURER,
        bind="query-params",
        help="Visits of devices from this manufacturer. Randomized (private) MACs name none.",
    )
    ap_name = bar.selectbox(
        "Access point",
        list(options.aps),
        index=None,
        placeholder="All access points",
        key=AP,
        bind="query-params",
        help="Visits heard by this access point.",
    )
    zone = bar.selectbox(
        "Zone",
        options.zones,
        index=None,
        placeholder="All zones",
        key=ZONE,
        bind="query-params",
        help="Visits that spent most of their time in this zone.",
    )
    exclude_randomized = bar.toggle(
        "Exclude randomized MACs",
        key=NO_RANDOMIZED,
        bind="query-params",
        help="Phones with private (randomized) addresses get a new one now and then, so they can count twice.",
    )
    include_staff = bar.toggle(
        "Show staff",
        key=STAFF,
        bind="query-params",
        help="Staff are never counted as visitors; this adds them to the charts and the table of visits.",
    )
    selection = Selection(
        first,
        last,
        Filters(
            ssid=ssid,
            manufacturer=manufacturer,
            ap=options.aps.get(ap_name) if ap_name else None,
            zone=zone,
            exclude_randomized=bool(exclude_randomized),
            sites=sites,
            open_hours=bool(open_hours),
        ),
        bool(include_staff),
    )
    offered = {SSID: options.ssids, MANUFACTURER: options.manufacturers, AP: list(options.aps), ZONE: options.zones}
    labels = {SSID: "SSID", MANUFACTURER: "manufacturer", AP: "access point", ZONE: "zone"}
    unmatched = [f"{labels[key]} “{value}”" for key, value in requested.items() if value and value not in offered[key]]
    if unmatched:  # a shared link whose filter names nothing here: say so, never show unfiltered figures silently
        st.warning(
            f"This link asks for {', '.join(unmatched)}, which matches nothing in "
            f"{first:%d %b %Y} – {last:%d %b %Y}; that filter is not applied. Choose one in the sidebar."
        )
    st.session_state[_SELECTION] = selection
    return selection


def site_selector(choices: SiteChoices) -> tuple[str, ...]:
    """The Sites multiselect and the Group selectbox (when there is more than one site), bound to `?site=` and
    `?group=`; returns the chosen sites (empty: every site). A site or group in the link that nobody knows is
    named on the page and not applied, as `presence report --site` refuses it."""
    bar = st.sidebar
    requested_sites = [name for name in st.query_params.get_all(SITE) if name]
    requested_group = st.query_params.get(GROUP) or None
    chosen: list[str] = []
    group = None
    if len(choices.sites) > 1:
        chosen = bar.multiselect(
            "Sites",
            list(choices.sites),
            key=SITE,
            bind="query-params",
            placeholder="All sites",
            help="One site or several; none chosen counts every site. Each site counts its own days in its own "
            "time zone.",
        )
        if choices.groups:
            group = bar.selectbox(
                "Group",
                list(choices.groups),
                index=None,
                key=GROUP,
                bind="query-params",
                placeholder="All groups",
                help="The sites of a group ([[sites]] group), added to the sites chosen above.",
            )
    unknown = [f"site “{name}”" for name in requested_sites if name not in choices.sites]
    if requested_group and requested_group not in choices.groups:
        unknown.append(f"group “{requested_group}”")
    if unknown:
        known = ", ".join(choices.sites) or "none yet"
        groups = f"; known groups: {', '.join(choices.groups)}" if choices.groups else ""
        st.warning(
            f"This link asks for {', '.join(unknown)}, which is not known here (known sites: {known}{groups}); "
            "it is not applied. Choose one in the sidebar."
        )
    return choices.resolve(chosen, group)


def current() -> Selection:
    """The selection the sidebar made in this run (pages call this)."""
    return st.session_state[_SELECTION]


def _date_pair(chosen: object, default_first: date, default_last: date) -> tuple[date, date]:
    """The picked range; while the user has picked only its first day, that day alone."""
    if isinstance(chosen, date):
        return chosen, chosen
    if isinstance(chosen, Sequence) and len(chosen) == 2:
        return chosen[0], chosen[1]
    if isinstance(chosen, Sequence) and len(chosen) == 1:
        return chosen[0], chosen[0]
    return default_first, default_last
