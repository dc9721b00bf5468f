"""Zones: where in the shop visitors spend their time, how they move between zones, and the floor plan."""

from __future__ import annotations

import streamlit as st

from app.dashboard import charts, data, filters, products, ui

st.title("Zones")
selection = filters.current()
src = data.source()
view = products.zone_view(src, selection.first, selection.last, selection.filters)
st.caption(
    f"{selection.describe()} · a visit belongs to the zone where it spent most of its time; zones are named after "
    "the access point they hear strongest."
)

if view.stats.empty:
    st.info("No visitors in this range and filter.", icon=":material/search_off:")
else:
    left, right = st.columns(2, gap="large")
    with left:
        ui.chart(charts.zone_counts(view.stats, title="Visitors per zone"), view.stats, "visitors per zone")
    with right:
        ui.chart(charts.zone_dwell(view.stats), view.stats, "dwell per zone")
    ui.chart(charts.zone_occupancy(view.occupancy), view.occupancy, "occupancy per zone")
    ui.chart(
        charts.zone_movement(view.transitions),
        view.transitions,
        "movement between zones",
        caption="Each cell counts how often a visitor's zone changed from the row's zone to the column's, "
        "minute by minute.",
    )

st.subheader("Floor plan")
# Configured APs without x and y: visits they hear are placed by the other APs alone, so say which they are.
unplaced = sorted(ap.name for ap in src.ap_map.values() if ap.x is None or ap.y is None)
if view.floor_aps.empty:
    without = f" ({', '.join(unplaced)})" if unplaced else ""
    st.info(
        f"No access point{without} has a floor position, so there is no floor plan to draw: list the access points "
        "in the TOML file that `PRESENCE_CONFIG` names, with a name and x, y in metres.",
        icon=":material/map:",
    )
    st.code('[[aps]]\nmac = "AC:86:74:82:9A:30"\nname = "Entrance"\nx = 2.0\ny = 1.5', language="toml")
else:
    # A column, not the page's width: the plan is drawn to scale, so a wider plot only adds metres either side.
    plan, notes = st.columns([3, 2], gap="large")
    with plan:
        floor = charts.floor_plan(view.floor_aps, view.positions)
        caption = (
            "To scale, in metres. Each dot is one visit, placed between the access points that heard it, nearer "
            "the ones that heard it louder."
        )
        if view.positions.empty:
            ui.chart(floor, caption=f"{caption} No visit in this range and filter has a position yet.")
        else:
            ui.chart(floor, view.positions, "floor plan", caption=caption)
    with notes:
        if unplaced:
            st.info(
                f"No floor position for: {', '.join(unplaced)}. Set `x` and `y` (metres) in `[[aps]]` in the file "
                "`PRESENCE_CONFIG` names. Until then visits are placed by the other access points alone, and a "
                "visit no other access point heard is not on the plan.",
                icon=":material/location_off:",
            )
