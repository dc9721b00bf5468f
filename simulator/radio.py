"""What an AP hears of a phone: log-distance path loss, log-normal shadowing, per-frame fading and a noise floor.

RSSI(d) = REFERENCE_RSSI_DBM - 10 * PATH_LOSS_EXPONENT * log10(d / 1 m) - storefront loss (phone outside)
          + the phone's own offset + shadowing (one draw per AP and place the phone stays; optionally one more per
          phone and AP for the whole visit) + fading (per frame).
The sigmas here are the default floor's; a shop's `conditions` (simulator.conditions) may set others.
Frames below HEARING_FLOOR_DBM are not heard at all. APs report whole dBm.
"""

from __future__ import annotations

import numpy as np

# Received power 1 m from a phone: ~15 dBm EIRP minus ~40 dB free-space loss at 1 m on 2.4 GHz, minus body and
# antenna losses of a phone held in a hand or pocket.
REFERENCE_RSSI_DBM = -40.0
# Rappaport, "Wireless Communications" table 4.2: 1.6-1.8 in-building line of sight, 2-3 in obstructed
# factories, 4-6 obstructed in-building; a shop floor with shelves and racks sits near 3.
PATH_LOSS_EXPONENT = 3.0
# "A few dB" of log-normal shadowing (the issue); indoor measurements report roughly 3-10 dB.
SHADOWING_SIGMA_DB = 4.0
# Frame-to-frame variation at a fixed place (multipath fading as seen through RSSI averaging): a few dB.
FADING_SIGMA_DB = 2.5
# Phones differ in transmit power and antenna, and in how they are held: a per-phone offset.
DEVICE_OFFSET_SIGMA_DB = 3.0
# APs hear nothing weaker (the issue); 1 Mb/s probe frames decode down to about -92..-96 dBm on typical APs.
HEARING_FLOOR_DBM = -92.0
# Glass shop front between the street and the APs: a few dB more than free air.
STOREFRONT_LOSS_DB = 6.0
# Closer than this the log-distance model no longer applies (near field, the AP hangs from the ceiling).
MIN_DISTANCE_M = 1.0
# The receiver's schema takes no RSSI above 0 dBm; real APs saturate well before.
MAX_RSSI_DBM = -10.0


def mean_rssi(distance_m: np.ndarray, outside: np.ndarray | bool = False) -> np.ndarray:
    """Median RSSI (dBm) at `distance_m` metres, without shadowing or fading; `outside` adds the storefront loss."""
    distance = np.maximum(np.asarray(distance_m, dtype=float), MIN_DISTANCE_M)
    loss = 10.0 * PATH_LOSS_EXPONENT * np.log10(distance)
    return REFERENCE_RSSI_DBM - loss - np.where(outside, STOREFRONT_LOSS_DB, 0.0)


def measured_rssi(
    mean_dbm: np.ndarray, rng: np.random.Generator, fading_sigma_db: float = FADING_SIGMA_DB
) -> np.ndarray:
    """Per-frame RSSI as an AP reports it: the mean plus fading, in whole dBm."""
    values = np.asarray(mean_dbm, dtype=float) + rng.normal(0.0, fading_sigma_db, size=np.shape(mean_dbm))
    return np.minimum(np.round(values), MAX_RSSI_DBM)


def heard(rssi_dbm: np.ndarray) -> np.ndarray:
    """Which frames the AP hears at all."""
    return np.asarray(rssi_dbm) >= HEARING_FLOOR_DBM
