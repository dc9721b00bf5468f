"""Visitors: who came, for how long, how many came back, sliced by the sidebar filters."""

from __future__ import annotations

import streamlit as st

from app.dashboard import charts, data, filters, products, tables, ui

st.title("Visitors")
selection = filters.current()
src = data.source()
view = products.explorer(src, selection.first, selection.last, selection.filters)
previous = selection.previous()
st.caption(
    f"{selection.describe()} · compared with {previous.first:%d %b} – {previous.last:%d %b}"
    + ("" if view.previous is not None else ui.NOT_COMPARED)
)

now = tables.kpis(view.report)
before = tables.kpis(view.previous) if view.previous is not None else dict.fromkeys(now)
row = st.columns(3)
with row[0]:
    ui.kpi(
        "Visitors",
        now["visitors"],
        before["visitors"],
        help="Devices inside for at least 5 minutes at -75 dBm or stronger; staff are never visitors.",
    )
with row[1]:
    ui.kpi("Passersby", now["passersby"], before["passersby"], help="Devices heard, but not long or close enough.")
with row[2]:
    ui.kpi("Connected", now["connected"], before["connected"], help="Visitors that joined the Wi-Fi during a visit.")
row = st.columns(3)
with row[0]:
    ui.kpi(
        "Capture rate",
        now["capture_rate"],
        before["capture_rate"],
        "percent",
        help="Visitors / (visitors + passersby): how many of those who came near came in.",
    )
with row[1]:
    ui.kpi(
        "Median dwell",
        now["median_dwell_minutes"],
        before["median_dwell_minutes"],
        "minutes",
        help="Half of the visits were shorter than this.",
    )
with row[2]:
    ui.kpi(
        "Repeat visitors",
        now["repeat_visitors"],
        before["repeat_visitors"],
        help="Visitors who came on at least two different days of the range.",
    )

ui.chart(charts.proximity(view.proximity, hourly=view.hourly), view.proximity, "proximity")
ui.chart(charts.daily_visitors(view.daily, include_staff=selection.include_staff), view.daily, "visitors per day")

left, right = st.columns(2, gap="large")
with left:
    ui.chart(charts.dwell_buckets(view.dwell_buckets), view.dwell_buckets, "dwell buckets")
with right:
    ui.chart(charts.loyalty(view.loyalty), view.loyalty, "loyalty")
left, right = st.columns(2, gap="large")
with left:
    ui.chart(
        charts.breakdown(view.manufacturers, "Manufacturer", title="Visitors by phone manufacturer"),
        view.manufacturers,
        "visitors by manufacturer",
        caption=f"Not shown: {ui.count(view.unknown_manufacturer)} visitors whose randomized (private) MAC names "
        "no manufacturer.",
    )
with right:
    ui.chart(
        charts.breakdown(view.ssids, "SSID", title="Visitors by Wi-Fi network joined"),
        view.ssids,
        "visitors by ssid",
        caption=f"Not shown: {ui.count(view.not_connected)} visitors who joined no network.",
    )

st.subheader("Visits")
shown_categories = ("visitor", "passerby", "staff") if selection.include_staff else ("visitor", "passerby")
table_categories = st.segmented_control(
    "Visits to list",
    shown_categories,
    selection_mode="multi",
    default=["visitor"],
    format_func=tables.CATEGORY_PLURALS.get,
    key="listed",
)
visits = products.visit_list(src, selection.first, selection.last, selection.filters, tuple(sorted(table_categories)))
shown = visits.head(products.VISIT_TABLE_ROWS)
st.caption(
    f"{len(visits):,} visits started in the range"
    + (f"; the latest {len(shown):,} are shown, the CSV has all." if len(shown) < len(visits) else ".")
)
st.dataframe(
    shown,
    hide_index=True,
    column_config={
        "started": st.column_config.DatetimeColumn("Started", format="ddd D MMM, HH:mm"),
        "ended": st.column_config.DatetimeColumn("Ended", format="HH:mm"),
        "minutes": st.column_config.NumberColumn("Minutes", format="%.1f"),
        "category": st.column_config.TextColumn("Category"),
        "zone": st.column_config.TextColumn("Zone"),
        "manufacturer": st.column_config.TextColumn("Manufacturer"),
        "ssid": st.column_config.TextColumn("SSID"),
        "connected": st.column_config.CheckboxColumn("Connected"),
        "randomized": st.column_config.CheckboxColumn("Randomized"),
        "strongest_dbm": st.column_config.NumberColumn("Strongest (dBm)", format="%.0f"),
        "device": st.column_config.TextColumn("Device (pseudonym)"),
        "site": st.column_config.TextColumn("Site"),
    },
)
categories = tuple(sorted(table_categories))
st.download_button(
    "Download all visits (CSV)",
    data=lambda: products.visits_csv(src, selection.first, selection.last, selection.filters, categories),
    help="The columns and UTC times of `presence export visits`, for these days, filters and categories.",
    file_name=f"visits-{selection.first}-{selection.last}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
