"""Charts: pure functions from tidy DataFrames to `alt.Chart`, titled, labelled, with tooltips and units.

Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies) with a fixed meaning across the
dashboard: visitors blue, passersby orange, connected green, staff purple; "typical" and averages grey and dashed.
Times arrive as naive site-local timestamps, so every browser shows the shop's clock, whatever its own time zone.
Charts set no width: the page stretches them to the column (phones included); `for_export` fixes one for PNGs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "vermillion": "#D55E00",
    "yellow": "#F0E442",
    "black": "#000000",
}
GREY = "#8C8C8C"
CATEGORY_COLOURS = {
    "Visitors": OKABE_ITO["blue"],
    "Passersby": OKABE_ITO["orange"],
    "Connected": OKABE_ITO["green"],
    "Staff": OKABE_ITO["purple"],
}
PROXIMITY_ORDER = ("Passersby", "Visitors", "Connected")
SEQUENTIAL_SCHEME = "blues"  # one hue, light to dark: readable without colour vision and in greyscale print
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_HEIGHT = 300
# Legends on the right: Streamlit's chart theme squeezes the plot to a sliver under a top or bottom legend.
LEGEND = alt.Legend(orient="right")
LINE_LEGEND = alt.Legend(orient="right", symbolType="stroke", symbolStrokeWidth=3)
EXPORT_WIDTH = 900


def occupancy_recent(frame: pd.DataFrame) -> alt.LayerChart:
    """Visitors inside over the last hours (solid) against the typical level for the weekday and time (dashed).

    frame: time (naive local), series ("Now" or "Typical"), visitors.
    """
    base = alt.Chart(frame).encode(
        x=alt.X("time:T", title="Time (store clock)", axis=alt.Axis(format="%H:%M")),
        y=alt.Y("visitors:Q", title="Visitors inside", axis=alt.Axis(format="d", tickMinStep=1)),
        color=alt.Color(
            "series:N",
            title=None,
            scale=alt.Scale(domain=["Now", "Typical"], range=[OKABE_ITO["blue"], GREY]),
            legend=LINE_LEGEND,
        ),
        strokeDash=alt.StrokeDash(
            "series:N", scale=alt.Scale(domain=["Now", "Typical"], range=[[1, 0], [6, 4]]), legend=None
        ),
        tooltip=[
            alt.Tooltip("time:T", title="Time", format="%a %H:%M"),
            alt.Tooltip("series:N", title="Series"),
            alt.Tooltip("visitors:Q", title="Visitors", format=".1f"),
        ],
    )
    return (
        alt.layer(base.mark_line(strokeWidth=3, interpolate="step-after"))
        .properties(title="Visitors inside, last hours vs typical", height=DEFAULT_HEIGHT)
        .interactive(bind_y=False)
    )


def zone_counts(frame: pd.DataFrame, *, value: str = "visitors", title: str = "Visitors per zone now") -> alt.Chart:
    """Horizontal bars of a count per zone. frame: zone, `value`."""
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["blue"])
        .encode(
            y=alt.Y("zone:N", title="Zone", sort="-x"),
            x=alt.X(f"{value}:Q", title="Visitors", axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("zone:N", title="Zone"), alt.Tooltip(f"{value}:Q", title="Visitors")],
        )
        .properties(title=title, height=alt.Step(28))
    )


def daily_visitors(frame: pd.DataFrame, *, include_staff: bool = False) -> alt.Chart:
    """Visitors and connected visitors per day side by side (optionally staff); passersby in the tooltip.

    frame: date (naive), visitors, passersby, connected, staff, median_dwell_minutes. Passersby are several times
    the visitors, so on one axis they would flatten the number that matters; the KPI cards carry them.
    """
    series = ["Visitors", "Connected", *(["Staff"] if include_staff else [])]
    tidy = frame.assign(day=frame["date"].dt.strftime("%a %d %b")).rename(
        columns={"visitors": "Visitors", "connected": "Connected", "staff": "Staff"}
    )
    days = list(tidy["day"])
    return (
        alt.Chart(tidy)
        .transform_fold(series, as_=["series", "people"])
        .mark_bar()
        .encode(
            x=alt.X("day:N", title="Day", sort=days, axis=alt.Axis(labelAngle=0, labelOverlap="greedy")),
            xOffset=alt.XOffset("series:N", sort=series),
            y=alt.Y("people:Q", title="People (distinct devices)"),
            color=_category_colour(series),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("people:Q", title="People", format=","),
                alt.Tooltip("passersby:Q", title="Passersby", format=","),
                alt.Tooltip("median_dwell_minutes:Q", title="Median dwell (min)", format=".1f"),
            ],
        )
        .properties(title="Visitors per day", height=DEFAULT_HEIGHT)
    )


def proximity(frame: pd.DataFrame, *, hourly: bool = False) -> alt.Chart:
    """Passersby, visitors and connected visitors over time on one chart (what Meraki calls "Proximity"): per day,
    or per hour of one day. frame: time (naive), series, people."""
    series = list(PROXIMITY_ORDER)
    time_format = "%H:%M" if hourly else "%a %d %b"
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", title="Hour (store clock)" if hourly else "Day", axis=alt.Axis(format=time_format)),
            y=alt.Y("people:Q", title="People (distinct devices)"),
            color=_category_colour(series),
            tooltip=[
                alt.Tooltip("time:T", title="Hour" if hourly else "Day", format=time_format),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("people:Q", title="People", format=","),
            ],
        )
        .properties(
            title="Passersby, visitors and connected, per hour" if hourly else "Passersby, visitors and connected",
            height=DEFAULT_HEIGHT,
        )
    )


def dwell_buckets(frame: pd.DataFrame) -> alt.Chart:
    """Visits per dwell bucket, in bucket order. frame: bucket (e.g. "5-20"), visits."""
    order = list(frame["bucket"])
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["blue"])
        .encode(
            x=alt.X("bucket:N", title="Time inside (minutes)", sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visits:Q", title="Visits"),
            tooltip=[alt.Tooltip("bucket:N", title="Minutes"), alt.Tooltip("visits:Q", title="Visits")],
        )
        .properties(title="How long visits lasted", height=DEFAULT_HEIGHT)
    )


def loyalty(frame: pd.DataFrame) -> alt.Chart:
    """Visitors per loyalty category (Cisco CMX's). frame: category (display label), visitors."""
    order = list(frame["category"])
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["green"])
        .encode(
            x=alt.X("category:N", title="Loyalty (last 28 days)", sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visitors:Q", title="Visitors"),
            tooltip=[alt.Tooltip("category:N", title="Loyalty"), alt.Tooltip("visitors:Q", title="Visitors")],
        )
        .properties(title="How often visitors come", height=DEFAULT_HEIGHT)
    )


