"""Live: how many people are in the store right now, where, and whether that is busier than usual; for several
sites, each site side by side."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from app.dashboard import auth, charts, data, filters, products, ui

st.title("Live")
selection = filters.current()
src = data.source()
st.caption(
    "Visitors heard in the last 10 minutes, refreshed every "
    f"{products.LIVE_REFRESH.seconds} s. The date range does not apply here; the other filters do."
)


@st.fragment(run_every=products.LIVE_REFRESH)
def live_panel() -> None:
    if not auth.still_open():  # this rerun skips the router's gate: a login that no longer holds goes back to it
        st.rerun()
    try:
        now = products.live(src, selection.filters)
    except data.DatabaseUnavailable as exc:
        ui.database_unreachable(exc)
        return
    local = now.now.astimezone(ZoneInfo(now.timezone))
    if now.site is None:
        st.subheader(f"{len(now.sites)} sites")
        ui.live_sites(now.sites)
        st.caption(
            "Typical: the mean at this weekday and quarter-hour in each site's own time, over the last four weeks. "
            "Capacity used turns amber from 80 % and red from 100 % of the site's `capacity` ([[sites]]). "
            "Choose one site in the sidebar for its zones."
        )
    elif len(data.known_sites(src)) > 1:
        st.subheader(now.site)
    big, line = st.columns([1, 2], gap="large")
    with big:
        ui.live_count(now.inside, now.typical_now, several=now.site is None)
        if now.typical_now is not None:
            st.markdown(f"Typical for a {local:%A} at {local:%H:%M}: **{now.typical_now:.0f}**")
        st.caption(f"As of {local:%H:%M:%S} ({now.timezone})")
        if now.stale:
            st.caption("The visits are being brought up to date by another process: this count may lag a minute.")
        if now.capacity is not None:
            ui.capacity(now.inside, now.capacity)
        if now.learning:
            st.caption(
                "Learning what a usual day looks like from the last four weeks: the typical line, and telling staff "
                "apart from visitors, follow within a minute or two."
            )
        if now.inside == 0:
            st.info("Nobody inside right now.", icon=":material/door_front:")
        if now.site is not None:
            # Two cards a row, busiest first: each row its own columns, so a phone stacks them in the same order.
            zones = list(now.per_zone.itertuples(index=False))
            for start in range(0, len(zones), 2):
                for column, zone in zip(st.columns(2), zones[start : start + 2], strict=False):
                    column.metric(zone.zone, ui.count(zone.visitors), border=True)
    with line:
        ui.chart(
            charts.occupancy_recent(now.recent),
            now.recent,
            "live",
            caption="The line is the number inside at each 5-minute mark (the Zones page's occupancy); the big "
            "number counts visitors heard in the last 10 minutes, so near the right edge the two can differ.",
        )
    if now.all_silent:
        st.warning(
            f"**No access point has reported for over {products.AP_SILENT_AFTER.seconds // 60} minutes.** "
            "Is the receiver (`presence serve`) running and reachable from the APs?",
            icon=":material/wifi_off:",
        )
    elif now.silent_aps:
        st.warning(
            f"**Silent for over {products.AP_SILENT_AFTER.seconds // 60} minutes:** " + ", ".join(now.silent_aps),
            icon=":material/wifi_off:",
        )
    st.subheader("Access points")
    if now.retired_aps:
        retired = ", ".join(now.retired_aps)
        st.caption(f"Retired, never warned about: {retired} (`presence aps unretire MAC` watches one again)")
    several = now.site is None
    st.dataframe(
        now.aps,
        hide_index=True,
        # What fits a phone; MACs are in `presence aps`. With several sites, each AP's site first.
        column_order=["site", "name", "status", "minutes_ago"] if several else ["name", "status", "minutes_ago"],
        column_config={
            "site": st.column_config.TextColumn("Site"),
            "name": st.column_config.TextColumn("Access point"),
            "status": st.column_config.TextColumn("Status"),
            "minutes_ago": st.column_config.NumberColumn("Minutes ago", format="%.0f"),
            "last_report": st.column_config.DatetimeColumn("Last report", format="ddd D MMM, HH:mm:ss"),
            "mac": st.column_config.TextColumn("MAC"),
        },
    )


live_panel()
