"""Ground truth: every visit the APs heard at least once, as the simulation knows it really happened.

Kinds follow the analytics' definitions so the two can be compared: a "visitor" was inside the shop for at least
VISITOR_MIN_DWELL_S; someone inside for less, or walking past outside, is a "passerby"; staff are "staff".
`start`/`end` are the true times clipped to the simulated window; the kind comes from the whole visit. Visits the
APs never heard (a phone carried past without probing in range) are left out: no analysis could see them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from simulator import devices, people
from simulator.layout import Shop

# The definition of a visitor: inside the shop for at least 5 minutes.
VISITOR_MIN_DWELL_S = 5 * 60


@dataclass(frozen=True)
class Visit:
    """One true visit: the MAC its phone sent (lowercase colon form), what kind of visit, when and where."""

    device: str
    kind: str  # visitor | passerby | staff
    start: datetime
    end: datetime
    zone: str  # the AP zone where the visit spent most time; empty for passersby
    associated: bool
    ssid: str
    randomized: bool


COLUMNS = tuple(f.name for f in fields(Visit))


def day_truth(
    shop: Shop,
    visits: people.Visits,
    segments: people.Segments,
    heard: np.ndarray,
    window: tuple[float, float],
) -> list[Visit]:
    """The `heard` visits (indices into `visits`) of one simulated day, clipped to `window` (Unix seconds)."""
    seconds_in_zone = np.zeros((len(visits), len(shop.aps)))
    inside = segments.zone >= 0
    np.add.at(seconds_in_zone, (segments.visit[inside], segments.zone[inside]), (segments.t1 - segments.t0)[inside])
    main_zone = np.argmax(seconds_in_zone, axis=1)
    dwell = visits.end - visits.start
    kind = np.where(
        visits.kind == people.STAFF,
        "staff",
        np.where((visits.kind == people.INSIDE) & (dwell >= VISITOR_MIN_DWELL_S), "visitor", "passerby"),
    )
    randomized = devices.is_randomized(visits.mac)
    result = []
    for index in heard.tolist():
        is_passerby = kind[index] == "passerby"
        ssid = people.SSIDS[visits.ssid[index]]
        result.append(
            Visit(
                device=devices.mac_text(int(visits.mac[index])),
                kind=str(kind[index]),
                start=_utc(max(visits.start[index], window[0])),
                end=_utc(min(visits.end[index], window[1])),
                zone="" if is_passerby else shop.aps[main_zone[index]].name,
                associated=ssid is not None,
                ssid=ssid or "",
                randomized=bool(randomized[index]),
            )
        )
    return result


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(float(seconds)), UTC)


def write_csv(visits: Iterable[Visit], path: str | Path) -> int:
    """Write visits as CSV with a header (times ISO 8601 UTC); returns how many rows were written."""
    written = 0
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for visit in visits:
            writer.writerow([_plain(value) for value in astuple(visit)])
            written += 1
    return written


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
