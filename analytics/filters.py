"""Report filters: which observations (and, for zones, which visits) a report considers."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Filters:
    """What to narrow a report to; None (or False) keeps everything.

    ssid and manufacturer are case-insensitive substring matches on each observation; ap is an AP MAC in the
    canonical `aa:bb:cc:dd:ee:ff` spelling (compared case-insensitively); zone is a zone name (case-insensitive)
    and keeps the visits that spent most of their time there; exclude_randomized drops randomized MACs.
    """

    ssid: str | None = None
    manufacturer: str | None = None
    ap: str | None = None
    zone: str | None = None
    exclude_randomized: bool = False

    def as_dict(self) -> dict[str, str | bool | None]:
        return asdict(self)


def filter_observations(observations: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The observations that pass the ssid, manufacturer, AP and randomized filters (a new frame).

    An observation without an SSID (not associated) never matches an SSID filter, and one without a
    manufacturer never matches a manufacturer filter.
    """
    keep = pd.Series(True, index=observations.index)
    if filters.ssid:
        keep &= _contains(observations["ssid"], filters.ssid)
    if filters.manufacturer:
        keep &= _contains(observations["manufacturer"], filters.manufacturer)
    if filters.ap:
        keep &= observations["ap_mac"].str.lower() == filters.ap.lower()
    if filters.exclude_randomized:
        keep &= ~observations["randomized"]
    return observations.loc[keep].reset_index(drop=True)


def filter_visits(visits: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The visits that pass the zone filter (a new frame). A zone belongs to a stretch of time, not to one AP
    report, so it is the one filter applied to visits; like the others it applies before any classification."""
    if not filters.zone:
        return visits.copy()
    keep = visits["zone"].str.casefold() == filters.zone.casefold()
    return visits.loc[keep.fillna(False).astype(bool)].reset_index(drop=True)


def _contains(values: pd.Series, needle: str) -> pd.Series:
    return values.str.contains(needle, case=False, regex=False).fillna(False).astype(bool)
