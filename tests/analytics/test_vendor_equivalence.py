"""The same simulated week posted as EnGenius, Aerohive and Meraki gives the same report.

One week of the default shop (seed 31) is simulated three times, once per vendor with every AP speaking it, each
into a fresh database through the receiver's own code path, and analysed exactly as `presence report` does
(`load_observations` with the analytics' history and look-ahead, then `analyse` and `report`, which is what
`build_report` runs). The simulated world is the same in all three: the same phones, frames and signal levels. What
differs is what each format can say about a minute of frames:

- EnGenius sends one record per AP, minute and phone: first and last frame, strongest, mean and last signal.
- Aerohive sends one observation per AP, minute and phone: the last frame's moment (ms) and signal.
- Meraki v3 sends one location per phone and minute for the whole network: one moment, the latest at which any AP
  heard it, in whole seconds, with each AP's last signal.

So "the same" means, exactly: one stored observation per (AP, minute, phone) in every format, and the same visits
(devices, first minute, last second, observations, connection); Aerohive and Meraki store the same signals, so
they also agree exactly on each visit's strongest signal, SSID and zone. What may differ is when, within its first
minute, a visit starts: EnGenius starts it at the first frame, Aerohive at the earliest AP's last frame, Meraki at
the minute's latest frame. That moves a visit's dwell by less than one reporting interval (60 s), and by more than
a second only for phones connected to the shop's Wi-Fi, which their AP hears all through the minute; EnGenius's
strongest and mean signal also differ from a single frame's. Only a visit within a minute of the 5-minute minimum
(or, for EnGenius, with a strongest signal near -75 dBm) can therefore change category, and zones fitted to
averaged rather than single-frame signal levels can place a few visits differently.

Measured (seed 31; seeds 32 and 7 alike): all 13,626 visits found in all three formats; per visit, dwell differs
by at most 59 s (mean under a second); 0-2 of ~1,650 visitors change category between any two formats, all of
them connected and within a minute of 5 min; headline counts differ by at most 2 devices (connected 240 vs 238 is
the largest relative gap, 0.8 %), dwell buckets by at most 7 (visits near the 20-minute edge, where they are
densest); median dwell by at most 0.08 min, a day's median by 0.14 min; zone visitors by at most 4 (1.1 %: EnGenius's
mean signal places 1 % of visitor visits in another zone; Aerohive and Meraki place every visitor visit alike).
The tolerances below are those mechanisms with a margin, not the issue's 2 % and 1 minute (2 % would let 240
passersby go missing unnoticed): counts within COUNT_TOLERANCE devices, buckets within BUCKET_TOLERANCE, dwell
medians and means within DWELL_TOLERANCE_MIN, peaks within PEAK_TOLERANCE, zone visitors within
ZONE_SHARE_TOLERANCE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations

import pandas as pd
import pytest

from analytics.report import Analysis, analyse, report
from analytics.settings import AnalyticsSettings
from app.commands.export import load_window
from config.settings import AccessPoint
from simulator.backfill import backfill_database
from simulator.layout import default_shop
from simulator.run import VENDORS
from store.queries import local_day_bounds
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

SEED = 31
FIRST_DAY, LAST_DAY = date(2026, 11, 2), date(2026, 11, 8)  # Monday to Sunday; the default shop runs on UTC
PAIRS = list(combinations(VENDORS, 2))  # (engenius, aerohive), (engenius, meraki), (aerohive, meraki)
REPORTING_INTERVAL = pd.Timedelta(seconds=60)
# Formats that give whole seconds (EnGenius, Meraki) against milliseconds (Aerohive).
WHOLE_SECOND = pd.Timedelta(seconds=1)
COUNT_TOLERANCE = 5  # devices (measured at most 2)
BUCKET_TOLERANCE = 15  # visits (measured at most 7)
DWELL_TOLERANCE_MIN = 0.25  # minutes (measured at most 0.08 for the week, 0.14 for a day)
PEAK_TOLERANCE = 2  # visitors present at once (measured at most 1)
ZONE_SHARE_TOLERANCE = 0.02  # of a zone's visitors (measured at most 1.1 %)


@dataclass(frozen=True)
class Posted:
    """One vendor's week: the observations the analytics loaded, the analysis and the report."""

    observations: pd.DataFrame
    analysis: Analysis
    report: dict

    @property
    def visits(self) -> pd.DataFrame:
        """The window's visits keyed by (device, first minute): the key under which every format finds them."""
        visits = self.analysis.window_visits
        return visits.set_index([visits["device"], visits["first_seen"].dt.floor("min").rename("minute")])


