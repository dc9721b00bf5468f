"""Every chart renders in real Vega (vl-convert, offline) with a title, axis titles, tooltips and our palette."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest
import vl_convert

from app.dashboard import charts, ui
from config.settings import AccessPoint

HOURS = pd.date_range("2026-11-02 10:00", periods=8, freq="15min")
DAYS = pd.date_range("2026-11-02", periods=7, freq="D")
ZONES = ["Back", "Checkout", "Entrance"]


def recent() -> pd.DataFrame:
    now = pd.DataFrame({"time": HOURS, "series": "Now", "visitors": [0, 1, 3, 4, 4, 2, 5, 6]})
    usual = pd.DataFrame({"time": HOURS, "series": "Typical", "visitors": [1.0, 1.5, 2, 2.5, 3, 3, 3.5, 4]})
    return pd.concat([now, usual], ignore_index=True)


def daily() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": DAYS,
            "visitors": [210, 190, 220, 240, 300, 410, 250],
            "passersby": [1500] * 7,
            "connected": [30] * 7,
            "staff": [4] * 7,
            "median_dwell_minutes": [18.5] * 7,
            "peak_occupancy": [20] * 7,
        }
    )


CHARTS = {
    "occupancy_recent": lambda: charts.occupancy_recent(recent()),
    "zone_counts": lambda: charts.zone_counts(pd.DataFrame({"zone": ZONES, "visitors": [3, 1, 2]})),
    "daily_visitors": lambda: charts.daily_visitors(daily(), include_staff=True),
    "dwell_buckets": lambda: charts.dwell_buckets(
        pd.DataFrame({"bucket": ["5-20", "20-60", "60-360", "360+"], "visits": [900, 600, 100, 0]})
    ),
    "loyalty": lambda: charts.loyalty(
        pd.DataFrame({"category": ["First time", "Occasional", "Weekly", "Daily"], "visitors": [900, 40, 60, 6]})
    ),
    "breakdown": lambda: charts.breakdown(
        pd.DataFrame({"value": ["Apple, Inc.", "Samsung"], "visitors": [200, 150], "share": [0.2, 0.15]}),
        "Manufacturer",
        title="Visitors by phone manufacturer",
    ),
    "week_over_week": lambda: charts.week_over_week(
        pd.DataFrame(
            {
                "weekday": list(charts.WEEKDAYS[:3]) * 3,
                "series": ["The week"] * 3 + ["The week before"] * 3 + ["4-week average"] * 3,
                "visitors": [200.0, 210, 190, 180, 200, 185, 190, 205, 188],
            }
        )
    ),
    "hour_of_week": lambda: charts.hour_of_week(
        pd.DataFrame(
            {"weekday": [d for d in charts.WEEKDAYS for _ in range(24)], "hour": list(range(24)) * 7, "visitors": 1.5}
        )
    ),
    "weekday_visitors": lambda: charts.weekday_visitors(
        pd.DataFrame({"weekday": list(charts.WEEKDAYS), "visitors": [200.0] * 7, "days": [4] * 7})
    ),
    "zone_dwell": lambda: charts.zone_dwell(
        pd.DataFrame(
            {"zone": ZONES, "visitors": [3, 1, 2], "visits": [3, 1, 2], "median_dwell_minutes": [20.0, 5.5, 9.0]}
        )
    ),
    "zone_occupancy": lambda: charts.zone_occupancy(
        pd.DataFrame({"hour": [9, 10, 9, 10], "zone": ["Back", "Back", "Entrance", "Entrance"], "visitors": 1.0})
    ),
    "zone_movement": lambda: charts.zone_movement(
        pd.DataFrame({"from": ["Back", "Back", "Entrance"], "to": ["Back", "Entrance", "Back"], "moves": [0, 7, 3]})
    ),
    "floor_plan": lambda: charts.floor_plan(
        pd.DataFrame({"name": ["Entrance", "Back"], "mac": ["a", "b"], "x": [5.0, 9.0], "y": [3.0, 17.0]}),
        pd.DataFrame({"x": [6.0, 8.5], "y": [4.0, 15.0]}),
    ),
}


def specs(spec: dict) -> list[dict]:
    """The spec and every layer in it."""
    return [spec, *(inner for layer in spec.get("layer", []) for inner in specs(layer))]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_renders_offline_with_title_axes_and_tooltips(name: str) -> None:
    chart = CHARTS[name]()
    assert isinstance(chart, alt.TopLevelMixin)
    spec = json.loads(chart.to_json())
    assert spec["title"]
    encodings = [layer["encoding"] for layer in specs(spec) if "encoding" in layer]
    assert any("tooltip" in encoding for encoding in encodings)
    for encoding in encodings:
        for channel in ("x", "y"):
            if channel in encoding and "field" in encoding[channel]:
                assert "title" in encoding[channel], f"{name}: {channel} needs an axis title"
    svg = vl_convert.vegalite_to_svg(chart.to_json())
    assert svg.startswith("<svg")


@pytest.mark.parametrize("name", ["daily_visitors", "week_over_week", "hour_of_week"])
def test_presentation_and_png_export(name: str) -> None:
    large = charts.presentation(CHARTS[name]())
    spec = json.loads(large.to_json())
    assert spec["config"]["axis"]["labelFontSize"] == 16
    png = ui.png(large)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_categories_keep_their_okabe_ito_colours() -> None:
    spec = json.loads(charts.daily_visitors(daily(), include_staff=True).to_json())
    scale = spec["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == {
        "Visitors": charts.OKABE_ITO["blue"],
        "Connected": charts.OKABE_ITO["green"],
        "Staff": charts.OKABE_ITO["purple"],
    }


def test_floor_plan_takes_configured_access_points() -> None:
    from app.dashboard import tables

    aps = tables.floor_aps(
        {
            "aa:00:00:00:00:01": AccessPoint("aa:00:00:00:00:01", "Entrance", "shop", 5.0, 3.0),
            "aa:00:00:00:00:02": AccessPoint("aa:00:00:00:00:02", "Unplaced", "shop"),
        }
    )
    assert aps.to_dict("records") == [{"name": "Entrance", "mac": "aa:00:00:00:00:01", "x": 5.0, "y": 3.0}]
