"""Zones from RSSI fingerprints: naming, the zone of a visit, transitions, positions, and the single-AP case."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from analytics.filters import Filters
from analytics.report import analyse, build_report, zone_stats, zone_transitions
from analytics.settings import SPAN, AnalyticsSettings
from analytics.zones import visit_zones
from config.settings import AccessPoint
from tests.analytics.builders import AP1, AP2, AP3, MONDAY, at, frame, stay

START, END = MONDAY, MONDAY + timedelta(days=1)
HEARD = AnalyticsSettings(dwell_estimate=SPAN)  # exact dwell figures: the span heard
NAMED = {
    AP1: AccessPoint(mac=AP1, name="Entrance", site="shop", x=0.0, y=0.0),
    AP2: AccessPoint(mac=AP2, name="Back", site="shop", x=10.0, y=0.0),
}


def near(device: str, ap_near: str, ap_far: str, start, minutes: int) -> list[dict]:
    """A phone standing by `ap_near`: heard there at -50 dBm and at `ap_far` at -85 dBm, every minute."""
    return stay(device, start, minutes, ap=ap_near, rssi=-50) + stay(device, start, minutes, ap=ap_far, rssi=-85)


def two_zone_shop():
    return frame(
        *(near(f"e{i}", AP1, AP2, at(minute=i), 20) for i in range(5)),
        *(near(f"b{i}", AP2, AP1, at(minute=i), 20) for i in range(5)),
        near("walker", AP1, AP2, at(hour=12), 20),
        near("walker", AP2, AP1, at(hour=12, minute=21), 10),
    )


def test_each_visit_gets_the_zone_it_spent_most_time_in_named_after_the_configured_ap():
    analysis = analyse(two_zone_shop(), START, END, access_points=NAMED)
    zones = analysis.visits.set_index("device")

    assert zones.loc[[f"e{i}" for i in range(5)], "zone"].tolist() == ["Entrance"] * 5
    assert zones.loc[[f"b{i}" for i in range(5)], "zone"].tolist() == ["Back"] * 5
    assert (zones.loc["walker", "zone"], zones.loc["walker", "last_zone"]) == ("Entrance", "Back")


def test_zones_without_configured_names_are_named_by_ap_mac():
    analysis = analyse(two_zone_shop(), START, END)

    assert sorted(analysis.visits["zone"].unique()) == sorted([AP1, AP2])


def test_zone_stats_and_transitions():
    analysis = analyse(two_zone_shop(), START, END, HEARD, access_points=NAMED)

    stats = zone_stats(analysis).set_index("zone")
    transitions = zone_transitions(analysis)

    assert stats.loc["Entrance"].tolist() == [6, 6, 20.0]
    assert stats.loc["Back"].tolist() == [5, 5, 20.0]
    assert transitions.loc["Entrance", "Back"] == 1
    assert int(transitions.to_numpy().sum()) == 1


def test_zone_filter_keeps_the_visits_that_spent_most_time_in_the_zone():
    report = build_report(two_zone_shop(), START, END, filters=Filters(zone="back"), access_points=NAMED)

    assert (report["visitors"], report["passersby"], report["visits"]) == (5, 0, 5)
    assert [zone["zone"] for zone in report["zones"]] == ["Back"]


def test_positions_are_the_softened_power_weighted_centroid_of_positioned_aps():
    rows = frame(stay("a", at(), 10, ap=AP1, rssi=-50), stay("a", at(), 10, ap=AP2, rssi=-60))

    [visit] = analyse(rows, START, END, access_points=NAMED).visits.itertuples()

    # Summed power 10 * 10^-5 and 10 * 10^-6 mW, weights those to the 0.6: x = 10 / (1 + 10^0.6) (issue 17).
    assert visit.x == pytest.approx(10 / (1 + 10**0.6))
    assert visit.y == 0.0


def test_positions_are_missing_without_configured_floor_positions():
    [visit] = analyse(frame(stay("a", at(), 10)), START, END).visits.itertuples()

    assert visit.x != visit.x  # NaN


def test_a_single_ap_makes_one_zone():
    rows = frame(stay("a", at(), 10, rssi=-40), stay("b", at(), 10, rssi=-74))

    report = build_report(rows, START, END, HEARD, access_points={AP1: AccessPoint(AP1, "Shop", "shop")})

    assert report["zones"] == [{"zone": "Shop", "visitors": 2, "visits": 2, "median_dwell_minutes": 10.0}]


def test_three_aps_and_a_fixed_random_state_give_the_same_zones_every_time():
    rows = frame(
        *(near(f"a{i}", AP1, AP2, at(minute=i), 10) for i in range(3)),
        *(near(f"b{i}", AP2, AP3, at(minute=i), 10) for i in range(3)),
        *(near(f"c{i}", AP3, AP1, at(minute=i), 10) for i in range(3)),
    )
    settings = AnalyticsSettings(random_state=7)

    first = analyse(rows, START, END, settings).visits["zone"].tolist()
    second = analyse(rows.sample(frac=1.0, random_state=1), START, END, settings).visits["zone"].tolist()

    assert first == second == [AP1] * 3 + [AP2] * 3 + [AP3] * 3


def test_a_visit_zone_weighs_each_fingerprint_by_the_time_it_stands_for():
    # Three fingerprints at the entrance (minutes 0, 1, 2), then two at the back (minutes 10 and 14): by count the
    # entrance wins 3 to 2, by time the back does (each period counts half the gap to each neighbour, + 1 s):
    # entrance 31 + 61 + 271 = 363 s, back 361 + 121 = 482 s.
    minutes = [0, 1, 2, 10, 14]
    periods = pd.DataFrame(
        {
            "visit": [0] * 5,
            "period": [pd.Timestamp(at(minute=m)) for m in minutes],
            "zone": ["Entrance"] * 3 + ["Back"] * 2,
        }
    )

    result = visit_zones(periods)

    assert result.loc[0].tolist() == ["Back", "Back"]
    assert visit_zones(periods.iloc[:4]).loc[0, "zone"] == "Entrance"  # 31 + 61 + 271 against 241
