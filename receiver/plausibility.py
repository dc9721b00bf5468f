"""When a record may have happened: not after the time it reached us (give or take the AP's clock), and, when
the operator asks for it, not too long before.

The vendor models bound times to 2000-2100, which is no bound at all for a webhook that reports the last minute:
a record a year ahead would be "in the store now" for a year and add a year of dwell. A POST's records are held
to the time the receiver got it; a captured body (`presence import`) to the time it was captured, where the
capture says (a file's modification time: nothing in it can be newer); a quarantined one to when it first came.
A lower bound on age applies to POSTs only, and only when set: captures, vendor samples and back-fills are
legitimately old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.settings import Settings
from receiver.errors import InvalidPayload
from store.records import Sighting

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)  # NTP-less APs drift by seconds a day; five minutes is months of drift


@dataclass(frozen=True)
class TimeWindow:
    """How far ahead of a reference time a record may be (`clock_skew`), and how far behind (`max_age`, or any)."""

    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    max_age: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TimeWindow:
        """PRESENCE_CLOCK_SKEW_SECONDS and PRESENCE_MAX_RECORD_AGE_SECONDS."""
        age = settings.max_record_age_seconds
        return cls(timedelta(seconds=settings.clock_skew_seconds), timedelta(seconds=age) if age else None)

    def future_only(self) -> TimeWindow:
        """The same future bound without the age bound (for captures and replays, which are old by nature)."""
        return TimeWindow(self.clock_skew)

    def check(self, sightings: Sequence[Sighting], reference: datetime, what: str) -> None:
        """Raise InvalidPayload (422) naming the first record outside the window around `reference`.

        `what` says what the reference is, for the message ("the time the POST was received").
        """
        latest_allowed = reference + self.clock_skew
        earliest_allowed = reference - self.max_age if self.max_age is not None else None
        for index, sighting in enumerate(sightings):
            if sighting.last_seen > latest_allowed:
                ahead = sighting.last_seen - reference
                raise InvalidPayload(
                    f"record {index} was last seen at {_iso(sighting.last_seen)}, {_span(ahead)} after {what} "
                    f"({_iso(reference)}); a record may be at most {_span(self.clock_skew)} ahead (clock skew, "
                    "PRESENCE_CLOCK_SKEW_SECONDS): check the access point's clock",
                    field="last_seen",
                )
            if earliest_allowed is not None and sighting.first_seen < earliest_allowed:
                assert self.max_age is not None
                raise InvalidPayload(
                    f"record {index} was first seen at {_iso(sighting.first_seen)}, "
                    f"{_span(reference - sighting.first_seen)} before {what}; records older than "
                    f"{_span(self.max_age)} are refused (PRESENCE_MAX_RECORD_AGE_SECONDS)",
                    field="first_seen",
                )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _span(span: timedelta) -> str:
    seconds = span.total_seconds()
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds:.0f} s"
