"""Sites: every site of the chain side by side against the period before, with the groups' subtotals; choosing
a site opens its pages."""

from __future__ import annotations

import streamlit as st

from app.dashboard import data, filters, products, tables, ui

OPEN_SITE = "open-site"
OPENING = "presence.opening-site"  # set by the Open button's callback: switch to the chosen site's Visitors page

st.title("Sites")
selection = filters.current()
src = data.source()
view = products.sites_view(src, selection.first, selection.last, selection.filters)
previous = selection.previous()
st.caption(
    f"{selection.describe()} · compared with {previous.first:%d %b} – {previous.last:%d %b}"
    + ("" if view.compared else ui.NOT_COMPARED)
    + " · each site's days in its own time zone. Click a column's header to sort by it."
)


def figure_columns(first: str) -> dict:
    """The columns of a Sites table, in the order shown (what matters most first, for a phone): the figures with
    their changes, the daily sparkline beside the visitors, the group last."""
    change = "small"
    return {
        "site": st.column_config.TextColumn(first, pinned=True),
        "visitors": st.column_config.NumberColumn("Visitors", format="localized"),
        "visitors_change": st.column_config.NumberColumn("± visitors", format="%+d", width=change),
        "daily_visitors": st.column_config.LineChartColumn(
            "Visitors per day", y_min=0, help=f"{selection.first:%d %b} – {selection.last:%d %b}, one point a day"
        ),
        "passersby": st.column_config.NumberColumn("Passersby", format="localized"),
        "passersby_change": st.column_config.NumberColumn("± passersby", format="%+d", width=change),
        "capture_rate": st.column_config.NumberColumn("Capture rate", format="%.1f %%"),
        "capture_rate_change": st.column_config.NumberColumn("± capture", format="%+.1f pp", width=change),
        "median_dwell_minutes": st.column_config.NumberColumn("Median dwell", format="%.1f min"),
        "median_dwell_minutes_change": st.column_config.NumberColumn("± dwell", format="%+.1f min", width=change),
        "repeat_visitors": st.column_config.NumberColumn("Repeat visitors", format="localized"),
        "repeat_visitors_change": st.column_config.NumberColumn("± repeat", format="%+d", width=change),
        "group": st.column_config.TextColumn("Group"),
        "timezone": st.column_config.TextColumn("Time zone"),
    }


def shown(columns: dict, *hidden: str) -> list[str]:
    """The columns to show: all but `hidden`, and no change columns when there is nothing to compare with."""
    return [key for key in columns if key not in hidden and (view.compared or not key.endswith("_change"))]


if view.sites.empty:
    st.info("No site has reported yet.", icon=":material/storefront:")
else:
    st.dataframe(
        tables.sites_shown(view.sites),
        hide_index=True,
        key="sites-table",
        column_config=figure_columns("Site"),
        column_order=shown(figure_columns("Site"), "timezone"),
    )
    st.subheader("Groups and total")
    st.dataframe(
        tables.sites_shown(view.groups),
        hide_index=True,
        column_config=figure_columns("Group"),
        column_order=shown(figure_columns("Group"), "group", "timezone"),
    )
    st.caption(
        "A group adds its sites up: a phone seen at two sites counts at each, as every figure counts it; its "
        "capture rate is that of the sums and its median dwell the median of all its visitors' visits."
    )
    st.download_button(
        "Download these figures (CSV)",
        data=lambda: ui.csv(tables.sites_csv(view.sites, view.groups, view.days)),
        file_name=f"sites-{selection.first}-{selection.last}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        help="Every site, group and the total with their changes, in `presence report`'s units (capture rate "
        "0..1), and the visitors of each day.",
    )

    def open_site() -> None:
        """Narrow every page to the chosen site (the sidebar's selector, so the URL says ?site=...)."""
        st.session_state[filters.SITE] = [st.session_state[OPEN_SITE]]
        st.session_state[filters.GROUP] = None
        st.session_state[OPENING] = True

    picker, button = st.columns([3, 1], vertical_alignment="bottom")
    picker.selectbox("Open a site's pages", view.sites["site"].tolist(), key=OPEN_SITE)
    button.button("Open its pages", on_click=open_site, icon=":material/arrow_forward:", width="stretch")
    if st.session_state.pop(OPENING, False):
        # The sidebar's widgets write their own values back to the URL: the page adds none (clearing them fails).
        st.switch_page("views/visitors.py", query_params={})
