"""Sessionization: the gap rule, merging across APs, per-site visits, dwell, and invariants (hypothesis)."""

from __future__ import annotations

from datetime import UTC, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.schema import typed_observations
from analytics.settings import SPAN, AnalyticsSettings
from analytics.visits import label_visits, visits
from tests.analytics.builders import AP1, AP2, at, frame, observation, stay

GAP = AnalyticsSettings().visit_gap
# Sessionization is checked on the span heard (the estimated stay adds to it: tests/analytics/test_stays.py).
HEARD = AnalyticsSettings(dwell_estimate=SPAN)


def visits_of(observations: pd.DataFrame, gap: timedelta = GAP, tz: tzinfo = UTC) -> pd.DataFrame:
    return visits(label_visits(typed_observations(observations), gap), tz, HEARD)


@pytest.mark.parametrize(
    ("gap_seconds", "expected_visits"),
    [(14 * 60 + 59, 1), (15 * 60, 1), (15 * 60 + 1, 2), (3600, 2)],
)
def test_a_new_visit_starts_only_after_a_gap_longer_than_visit_gap(gap_seconds, expected_visits):
    observations = frame(
        observation("a", at(minute=0), at(minute=10)),
        observation("a", at(minute=10, second=gap_seconds)),
    )

    assert len(visits_of(observations)) == expected_visits


def test_the_gap_is_measured_from_the_latest_last_seen_so_far_not_the_previous_row():
    # A long report from AP1 overlaps a short one from AP2; the next sighting is 14 min after the long one ends
    # but 40 min after the short one started and ended.
    observations = frame(
        observation("a", at(minute=0), at(minute=30), ap=AP1),
        observation("a", at(minute=1), at(minute=2), ap=AP2),
        observation("a", at(minute=44), ap=AP2),
    )

    [visit] = visits_of(observations).itertuples()

    assert visit.first_seen == pd.Timestamp(at(minute=0))
    assert visit.last_seen == pd.Timestamp(at(minute=44))
    assert visit.dwell == pd.Timedelta(minutes=44)
    assert visit.observations == 3


def test_observations_from_every_ap_merge_and_dwell_uses_first_and_last_seen():
    observations = frame(
        stay("a", at(minute=0), 20, ap=AP1, rssi=-70),
        stay("a", at(minute=5), 30, ap=AP2, rssi=-50),
    )

    [visit] = visits_of(observations).itertuples()

    assert visit.dwell_minutes == 35.0
    assert visit.max_rssi == -50.0


def test_visits_are_per_site_and_per_device():
    observations = frame(
        stay("a", at(minute=0), 10, site="north"),
        stay("a", at(minute=0), 10, site="south"),
        stay("b", at(minute=0), 10, site="north"),
    )

    result = visits_of(observations)

    assert sorted(zip(result["site"], result["device"], strict=True)) == [
        ("north", "a"),
        ("north", "b"),
        ("south", "a"),
    ]


def test_visit_attributes_associated_ssid_manufacturer_and_local_day():
    observations = frame(
        observation("a", at(hour=23, minute=10), manufacturer=None),
        observation("a", at(hour=23, minute=20), associated=True, ssid="Guest", manufacturer="Apple, Inc."),
        observation("a", at(hour=23, minute=30), randomized=True),
    )

    [visit] = visits_of(observations, tz=ZoneInfo("Europe/Amsterdam")).itertuples()

    assert visit.associated
    assert visit.ssid == "Guest"
    assert visit.manufacturer == "Apple, Inc."
    assert visit.randomized
    # 23:10 UTC on Monday is 00:10 on Tuesday in Amsterdam (UTC+1 in November).
    assert visit.day == pd.Timestamp("2026-11-03")


def test_label_visits_does_not_mutate_its_input_and_empty_input_gives_no_visits():
    observations = typed_observations(frame(stay("b", at(), 3), stay("a", at(), 3)))
    before = observations.copy()

    label_visits(observations, GAP)

    pd.testing.assert_frame_equal(observations, before)
    assert visits_of(frame()).empty


sightings = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 30_000), st.integers(0, 900), st.sampled_from([AP1, AP2])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=75, deadline=None)
@given(sightings)
def test_visits_never_overlap_are_gap_separated_cover_every_observation_and_fit_the_span(rows):
    observations = frame(
        [
            observation(device, at(second=offset), at(second=offset + length), ap=ap)
            for device, offset, length, ap in rows
        ]
    )
    labelled = label_visits(typed_observations(observations), GAP)
    result = visits(labelled, at().tzinfo, HEARD)

    assert result["observations"].sum() == len(observations)
    bounds = result.set_index("visit")[["first_seen", "last_seen"]].add_suffix("_visit")
    joined = labelled.join(bounds, on="visit")
    assert (joined["first_seen"] >= joined["first_seen_visit"]).all()
    assert (joined["last_seen"] <= joined["last_seen_visit"]).all()
    for _device, own in result.sort_values("first_seen").groupby("device"):
        starts, ends = own["first_seen"].to_numpy(), own["last_seen"].to_numpy()
        assert (starts[1:] - ends[:-1] > pd.Timedelta(GAP).to_timedelta64()).all()
        span = own["last_seen"].max() - own["first_seen"].min()
        assert own["dwell"].sum() <= span


@settings(max_examples=40, deadline=None)
@given(sightings, st.randoms(use_true_random=False))
def test_visits_do_not_depend_on_row_order(rows, random):
    observations = frame(
        [
            observation(device, at(second=offset), at(second=offset + length), ap=ap)
            for device, offset, length, ap in rows
        ]
    )
    shuffled = observations.sample(frac=1.0, random_state=random.randint(0, 1000)).reset_index(drop=True)

    columns = ["device", "first_seen", "last_seen", "observations"]
    pd.testing.assert_frame_equal(visits_of(observations)[columns], visits_of(shuffled)[columns])
