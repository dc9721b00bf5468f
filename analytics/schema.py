"""The observation columns the analytics read, and a typed copy of any frame that has them."""

from __future__ import annotations

import pandas as pd

TIME_DTYPE = "datetime64[ns, UTC]"

# Column -> dtype. `receiver.frames.load_observations` returns these; tests build them by hand.
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
    Raises KeyError naming the first required column that is absent.
    """
    frame = frame.copy()
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