def breakdown(frame: pd.DataFrame, label: str, *, title: str) -> alt.Chart:
    """Visitors per value of one attribute, largest first. frame: value, visitors, share."""
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["sky"])
        .encode(
            y=alt.Y("value:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            x=alt.X("visitors:Q", title="Visitors", axis=alt.Axis(tickCount=5)),
            tooltip=[
                alt.Tooltip("value:N", title=label),
                alt.Tooltip("visitors:Q", title="Visitors"),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
            ],
        )
        .properties(title=title, height=alt.Step(24))
    )


def week_over_week(frame: pd.DataFrame) -> alt.Chart:
    """Daily visitors by weekday: this week, last week and the average of the four weeks before this one.

    frame: weekday (Mon..Sun), series ("The week", "The week before", "4-week average"), visitors.
    """
    domain = ["The week", "The week before", "4-week average"]
    return (
        alt.Chart(frame)
        .mark_line(point=True, strokeWidth=3)
        .encode(
            x=alt.X("weekday:N", title="Weekday", sort=list(WEEKDAYS), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visitors:Q", title="Visitors per day"),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=domain, range=[OKABE_ITO["blue"], OKABE_ITO["orange"], GREY]),
                legend=LINE_LEGEND,
            ),
            strokeDash=alt.StrokeDash(
                "series:N", scale=alt.Scale(domain=domain, range=[[1, 0], [1, 0], [6, 4]]), legend=None
            ),
            tooltip=[
                alt.Tooltip("weekday:N", title="Weekday"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("visitors:Q", title="Visitors", format=".1f"),
            ],
        )
        .properties(title="The week vs the week before vs the 4-week average", height=DEFAULT_HEIGHT)
    )


def hour_of_week(frame: pd.DataFrame) -> alt.Chart:
    """Heatmap of mean occupancy per weekday and hour (visitors inside, the Zones page's definition).
    frame: weekday (Mon..Sun), hour (0-23), visitors."""
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="Hour of day", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("weekday:N", title=None, sort=list(WEEKDAYS)),
            color=alt.Color(
                "visitors:Q", title="Inside", scale=alt.Scale(scheme=SEQUENTIAL_SCHEME), legend=alt.Legend()
            ),
            tooltip=[
                alt.Tooltip("weekday:N", title="Weekday"),
                alt.Tooltip("hour:O", title="Hour"),
                alt.Tooltip("visitors:Q", title="Mean visitors inside", format=".1f"),
            ],
        )
        .properties(title="Busy hours: mean visitors inside per hour of the week", height=alt.Step(26))
    )