@pytest.fixture(scope="module")
def posted(tmp_path_factory) -> dict[str, Posted]:
    shop = default_shop()
    analytics_settings = AnalyticsSettings()
    result = {}
    for vendor in VENDORS:
        # The same pseudonym key everywhere, so a phone is the same device in every database.
        settings = make_settings(
            tmp_path_factory.mktemp(vendor), PRESENCE_PSEUDONYM_KEY="equivalence", PRESENCE_SQLITE_SYNCHRONOUS="OFF"
        )
        start, end = local_day_bounds(FIRST_DAY, LAST_DAY, settings.tz)
        backfill_database(settings, start, end, SEED, shop=shop, vendor=vendor)
        access_points = {ap.mac: AccessPoint(ap.mac, ap.name, settings.default_site, ap.x, ap.y) for ap in shop.aps}
        observations = load_window(settings, analytics_settings, start, end)
        analysis = analyse(observations, start, end, analytics_settings, tz=settings.tz, access_points=access_points)
        result[vendor] = Posted(observations, analysis, report(analysis))
    return result


def paired(posted: dict[str, Posted], first: str, second: str) -> pd.DataFrame:
    """The two formats' visits side by side (columns of the second suffixed `_2`), only visits both found."""
    return posted[first].visits.join(posted[second].visits, how="inner", suffixes=("", "_2"))


def keyed_observations(observations: pd.DataFrame) -> pd.DataFrame:
    """Observations sorted by (device, AP, minute), with that minute as a column."""
    keyed = observations.assign(minute=observations["last_seen"].dt.floor("min"))
    return keyed.sort_values(["device", "ap_mac", "minute"], kind="stable").reset_index(drop=True)


# --- exactly the same -------------------------------------------------------------------------------------------


def test_every_format_stores_one_observation_per_ap_minute_and_phone(posted):
    keys = {v: keyed_observations(posted[v].observations).loc[:, ["device", "ap_mac", "minute"]] for v in VENDORS}

    assert len(keys["engenius"]) > 100_000
    for vendor in VENDORS:
        assert not keys[vendor].duplicated().any()
        pd.testing.assert_frame_equal(keys[vendor], keys["engenius"])


def test_aerohive_and_meraki_store_the_same_signals_at_moments_within_the_same_minute(posted):
    aerohive, meraki = (keyed_observations(posted[v].observations) for v in ("aerohive", "meraki"))

    for column in ("rssi_max", "rssi_avg"):
        pd.testing.assert_series_equal(meraki[column], aerohive[column])
    # Meraki's one moment per phone and minute is the latest at which any AP heard it, in whole seconds.
    later = meraki["last_seen"] - aerohive["last_seen"].dt.floor("s")
    assert (later >= pd.Timedelta(0)).all()
    assert (meraki["last_seen"].dt.floor("min") == aerohive["minute"]).all()
    assert (meraki["first_seen"] == meraki["last_seen"]).all()
    # A phone that is not connected probes once a minute at most, and every AP hears that burst within half a second;
    # only a connected phone is heard later in the minute, by its AP, and Meraki then moves the others' sightings.
    moved = later > WHOLE_SECOND
    assert moved.sum() > 1000
    assert meraki.loc[moved, "associated"].all()


def test_every_format_finds_the_same_visits_ending_at_the_same_second(posted):
    engenius = posted["engenius"].visits

    assert len(engenius) > 10_000
    for vendor in ("aerohive", "meraki"):
        other = posted[vendor].visits
        assert other.index.sort_values().equals(engenius.index.sort_values())
        both = engenius.join(other, suffixes=("", "_2"))
        assert (both["last_seen"].dt.floor("s") == both["last_seen_2"].dt.floor("s")).all()
        for column in ("observations", "associated", "randomized"):
            assert (both[column] == both[f"{column}_2"]).all(), column


def test_aerohive_and_meraki_give_every_visit_the_same_signal_ssid_and_zone(posted):
    both = paired(posted, "aerohive", "meraki")
    visitors = both.loc[(both["category"] == "visitor") & (both["category_2"] == "visitor")]

    assert (both["max_rssi"] == both["max_rssi_2"]).all()
    assert (both["ssid"].fillna("") == both["ssid_2"].fillna("")).all()
    assert len(visitors) > 1000
    assert (visitors["zone"] == visitors["zone_2"]).all()


def test_the_reports_agree_exactly_on_staff_the_days_and_the_share_of_randomized_macs(posted):
    reports = [posted[v].report for v in VENDORS]

    for key in ("from", "to", "staff", "randomized_share", "filters"):
        assert len({repr(r[key]) for r in reports}) == 1, key
    assert [[day["date"] for day in r["daily"]] for r in reports] == [[day["date"] for day in reports[0]["daily"]]] * 3
    assert [[zone["zone"] for zone in r["zones"]] for r in reports] == [[z["zone"] for z in reports[0]["zones"]]] * 3


