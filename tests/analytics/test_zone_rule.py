"""The zone rule of issue 15: fingerprints relative to their strongest AP, smoothed within a visit, each AP measured
against its own usual level, and the strongest-AP rule it is compared with."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import zones
from analytics.settings import AnalyticsSettings
from analytics.visits import label_visits
from config.settings import AccessPoint
from tests.analytics.builders import AP1, AP2, AP3, at, frame, stay

SETTINGS = AnalyticsSettings()
FLOOR = SETTINGS.rssi_floor_dbm
NAMED = {AP1: AccessPoint(AP1, "Door", "shop"), AP2: AccessPoint(AP2, "Back", "shop")}


def wide(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    """A fingerprints frame from (key, minute, AP1 dBm, AP2 dBm) rows (NaN: not heard)."""
    index = pd.MultiIndex.from_tuples(
        [(key, pd.Timestamp(at(minute=minute))) for key, minute, _, _ in rows], names=["visit", "period"]
    )
    return pd.DataFrame([[a, b] for _, _, a, b in rows], index=index, columns=pd.Index([AP1, AP2], name="ap_mac"))


def test_a_phones_transmit_offset_cancels_in_the_fingerprint():
    quiet = wide([("quiet", 0, -70.0, -80.0)])
    loud = wide([("loud", 0, -58.0, -68.0)])

    np.testing.assert_array_equal(zones.zone_features(quiet, [AP1, AP2], FLOOR), [[0.0, -10.0]])
    np.testing.assert_array_equal(zones.zone_features(loud, [AP1, AP2], FLOOR), [[0.0, -10.0]])


def test_an_unheard_or_far_ap_counts_as_the_relative_floor():
    rows = wide([("a", 0, -50.0, np.nan), ("b", 0, -50.0, -95.0)])

    features = zones.zone_features(rows, [AP1, AP2], FLOOR)

    np.testing.assert_array_equal(features, [[0.0, zones.RELATIVE_FLOOR_DB], [0.0, zones.RELATIVE_FLOOR_DB]])


def test_smoothing_leans_on_the_neighbouring_minutes_of_the_same_visit_only():
    # Minute 1 of visit a fades: AP2 louder for one minute. Its neighbours pull it back; visit b is not touched.
    rows = wide([("a", 0, -50.0, -60.0), ("a", 1, -62.0, -58.0), ("a", 2, -50.0, -60.0), ("b", 1, -70.0, -50.0)])

    features = zones.zone_features(rows, [AP1, AP2], FLOOR)

    weight = np.exp(-0.5 * (60 / zones.SMOOTHING_SIGMA.total_seconds()) ** 2)
    ap1, ap2 = (-62 + 2 * weight * -50) / (1 + 2 * weight), (-58 + 2 * weight * -60) / (1 + 2 * weight)
    assert features[1] == pytest.approx([max(ap1 - max(ap1, ap2), -30), ap2 - max(ap1, ap2)])
    assert features[3].tolist() == [-20.0, 0.0]
    # Rows far apart in time are not smoothed together.
    apart = wide([("a", 0, -50.0, -60.0), ("a", 10, -60.0, -50.0)])
    np.testing.assert_array_equal(zones.zone_features(apart, [AP1, AP2], FLOOR), [[0.0, -10.0], [-10.0, 0.0]])


def test_an_ap_that_hears_everyone_loud_claims_only_its_own_place():
    # AP1 hangs low by the door: 6 dB louder than AP2 everywhere. Phones at AP2's place hear AP1 4 dB weaker than
    # AP2 instead of 10; phones between the two hear AP1 2 dB louder, and belong to AP2 more than to AP1's own place.
    door = [(f"door{i}", i, -50.0, -70.0) for i in range(21)]  # at AP1
    back = [(f"back{i}", i, -64.0, -60.0) for i in range(19)]  # at AP2
    between = wide([("between", 0, -58.0, -60.0)])

    model = zones.fit_site_zones("shop", [AP1, AP2], wide(door + back), NAMED, SETTINGS)
    plain = zones.strongest_ap_model("shop", (AP1, AP2), NAMED)

    assert model.rule.levels.tolist() == [0.0, -20.0]
    assert model.cluster_zones == ("Door", "Back")
    assert model.predict(between, FLOOR).tolist() == ["Back"]
    assert plain.predict(between, FLOOR).tolist() == ["Door"]
    assert model.predict(wide([door[3], back[3]]), FLOOR).tolist() == ["Door", "Back"]


def test_one_long_visit_cannot_move_the_levels():
    short = [(f"v{i}", 0, -50.0, -60.0) for i in range(120)] + [(f"w{i}", 0, -60.0, -50.0) for i in range(80)]
    # One phone heard for 8 hours by AP2 only: more periods than all the others together, weighed as 30.
    long_stay = [("staff", minute, np.nan, -45.0) for minute in range(480)]

    levels = zones.fit_site_zones("shop", [AP1, AP2], wide(short), None, SETTINGS).rule.levels
    with_staff = zones.fit_site_zones("shop", [AP1, AP2], wide(short + long_stay), None, SETTINGS).rule.levels

    assert levels.tolist() == [0.0, -10.0]
    assert with_staff.tolist() == levels.tolist()
    # Weighed by its periods, it would have moved both levels.
    unweighted = zones.ap_levels(zones.zone_features(wide(short + long_stay), [AP1, AP2], FLOOR), np.ones(680))
    assert unweighted.tolist() == [-30.0, 0.0]


def test_stored_levels_give_the_same_model():
    rows = [(f"a{i}", 0, -50.0, -70.0) for i in range(5)] + [(f"b{i}", 0, -70.0, -52.0) for i in range(5)]
    fitted = zones.fit_site_zones("shop", [AP1, AP2], wide(rows), NAMED, SETTINGS)

    stored = zones.site_zones_from_levels("shop", fitted.aps, fitted.rule.levels, NAMED)

    assert (stored.site, stored.aps, stored.cluster_zones) == (fitted.site, fitted.aps, fitted.cluster_zones)
    np.testing.assert_array_equal(stored.rule.levels, fitted.rule.levels)
    assert zones.cluster_aps(stored) == (AP1, AP2)


def test_the_strongest_ap_rule_takes_the_ap_with_the_strongest_mean_over_the_visit():
    observations = frame(
        # Mostly by AP1, one minute much louder at AP2 (walking past it).
        stay("a", at(), 4, ap=AP1, rssi=-55),
        stay("a", at(), 4, ap=AP2, rssi=-70),
        stay("a", at(minute=5), 0, ap=AP2, rssi=-40),
        # Heard by AP3 once, loud: the floor stands for the minutes AP3 did not hear it.
        stay("b", at(), 5, ap=AP2, rssi=-60),
        stay("b", at(minute=2), 0, ap=AP3, rssi=-50),
    )
    labelled = label_visits(observations, timedelta(minutes=15))

    zone = zones.strongest_ap_zones(labelled, NAMED, SETTINGS)

    device = labelled.drop_duplicates("visit").set_index("visit")["device"]
    assert zone.rename(index=device).sort_index().to_dict() == {"a": "Door", "b": "Back"}