def weekday_visitors(frame: pd.DataFrame) -> alt.Chart:
    """Mean daily visitors per weekday. frame: weekday (Mon..Sun), visitors, days."""
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["blue"])
        .encode(
            x=alt.X("weekday:N", title="Weekday", sort=list(WEEKDAYS), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visitors:Q", title="Mean visitors per day"),
            tooltip=[
                alt.Tooltip("weekday:N", title="Weekday"),
                alt.Tooltip("visitors:Q", title="Mean visitors", format=".1f"),
                alt.Tooltip("days:Q", title="Days averaged"),
            ],
        )
        .properties(title="Visitors by weekday", height=DEFAULT_HEIGHT)
    )


def zone_dwell(frame: pd.DataFrame) -> alt.Chart:
    """Median dwell per zone. frame: zone, visitors, visits, median_dwell_minutes."""
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["orange"])
        .encode(
            y=alt.Y("zone:N", title="Zone", sort="-x"),
            x=alt.X("median_dwell_minutes:Q", title="Median time in the zone's visits (minutes)"),
            tooltip=[
                alt.Tooltip("zone:N", title="Zone"),
                alt.Tooltip("median_dwell_minutes:Q", title="Median dwell (min)", format=".1f"),
                alt.Tooltip("visits:Q", title="Visits"),
            ],
        )
        .properties(title="Median dwell per zone", height=alt.Step(28))
    )


def zone_occupancy(frame: pd.DataFrame) -> alt.Chart:
    """Mean visitors inside each zone by hour of the day over the range, one line per zone.

    frame: hour (0-23), zone, visitors.
    """
    zones = sorted(frame["zone"].unique())
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=3, point=True)
        .encode(
            x=alt.X("hour:O", title="Hour of day (store clock)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visitors:Q", title="Mean visitors inside"),
            color=alt.Color("zone:N", title="Zone", scale=_categorical(zones), legend=LEGEND),
            tooltip=[
                alt.Tooltip("zone:N", title="Zone"),
                alt.Tooltip("hour:O", title="Hour"),
                alt.Tooltip("visitors:Q", title="Mean visitors inside", format=".1f"),
            ],
        )
        .properties(title="When each zone is busy: mean visitors inside by hour", height=DEFAULT_HEIGHT)
    )