# --- the same within what the formats say differently -----------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_visit_starts_less_than_a_reporting_interval_apart_in_any_two_formats(posted, first, second):
    both = paired(posted, first, second)
    apart = (both["first_seen"] - both["first_seen_2"]).abs()

    assert apart.max() < REPORTING_INTERVAL
    assert ((both["dwell"] - both["dwell_2"]).abs() < REPORTING_INTERVAL).all()


def test_engenius_starts_a_visit_at_its_first_frame_and_meraki_at_the_minutes_latest(posted):
    engenius, aerohive, meraki = (posted[v].visits.sort_index() for v in VENDORS)

    # EnGenius's whole seconds can only floor, so its start is never after Aerohive's; Meraki's never before it.
    assert (engenius["first_seen"] <= aerohive["first_seen"]).all()
    assert (meraki["first_seen"] >= aerohive["first_seen"].dt.floor("s")).all()
    # Who moves by more than a second: phones connected to the Wi-Fi, heard all through the minute by their AP.
    moved = (meraki["first_seen"] - engenius["first_seen"]) > WHOLE_SECOND
    assert moved.sum() > 100
    assert engenius.loc[moved, "associated"].all()


def test_engenius_hears_every_visit_at_least_as_strongly_as_a_single_frame_says(posted):
    both = paired(posted, "engenius", "aerohive")
    visitors = both.loc[(both["category"] == "visitor") & (both["category_2"] == "visitor")]

    assert (both["max_rssi"] >= both["max_rssi_2"]).all()
    assert (both["max_rssi"] > both["max_rssi_2"]).any()
    # Zones fitted to each AP's mean signal (EnGenius) or a single frame's: nearly every visit placed alike.
    assert (visitors["zone"] == visitors["zone_2"]).mean() >= 0.98


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_only_visits_at_a_threshold_change_category(posted, first, second):
    settings = posted[first].analysis.settings
    both = paired(posted, first, second)
    changed = both.loc[both["category"] != both["category_2"]]

    assert len(changed) <= COUNT_TOLERANCE
    long_enough = changed["dwell"] >= pd.Timedelta(settings.min_dwell)
    strong_enough = changed["max_rssi"] >= settings.visitor_rssi_dbm
    long_enough_2 = changed["dwell_2"] >= pd.Timedelta(settings.min_dwell)
    strong_enough_2 = changed["max_rssi_2"] >= settings.visitor_rssi_dbm
    assert ((long_enough != long_enough_2) | (strong_enough != strong_enough_2)).all()
    assert (changed["staff"] == changed["staff_2"]).all()
    near = (changed["dwell"] - pd.Timedelta(settings.min_dwell)).abs() < REPORTING_INTERVAL
    assert (near | (strong_enough != strong_enough_2)).all()


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_the_reports_agree_within_what_the_formats_say_differently(posted, first, second):
    ours, theirs = posted[first].report, posted[second].report

    for key in ("visitors", "passersby", "connected", "visits", "repeat_visitors", "new_visitors"):
        assert abs(ours[key] - theirs[key]) <= COUNT_TOLERANCE, (key, ours[key], theirs[key])
    for key, count in ours["loyalty"].items():
        assert abs(count - theirs["loyalty"][key]) <= COUNT_TOLERANCE, ("loyalty", key, count, theirs["loyalty"][key])
    for key, count in ours["dwell_buckets"].items():
        assert abs(count - theirs["dwell_buckets"][key]) <= BUCKET_TOLERANCE, (key, count, theirs["dwell_buckets"][key])
    for statistic in ("median", "mean"):
        difference = abs(ours["dwell_minutes"][statistic] - theirs["dwell_minutes"][statistic])
        assert difference <= DWELL_TOLERANCE_MIN, (statistic, difference)
    assert abs(ours["peak_occupancy"]["count"] - theirs["peak_occupancy"]["count"]) <= PEAK_TOLERANCE
    for day, other in zip(ours["daily"], theirs["daily"], strict=True):
        for key in ("visitors", "passersby", "connected"):
            assert abs(day[key] - other[key]) <= COUNT_TOLERANCE, (day["date"], key, day[key], other[key])
        assert abs(day["median_dwell_minutes"] - other["median_dwell_minutes"]) <= DWELL_TOLERANCE_MIN, day["date"]
        assert abs(day["peak_occupancy"] - other["peak_occupancy"]) <= PEAK_TOLERANCE, day["date"]
    for zone, other in zip(ours["zones"], theirs["zones"], strict=True):
        assert abs(zone["visitors"] - other["visitors"]) <= ZONE_SHARE_TOLERANCE * zone["visitors"], zone["zone"]


def test_the_week_is_busy_enough_for_the_comparison_to_mean_something(posted):
    week = posted["aerohive"].report

    assert week["visitors"] > 1000
    assert week["connected"] > 100
    assert week["passersby"] > 5000
    assert len(week["zones"]) == len(default_shop().aps)
    assert posted["aerohive"].analysis.window_end - posted["aerohive"].analysis.window_start == timedelta(days=7)
