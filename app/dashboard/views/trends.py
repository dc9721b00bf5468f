"""Trends: this week against last week and the weeks before, busy hours and weekdays; ready for a meeting."""

from __future__ import annotations

import streamlit as st

from app.dashboard import charts, data, filters, products, tables, ui

st.title("Trends")
selection = filters.current()
src = data.source()
presenting = st.toggle(
    "Presentation view",
    key="present",
    bind="query-params",
    help="Large charts one below the other, for a meeting room screen. Collapse the sidebar with « for more room.",
)
view = products.trends(src, selection.first, selection.last, selection.filters)
st.caption(
    f"This week: {view.this_monday:%a %d %b} – {view.last:%a %d %b}, against the same days of last week. "
    f"Hour and weekday profiles: {selection.describe()}"
)

now, before = tables.kpis(view.this_week), tables.kpis(view.last_week)
row = st.columns(4)
for column, (label, key, kind) in zip(
    row,
    [
        ("Visitors this week", "visitors", "count"),
        ("Passersby this week", "passersby", "count"),
        ("Capture rate", "capture_rate", "percent"),
        ("Median dwell", "median_dwell_minutes", "minutes"),
    ],
    strict=True,
):
    with column:
        ui.kpi(label, now[key], before[key], kind, compared_with="last week")

figures = [
    (charts.week_over_week(view.week_over_week), view.week_over_week, "week over week"),
    (charts.hour_of_week(view.hour_of_week), view.hour_of_week, "busy hours"),
    (charts.weekday_visitors(view.weekday), view.weekday, "visitors by weekday"),
]
if presenting:
    for figure, frame, name in figures:
        ui.chart(figure, frame, name, presentation=True)
        st.divider()
else:
    ui.chart(*figures[0])
    left, right = st.columns([3, 2], gap="large")
    with left:
        ui.chart(*figures[1])
    with right:
        ui.chart(*figures[2])
