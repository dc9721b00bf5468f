"""The Zones page's floor plan: drawn to scale in metres, whatever width it is drawn at (issue 17)."""

from __future__ import annotations

import json
import re

import altair as alt
import pandas as pd
import pytest
import vl_convert

from app.dashboard import charts

# The default simulated shop's APs (simulator/layout.py), and visits around them.
APS = pd.DataFrame(
    {
        "name": ["Entrance", "Checkout", "Fitting rooms", "Back"],
        "mac": ["a", "b", "c", "d"],
        "x": [5.0, 15.0, 26.0, 9.0],
        "y": [3.0, 5.0, 15.0, 17.0],
    }
)
POSITIONS = pd.DataFrame({"x": [6.0, 12.5, 24.0, 9.5, 17.25], "y": [4.0, 9.0, 14.0, 15.5, 6.75]})
SQUARE = re.compile(r'aria-roledescription="point" transform="translate\(([-\d.]+),([-\d.]+)\)"')


def spec(chart: alt.TopLevelMixin) -> dict:
    return json.loads(chart.to_json())


def ap_pixels(chart: alt.TopLevelMixin) -> list[tuple[float, float]]:
    """Where the AP squares are drawn (in the plot's pixels, y down), in the order of APS."""
    svg = vl_convert.vegalite_to_svg(chart.to_json())
    return [(float(x), float(y)) for x, y in SQUARE.findall(svg)]


def pixels_per_metre(chart: alt.TopLevelMixin) -> tuple[float, float]:
    """Pixels per metre across and up, measured between Entrance and Fitting rooms as drawn."""
    (x0, y0), _, (x1, y1), _ = ap_pixels(chart)
    return (x1 - x0) / (26.0 - 5.0), (y0 - y1) / (15.0 - 3.0)


def test_the_extent_is_the_aps_and_positions_with_a_margin_out_to_whole_metres() -> None:
    assert charts._extent(APS, POSITIONS) == (3.0, 28.0, 1.0, 19.0)
    assert charts._extent(APS, pd.DataFrame({"x": [30.4], "y": [-0.5]})) == (3.0, 33.0, -3.0, 19.0)
    assert charts._extent(APS.iloc[:0], POSITIONS.iloc[:0]) == (0.0, 1.0, 0.0, 1.0)


def test_the_plot_has_the_floor_s_proportions_and_axes_in_metres() -> None:
    drawn = spec(charts.floor_plan(APS, POSITIONS))

    # 25 m x 18 m within 640 x 480 px: 25.6 px a metre either way.
    assert (drawn["width"], drawn["height"]) == (640, 461)
    assert drawn["width"] / drawn["height"] == pytest.approx(25 / 18, rel=0.01)
    titles = {layer["encoding"][channel]["title"] for layer in drawn["layer"] for channel in ("x", "y")}
    assert titles == {"x (metres)", "y (metres)"}


def test_a_tall_floor_fits_the_height_and_stays_to_scale() -> None:
    tall = APS.assign(x=APS["x"] / 4, y=APS["y"] * 3)  # 1.25..6.5 m across, 9..51 m up

    drawn = spec(charts.floor_plan(tall, POSITIONS.iloc[:0]))

    assert drawn["height"] == 480
    x_min, x_max, y_min, y_max = charts._extent(tall, POSITIONS.iloc[:0])
    assert drawn["width"] / drawn["height"] == pytest.approx((x_max - x_min) / (y_max - y_min), rel=0.03)


def test_the_scale_domains_are_the_extent_at_the_drawn_size() -> None:
    chart = charts.floor_plan(APS, POSITIONS)
    drawn = spec(chart)

    # Entrance at x 5 m, y 3 m of a plot from x 3 m and y 1 m: 2 m in, 2 m up from the bottom.
    entrance, *_ = ap_pixels(chart)
    assert entrance == pytest.approx((2 * 640 / 25, drawn["height"] - 2 * drawn["height"] / 18), abs=0.5)
    across, up = pixels_per_metre(chart)
    assert across == pytest.approx(640 / 25, rel=0.01)
    assert up == pytest.approx(across, rel=0.01)


@pytest.mark.parametrize("width", [300, charts.EXPORT_WIDTH, 1400])
def test_a_metre_stays_square_at_any_width_the_page_or_the_png_gives_it(width: int) -> None:
    # The page stretches charts to their column, and PNGs get for_export's width: only the width changes.
    chart = charts.floor_plan(APS, POSITIONS).properties(width=width)

    across, up = pixels_per_metre(chart)

    assert up == pytest.approx(across, rel=0.01)
    assert across == pytest.approx(min(width / 25, 461 / 18), rel=0.01)  # the whole floor still shows


def test_the_png_export_is_to_scale() -> None:
    across, up = pixels_per_metre(charts.for_export(charts.floor_plan(APS, POSITIONS)))

    assert up == pytest.approx(across, rel=0.01)


def test_the_chart_draws_every_position_and_names_every_ap() -> None:
    drawn = spec(charts.floor_plan(APS, POSITIONS))
    datasets = {name: pd.DataFrame(rows) for name, rows in drawn["datasets"].items()}
    dots, squares, *labels = drawn["layer"]

    pd.testing.assert_frame_equal(datasets[dots["data"]["name"]], POSITIONS)
    assert dots["mark"]["type"] == "circle"
    assert 0 < dots["mark"]["opacity"] < 1
    assert squares["mark"]["shape"] == "square"
    assert datasets[squares["data"]["name"]]["name"].tolist() == APS["name"].tolist()
    assert all(label["mark"]["type"] == "text" and label["encoding"]["text"]["field"] == "name" for label in labels)


def test_aps_alone_still_make_a_plan() -> None:
    chart = charts.floor_plan(APS, POSITIONS.iloc[:0])

    assert len(ap_pixels(chart)) == 4
    across, up = pixels_per_metre(chart)
    assert up == pytest.approx(across, rel=0.01)
