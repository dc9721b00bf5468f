"""The observation columns the analytics read, and a typed copy of any frame that has them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TIME_DTYPE = "datetime64[ns, UTC]"

# Column -> dtype. `store.frames.load_observations` returns these; tests build them by hand.
OBSERVATION_DTYPES: dict[str, str] = {
    "site": "str",
    "ap_mac": "str",
    "device": "str",
    "randomized": "bool",
    "manufacturer": "str",
    "ssid": "str",
    "associated": "bool",
    "first_seen": TIME_DTYPE,
    "last_seen": TIME_DTYPE,
    "rssi_max": "float64",
    "rssi_avg": "float64",
}


def typed_observations(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with exactly the analytics' columns in their dtypes (times UTC).

    Naive times are taken as UTC; a missing `site` is "default"; missing `rssi_avg` falls back to `rssi_max`.
    The result is indexed 0..n-1 in the order of `frame`, whatever its index. Raises KeyError naming the first
    required column that is absent.
    """
    frame = frame.reset_index(drop=True)
    if "site" not in frame:
        frame["site"] = "default"
    if "rssi_avg" not in frame and "rssi_max" in frame:
        frame["rssi_avg"] = frame["rssi_max"]
    for optional in ("manufacturer", "ssid"):
        if optional not in frame:
            frame[optional] = None
    missing = [column for column in OBSERVATION_DTYPES if column not in frame]
    if missing:
        raise KeyError(f"observations need the column {missing[0]!r}")
    typed = {}
    for column, dtype in OBSERVATION_DTYPES.items():
        values = frame[column]
        if dtype == TIME_DTYPE:
            typed[column] = pd.to_datetime(values, utc=True).astype(TIME_DTYPE)
        elif dtype == "bool":
            typed[column] = values.fillna(False).astype(bool)
        else:
            typed[column] = values.astype(dtype)
    return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))


def empty_observations() -> pd.DataFrame:
    """No observations, with the right dtypes."""
    return typed_observations(pd.DataFrame({column: [] for column in OBSERVATION_DTYPES}))


@dataclass(frozen=True)
class DeviceCounts:
    """Distinct (site, device) pairs with a visit starting in a window, counted where the visits are stored.

    A report counts passersby as every device seen minus visitors and staff, so it needs these counts, not the
    passersby's visits (store.frames.load_visits counts them without reading them). `daily` is indexed by
    the window's site-local days (naive midnights); `randomized` counts the randomized devices among `devices`.
    """

    devices: int
    randomized: int
    daily: pd.Series


# Column -> dtype of stored visits (store.frames.load_visits; analytics.report.analyse_visits reads them).
STORED_VISIT_DTYPES: dict[str, str] = {
    "visit": "int64",
    "site": "str",
    "device": "str",
    "first_seen": TIME_DTYPE,
    "last_seen": TIME_DTYPE,
    "max_rssi": "float64",
    "associated": "bool",
    "randomized": "bool",
    "observations": "Int64",  # NA when loaded without detail
    "ssid": "str",
    "manufacturer": "str",
    "zone": "str",
    "last_zone": "str",
    "x": "float64",
    "y": "float64",
    # The dwell the visit was stored with (AnalyticsSettings.dwell_estimate; NaN where it was not loaded).
    "dwell_seconds": "float64",
    "previous_first_seen": TIME_DTYPE,  # when the device's previous visit started (NaT for its first)
    "ssids": "str",  # every SSID and every AP of the visit, joined by analytics.visits.VALUE_SEPARATOR
    "ap_macs": "str",
}
