"""Field types shared by the vendor payload models: MACs, signal levels, counts and timestamps.

Strict about what cannot be true (a MAC that is not 12 hex digits, RSSI above 0 dBm, a negative count, a time
outside 2000-2100) and lenient about how vendors spell what can be (MAC separators and case, numbers sent as
strings, epochs in seconds or milliseconds).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from devices.macs import normalize_mac

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Epochs above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is March 1973.
MILLISECONDS_THRESHOLD = 100_000_000_000
RSSI_FLOOR_DBM = -120
MAX_COUNT = 1_000_000_000
# Coordinates (metres on a floor plan, degrees, uncertainty) beyond this are not a place: refused before any
# arithmetic, which a 400-digit integer would overflow.
COORDINATE_LIMIT = 1e7
_EARLIEST_SECONDS = EARLIEST.timestamp()
_LATEST_SECONDS = LATEST.timestamp()
# Any epoch beyond this, in seconds or milliseconds, is out of range: checked on the integer itself, before it is
# divided or turned into a float (a 400-digit integer cannot be).
_EPOCH_MAGNITUDE_LIMIT = 10 * int(_LATEST_SECONDS) * 1000


def _mac(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a MAC address string")
    return normalize_mac(value)


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"{moment.isoformat()} is outside 2000-2100")
    return moment


def bounded_number(value: int | float, limit: float) -> bool:
    """Whether `value` is finite and within ±`limit`, decided without converting a huge integer to a float."""
    if isinstance(value, int):
        return -limit <= value <= limit  # exact comparison: Python compares int and float without overflow
    return math.isfinite(value) and -limit <= value <= limit


def epoch_to_datetime(value: object) -> datetime:
    """Unix time in seconds or milliseconds (told apart by magnitude) → aware UTC datetime."""
    if (type(value) is int or type(value) is float) and bounded_number(value, _EPOCH_MAGNITUDE_LIMIT):
        # The usual case first (bool is not int here); bounded, so the division below cannot overflow.
        seconds = value / 1000 if abs(value) >= MILLISECONDS_THRESHOLD else value
        if _EARLIEST_SECONDS <= seconds < _LATEST_SECONDS:  # False for NaN; infinities are out of range
            return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, bool):
        raise ValueError("must be a Unix timestamp, not a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("must be a Unix timestamp in seconds or milliseconds") from None
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError("must be a Unix timestamp in seconds or milliseconds")
    if not bounded_number(value, _EPOCH_MAGNITUDE_LIMIT):
        raise ValueError(f"{_shown(value)} is not a time between 2000 and 2100")
    seconds = value / 1000 if abs(value) >= MILLISECONDS_THRESHOLD else value
    if not _EARLIEST_SECONDS <= seconds < _LATEST_SECONDS:
        raise ValueError(f"{_shown(value)} is not a time between 2000 and 2100")
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso_to_datetime(value: object) -> datetime:
    """ISO 8601 text with an offset (`2015-10-09T07:00:00.000+0000`) → aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time string")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # vendors document their times as UTC
    # The local year is checked before converting: 9999-12-31T23:59:59-14:00 is in the year 10000 in UTC, and
    # 0001-01-01T00:00:00+14:00 in the year 0, which datetime cannot hold (OverflowError, not a refusal).
    if not EARLIEST.year - 1 <= moment.year <= LATEST.year:
        raise ValueError(f"{value.strip()[:40]!r} is outside 2000-2100")
    return _in_range(moment.astimezone(UTC))


def _shown(value: int | float) -> str:
    """A number as it may be quoted in a refusal: a 400-digit integer is shortened, not printed whole."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"an integer of {value.bit_length()} bits"
    return str(value)


# What the OpenAPI description (and schemathesis, which generates requests from it) says is sent on the wire;
# the validators accept a little more (any mix of the separators, numbers as strings).
_MAC_SCHEMA = {
    "type": "string",
    "pattern": r"^([0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$",
    "description": "A MAC address: ac:86:74:82:9a:30, AC-86-74-82-9A-30, ac86.7482.9a30 or ac8674829a30.",
}
_EPOCH_SCHEMA = {
    "description": "Unix time between 2000 and 2100, in seconds or milliseconds (told apart by size).",
    "anyOf": [
        {"type": "number", "minimum": EARLIEST.timestamp(), "exclusiveMaximum": LATEST.timestamp()},
        {"type": "number", "minimum": EARLIEST.timestamp() * 1000, "exclusiveMaximum": LATEST.timestamp() * 1000},
    ],
}

MacAddress = Annotated[str, BeforeValidator(_mac), WithJsonSchema(_MAC_SCHEMA)]
EpochTime = Annotated[datetime, BeforeValidator(epoch_to_datetime), WithJsonSchema(_EPOCH_SCHEMA)]
IsoTime = Annotated[datetime, BeforeValidator(iso_to_datetime)]
Rssi = Annotated[float, Field(ge=RSSI_FLOOR_DBM, le=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-COORDINATE_LIMIT, le=COORDINATE_LIMIT)]
Text = Annotated[str, Field(max_length=200), AfterValidator(str.strip)]
