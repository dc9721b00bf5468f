"""Field types shared by the vendor payload models: MACs, signal levels, counts and timestamps.

Strict about what cannot be true (a MAC that is not 12 hex digits, RSSI above 0 dBm, a negative count, a time
outside 2000-2100) and lenient about how vendors spell what can be (MAC separators and case, numbers sent as
strings, epochs in seconds or milliseconds).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from receiver.macs import normalize_mac

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Epochs above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is March 1973.
MILLISECONDS_THRESHOLD = 100_000_000_000
RSSI_FLOOR_DBM = -120
MAX_COUNT = 1_000_000_000


def _mac(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a MAC address string")
    return normalize_mac(value)


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"{moment.isoformat()} is outside 2000-2100")
    return moment


def epoch_to_datetime(value: object) -> datetime:
    """Unix time in seconds or milliseconds (told apart by magnitude) → aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("must be a Unix timestamp, not a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("must be a Unix timestamp in seconds or milliseconds") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be a Unix timestamp in seconds or milliseconds")
    seconds = value / 1000 if abs(value) >= MILLISECONDS_THRESHOLD else value
    if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():
        raise ValueError(f"{value} is not a time between 2000 and 2100")
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
    return _in_range(moment.astimezone(UTC))


MacAddress = Annotated[str, BeforeValidator(_mac)]
EpochTime = Annotated[datetime, BeforeValidator(epoch_to_datetime)]
IsoTime = Annotated[datetime, BeforeValidator(iso_to_datetime)]
Rssi = Annotated[float, Field(ge=RSSI_FLOOR_DBM, le=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-1e7, le=1e7)]
Text = Annotated[str, Field(max_length=200), AfterValidator(str.strip)]