def zone_movement(frame: pd.DataFrame) -> alt.LayerChart:
    """Zone-to-zone moves as a matrix heatmap with the counts written in. frame: from, to, moves."""
    order = sorted(set(frame["from"]) | set(frame["to"]))
    base = alt.Chart(frame).encode(
        x=alt.X("to:N", title="To zone", sort=order, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("from:N", title="From zone", sort=order),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("moves:Q", title="Moves", scale=alt.Scale(scheme=SEQUENTIAL_SCHEME)),
        tooltip=[
            alt.Tooltip("from:N", title="From"),
            alt.Tooltip("to:N", title="To"),
            alt.Tooltip("moves:Q", title="Moves"),
        ],
    )
    top = float(frame["moves"].max()) if len(frame) else 0.0
    labels = base.mark_text(fontSize=13).encode(
        text=alt.Text("moves:Q", format=","),
        color=alt.condition(alt.datum.moves > top / 2, alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, labels).properties(title="Movement between zones", height=alt.Step(48))


def floor_plan(
    aps: pd.DataFrame, positions: pd.DataFrame, max_width: int = 640, max_height: int = 480
) -> alt.LayerChart:
    """APs (labelled squares) and estimated visit positions (dots) on the floor, drawn to scale in metres.

    aps: name, x, y. positions: x, y. The plot is sized so a metre is as many pixels across as up, within
    `max_width` x `max_height`. The page stretches charts to their column (and PNGs get `for_export`'s width), so
    the scale domains are expressions of the drawn width and height: the wider (or taller) the plot is drawn, the
    more metres either side of the floor it shows, and a metre stays square whatever the size.
    """
    x_min, x_max, y_min, y_max = _extent(aps, positions)
    x_span, y_span = x_max - x_min, y_max - y_min
    pixels_per_metre = min(max_width / x_span, max_height / y_span)
    width, height = round(x_span * pixels_per_metre), round(y_span * pixels_per_metre)
    # Half the range each axis must show: its own half-span, or the other's stretched by the drawn aspect ratio.
    x_mid, y_mid, x_half, y_half = (x_min + x_max) / 2, (y_min + y_max) / 2, x_span / 2, y_span / 2
    x_reach = f"max({x_half}, {y_half} * width / height)"
    y_reach = f"max({y_half}, {x_half} * height / width)"
    x_scale = alt.Scale(domain=alt.ExprRef(f"[{x_mid} - {x_reach}, {x_mid} + {x_reach}]"), nice=False, zero=False)
    y_scale = alt.Scale(domain=alt.ExprRef(f"[{y_mid} - {y_reach}, {y_mid} + {y_reach}]"), nice=False, zero=False)
    x = alt.X("x:Q", title="x (metres)", scale=x_scale, axis=alt.Axis(tickMinStep=1))
    y = alt.Y("y:Q", title="y (metres)", scale=y_scale, axis=alt.Axis(tickMinStep=1))
    dots = (
        alt.Chart(positions)
        .mark_circle(size=26, opacity=0.3, color=OKABE_ITO["blue"])
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("x:Q", title="x (m)", format=".1f"),
                alt.Tooltip("y:Q", title="y (m)", format=".1f"),
            ],
        )
    )
    markers = (
        alt.Chart(aps)
        .mark_point(shape="square", size=200, filled=True, opacity=1, color=OKABE_ITO["vermillion"])
        .encode(
            x=x,
            y=y,
            stroke=alt.value("white"),
            strokeWidth=alt.value(1.5),
            tooltip=[
                alt.Tooltip("name:N", title="Access point"),
                alt.Tooltip("x:Q", title="x (m)"),
                alt.Tooltip("y:Q", title="y (m)"),
            ],
        )
    )
    # The name twice: a white outline under black text keeps it legible over the dots.
    label = alt.Chart(aps).encode(x=x, y=y, text="name:N")
    halo = label.mark_text(dy=-16, fontSize=13, fontWeight="bold", stroke="white", strokeWidth=4, strokeJoin="round")
    names = label.mark_text(dy=-16, fontSize=13, fontWeight="bold", color=OKABE_ITO["black"])
    return alt.layer(dots, markers, halo, names).properties(
        title="Floor: access points (squares) and estimated visit positions (dots)", width=width, height=height
    )


def presentation(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The same chart for a meeting room screen: larger text, taller, nothing interactive to distract."""
    return (
        chart.properties(height=420)
        .configure_axis(labelFontSize=16, titleFontSize=18)
        .configure_legend(labelFontSize=16, titleFontSize=16)
        .configure_title(fontSize=24, anchor="start")
    )


def for_export(chart: alt.TopLevelMixin, width: int = EXPORT_WIDTH) -> alt.TopLevelMixin:
    """The chart with a fixed width (a PNG has no container to stretch to) and a white background."""
    return chart.properties(width=width, background="white")


def _category_colour(series: Sequence[str]) -> alt.Color:
    return alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=list(series), range=[CATEGORY_COLOURS[name] for name in series]),
        legend=LEGEND,
    )


def _categorical(values: Sequence[str]) -> alt.Scale:
    palette = [OKABE_ITO[name] for name in ("blue", "orange", "green", "purple", "sky", "vermillion", "yellow")]
    return alt.Scale(domain=list(values), range=[palette[index % len(palette)] for index in range(len(values))])


def _extent(aps: pd.DataFrame, positions: pd.DataFrame, margin: float = 2.0) -> tuple[float, float, float, float]:
    """x_min, x_max, y_min, y_max: the APs and positions with `margin` metres around, out to whole metres."""
    xs = pd.concat([aps["x"], positions["x"]]).dropna()
    ys = pd.concat([aps["y"], positions["y"]]).dropna()
    if xs.empty or ys.empty:
        return 0.0, 1.0, 0.0, 1.0
    return (
        float(math.floor(xs.min() - margin)),
        float(math.ceil(xs.max() + margin)),
        float(math.floor(ys.min() - margin)),
        float(math.ceil(ys.max() + margin)),
    )
