"""Filters keep or drop whole visits before classification; randomized MACs can be left out of every count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.filters import Filters, filter_visits
from analytics.report import analyse, build_report
from tests.analytics.builders import AP2, MONDAY, at, frame, stay

START, END = MONDAY, MONDAY + timedelta(days=1)


def observations():
    return frame(
        stay("guest", at(), 30, associated=True, ssid="Shop Guest", manufacturer="Apple, Inc."),
        stay("staffnet", at(), 30, associated=True, ssid="STAFF", manufacturer="Samsung Electronics Co.,Ltd"),
        stay("probe", at(), 30, manufacturer=None, randomized=True, ap=AP2),
        stay("brief", at(), 2, manufacturer="Apple, Inc."),
    )


@pytest.mark.parametrize(
    ("filters", "devices"),
    [
        (Filters(), {"guest", "staffnet", "probe", "brief"}),
        (Filters(ssid="guest"), {"guest"}),
        (Filters(ssid="st"), {"guest", "staffnet"}),  # substring, case-insensitive
        (Filters(manufacturer="APPLE"), {"guest", "brief"}),
        (Filters(manufacturer="samsung"), {"staffnet"}),
        (Filters(ap=AP2.upper()), {"probe"}),
        (Filters(exclude_randomized=True), {"guest", "staffnet", "brief"}),
        (Filters(ssid="guest", manufacturer="samsung"), set()),
    ],
)
def test_filters_pick_whole_visits(filters, devices):
    result = analyse(observations(), START, END, filters=filters)

    assert set(result.window_visits["device"]) == devices


def test_filters_do_not_mutate_their_input():
    visits = analyse(observations(), START, END).visits
    before = visits.copy()

    filter_visits(visits, Filters(ssid="guest", exclude_randomized=True))

    assert visits.equals(before)


def test_a_visit_that_touched_the_ssid_keeps_its_whole_dwell():
    # Only 3 minutes of this phone's 30-minute visit were on the guest network: the visit still touched it, so it
    # counts for the guest SSID whole, a connected visitor of 30 minutes (not a passerby of 3).
    rows = frame(stay("a", at(), 30, ssid=None), stay("a", at(minute=10), 3, associated=True, ssid="Guest"))

    unfiltered = build_report(rows, START, END)
    on_guest = build_report(rows, START, END, filters=Filters(ssid="guest"))
    elsewhere = build_report(rows, START, END, filters=Filters(ssid="staff"))

    assert (unfiltered["visitors"], unfiltered["connected"]) == (1, 1)
    assert (on_guest["visitors"], on_guest["passersby"], on_guest["connected"]) == (1, 0, 1)
    assert on_guest["dwell_minutes"] == unfiltered["dwell_minutes"]
    assert (elsewhere["visitors"], elsewhere["passersby"]) == (0, 0)


def test_every_ap_that_heard_a_visit_finds_it():
    rows = frame(stay("a", at(), 30), stay("a", at(minute=20), 2, ap=AP2))

    assert build_report(rows, START, END, filters=Filters(ap=AP2))["visitors"] == 1


def test_excluding_randomized_macs_changes_every_count():
    report = build_report(observations(), START, END)
    without = build_report(observations(), START, END, filters=Filters(exclude_randomized=True))

    assert (report["visitors"], report["passersby"], report["randomized_share"]) == (3, 1, 0.25)
    assert (without["visitors"], without["passersby"], without["randomized_share"]) == (2, 1, 0.0)
    assert without["filters"]["exclude_randomized"] is True
