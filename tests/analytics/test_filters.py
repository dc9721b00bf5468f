"""Filters narrow the observations before classification; randomized MACs can be left out of every count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.filters import Filters, filter_observations
from analytics.report import build_report
from analytics.schema import typed_observations
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
def test_filter_observations(filters, devices):
    result = filter_observations(typed_observations(observations()), filters)

    assert set(result["device"]) == devices


def test_filters_do_not_mutate_their_input():
    typed = typed_observations(observations())
    before = typed.copy()

    filter_observations(typed, Filters(ssid="guest", exclude_randomized=True))

    assert typed.equals(before)


def test_a_filter_applies_before_classification():
    # Only 3 minutes of this phone's 30-minute visit were on the guest network: filtered to the guest SSID, what
    # remains is too short to be a visit, so it is a passerby of that network, not a connected visitor.
    rows = frame(stay("a", at(), 30, ssid=None), stay("a", at(minute=10), 3, associated=True, ssid="Guest"))

    unfiltered = build_report(rows, START, END)
    on_guest = build_report(rows, START, END, filters=Filters(ssid="guest"))

    assert (unfiltered["visitors"], unfiltered["connected"]) == (1, 1)
    assert (on_guest["visitors"], on_guest["passersby"], on_guest["connected"]) == (0, 1, 0)


def test_excluding_randomized_macs_changes_every_count():
    report = build_report(observations(), START, END)
    without = build_report(observations(), START, END, filters=Filters(exclude_randomized=True))

    assert (report["visitors"], report["passersby"], report["randomized_share"]) == (3, 1, 0.25)
    assert (without["visitors"], without["passersby"], without["randomized_share"]) == (2, 1, 0.0)
    assert without["filters"]["exclude_randomized"] is True
