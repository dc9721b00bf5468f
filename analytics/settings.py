"""Every threshold the analytics use, with the default and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# The two measures of a visit's dwell (`dwell_estimate`): the estimated true stay, and the span heard.
RECURRENCE = "recurrence"
SPAN = "span"
DWELL_ESTIMATES = (RECURRENCE, SPAN)
DEFAULT_DWELL_ESTIMATE = RECURRENCE


@dataclass(frozen=True)
class AnalyticsSettings:
    """Thresholds behind visits, visitors, staff, loyalty, occupancy and zones.

    Defaults follow the vendors whose reports people compare ours with; each field says which.
    """

    # A device unheard for longer than this has left: Cloud4Wi's session timeout is 15 minutes.
    visit_gap: timedelta = timedelta(minutes=15)
    # A visit that started in the window is followed this long past the window's end, so a visit in progress at
    # closing time keeps its whole dwell (our choice: 6 h is where Meraki's longest dwell bucket starts).
    visit_lookahead: timedelta = timedelta(hours=6)
    # Dwell: "recurrence" estimates the true stay, the span heard plus the expected unheard time at each end
    # (analytics.stays; docs/analytics.md, "Dwell"), unbiased on the simulator; "span" is last_seen - first_seen,
    # which falls short of the stay by about one probe gap (a setting, for comparing with tools that measure so).
    # Every dwell threshold, statistic, bucket and occupancy uses this measure; stored visits hold it in
    # dwell_seconds, which reports from them read.
    dwell_estimate: str = DEFAULT_DWELL_ESTIMATE
    # The prior gaps between frames heard of a device, for visits with few frames (analytics.stays): unassociated
    # phones probe "every 1-4 minutes or so" (the issue; uniform between the two), associated ones are heard by
    # the AP they are connected to every report interval (EnGenius and Aerohive report every 60 s).
    probe_gap_unassociated: tuple[timedelta, timedelta] = (timedelta(minutes=1), timedelta(minutes=4))
    probe_gap_associated: tuple[timedelta, timedelta] = (timedelta(minutes=1), timedelta(minutes=1))
    # A visit shorter than this is passing by: Meraki Location Analytics and Cloud4Wi count a visitor after 5 min.
    min_dwell: timedelta = timedelta(minutes=5)
    # The strongest signal of a visit must reach this to be inside: Meraki's visit-start RSSI level, -75 dBm.
    visitor_rssi_dbm: float = -75.0
    # Staff: visits of at least `staff_min_visit` on at least `staff_min_days` distinct site-local days within the
    # report window or the `staff_history` before it (the project's rule, stated in the analytics issue: a
    # person who stays half a working day on three days of a fortnight works there).
    staff_min_visit: timedelta = timedelta(hours=4)
    staff_min_days: int = 3
    staff_history: timedelta = timedelta(days=14)
    # Repeat visitor: qualifying visits on at least this many distinct site-local days of the window (issue).
    repeat_min_days: int = 2
    # Loyalty, Cisco CMX categories, judged on the 28 site-local days that end with the window's last day:
    # daily = visited on >= 5 of the last 7 days; weekly = visited in >= 2 different weeks of the last 4.
    loyalty_history: timedelta = timedelta(days=28)
    daily_min_days: int = 5
    weekly_min_weeks: int = 2
    # Live occupancy counts visitors heard within this long: Cisco Spaces' "Right Now" uses the last 10 minutes.
    live_window: timedelta = timedelta(minutes=10)
    # Dwell buckets in minutes, Meraki's: 5-20 min, 20-60 min, 1-6 h, 6 h+ (the last bucket is open).
    dwell_bucket_edges_minutes: tuple[int, ...] = (5, 20, 60, 360)
    # Zones: an AP that did not hear a device in a fingerprint period counts as this level (about the noise
    # floor of a 20 MHz Wi-Fi channel; our choice, not a vendor's).
    rssi_floor_dbm: float = -95.0
    # One RSSI fingerprint (the rssi_avg of each AP) per device per this period (the suggestion).
    fingerprint_period: timedelta = timedelta(minutes=1)
    # The zone model is fitted on at most this many fingerprints per site, drawn with `random_state`; every
    # fingerprint is then labelled, so a busy shop's week stays fast.
    zone_fit_sample: int = 200_000
    # Incremental visits (store.visits) keep one zone model per site, fitted on the site's latest this
    # much of visits, as a report of a week is fitted on that week (our choice: a week holds every weekday).
    zone_fit_window: timedelta = timedelta(days=7)
    # Seed of every stochastic step (the zone model's sample and k-means).
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.dwell_estimate not in DWELL_ESTIMATES:
            raise ValueError(f"dwell_estimate must be one of {', '.join(DWELL_ESTIMATES)}, got {self.dwell_estimate!r}")
        for name in ("probe_gap_unassociated", "probe_gap_associated"):
            low, high = getattr(self, name)
            if not timedelta(0) < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)!r}")

    @property
    def history(self) -> timedelta:
        """How much before the window start the analytics need: staff history and the loyalty look-back."""
        return max(self.staff_history, self.loyalty_history)
