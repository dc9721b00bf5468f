"""Report filters: which visits a report counts. Every filter keeps or drops whole visits.

A visit that matches keeps its whole dwell: an SSID filter does not cut a visit down to its minutes on that
network, it asks "which visits touched it". Counts (visitors, passersby, connected, dwell, loyalty, zones) are then
those of the matching visits, and the stored visits answer every filter (store.frames.load_visits applies the
same conditions in SQL) as `analytics.report.analyse` does from the observations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Filters:
    """What to narrow a report to; None (or False) keeps everything.

    - ssid: the visits during which the device was heard on an SSID that contains the text (case-insensitive);
    - manufacturer: the visits of devices whose manufacturer (its short name, devices.manufacturers) contains the
      text (case-insensitive); a randomized MAC has no manufacturer unless the payload gave one;
    - ap: the visits heard by that AP, an AP MAC in the canonical `aa:bb:cc:dd:ee:ff` spelling (the CLI and the
      dashboard turn a configured AP name into its MAC);
    - zone: the visits that spent most of their time in that zone (case-insensitive);
    - exclude_randomized: leaves out randomized (private) MACs;
    - sites: the visits at those sites (names as configured; empty: every site);
    - open_hours: the visits that started within their site's opening hours (analytics.clocks; a site without
      hours is always open).
    """

    ssid: str | None = None
    manufacturer: str | None = None
    ap: str | None = None
    zone: str | None = None
    exclude_randomized: bool = False
    sites: tuple[str, ...] = ()
    open_hours: bool = False

    def as_dict(self) -> dict[str, str | bool | list[str] | None]:
        values = asdict(self)
        values["sites"] = list(self.sites)
        return values

    @property
    def narrows_visits(self) -> bool:
        """True when a filter other than exclude_randomized applies: a property of single visits, not devices."""
        return bool(self.ssid or self.manufacturer or self.ap or self.zone)


def filter_visits(visits: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The visits that pass every filter but open_hours (a new frame; analytics.report applies that with the
    sites' clocks): columns ssids, manufacturer, ap_macs, zone, randomized, site.

    A visit never heard on any SSID never matches an SSID filter; one without a manufacturer never matches a
    manufacturer filter; one not yet placed in a zone never matches a zone filter.
    """
    keep = pd.Series(True, index=visits.index)
    if filters.ssid:
        keep &= _contains(visits["ssids"], filters.ssid)
    if filters.manufacturer:
        keep &= _contains(visits["manufacturer"], filters.manufacturer)
    if filters.ap:
        keep &= _contains(visits["ap_macs"], filters.ap.lower())  # a whole MAC: a substring only of itself
    if filters.zone:
        keep &= (visits["zone"].str.casefold() == filters.zone.casefold()).fillna(False).astype(bool)
    if filters.exclude_randomized:
        keep &= ~visits["randomized"].astype(bool)
    if filters.sites:
        keep &= visits["site"].isin(filters.sites)
    return visits.loc[keep].reset_index(drop=True)


def _contains(values: pd.Series, needle: str) -> pd.Series:
    return values.astype("str").str.contains(needle, case=False, regex=False).fillna(False).astype(bool)
