"""Trends: a week (Monday to Sunday) against the week before and the four before it, busy hours and weekdays;
ready for a meeting."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.dashboard import charts, data, filters, products, tables, ui, weeks
from app.weekly_report import weekly_report_html

WEEK = "week"

st.title("Trends")
selection = filters.current()
src = data.source()
today = data.today(src)
held = data.span(src)
mondays = weeks.weeks_with_data(held.first_day or today, held.last_day or today, today)
names = [weeks.iso_week(monday) for monday in mondays]


def step(by: int) -> None:
    """Move the week picker `by` weeks back (positive) or forward, within the weeks with data."""
    current = names.index(st.session_state.get(WEEK) or names[0])
    st.session_state[WEEK] = names[min(max(current + by, 0), len(names) - 1)]


if st.session_state.get(WEEK) not in names:  # a link to a week without data opens on the default week
    st.session_state[WEEK] = weeks.iso_week(weeks.default_week(mondays, today))
picker, back, forward, present = st.columns([5, 1, 1, 2], vertical_alignment="bottom")
chosen = picker.selectbox(
    "Week",
    names,
    key=WEEK,
    bind="query-params",
    format_func=lambda name: weeks.label(weeks.monday_of_iso(name), today),
    help="Monday to Sunday, in shop time. The sidebar's dates do not apply here; its other filters do.",
)
back.button("‹ Earlier", on_click=step, args=(1,), disabled=chosen == names[-1], width="stretch")
forward.button("Later ›", on_click=step, args=(-1,), disabled=chosen == names[0], width="stretch")
presenting = present.toggle(
    "Presentation view",
    key="present",
    bind="query-params",
    help="Large charts one below the other, for a meeting room screen. Collapse the sidebar with « for more room.",
)
monday = weeks.monday_of_iso(chosen)
view = products.trends(src, monday, weeks.week_end(monday, today), selection.filters)
before = view.this_monday - timedelta(weeks=1)
chosen_filters = selection.filter_parts()
st.caption(
    f"{weeks.label(monday, today)}, against the same days of the week before "
    f"({before:%a %d %b} – {view.last - timedelta(weeks=1):%a %d %b})"
    + (f". Filters: {', '.join(chosen_filters)}." if chosen_filters else ".")
)

now, earlier = tables.kpis(view.this_week), tables.kpis(view.last_week)
row = st.columns(4)
for column, (label, key, kind) in zip(
    row,
    [
        ("Visitors", "visitors", "count"),
        ("Passersby", "passersby", "count"),
        ("Capture rate", "capture_rate", "percent"),
        ("Median dwell", "median_dwell_minutes", "minutes"),
    ],
    strict=True,
):
    with column:
        ui.kpi(label, now[key], earlier[key], kind, compared_with="the week before")

st.download_button(
    "Weekly report (HTML)",
    data=lambda: weekly_report_html(data.settings(), monday).encode(),
    file_name=f"weekly-report-{chosen}.html",
    mime="text/html",
    icon=":material/description:",
    on_click="ignore",
    help="This week's figures and charts in one file that opens without the app and prints well to PDF: "
    "what `presence weekly-report --week` writes.",
)

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
