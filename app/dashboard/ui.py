"""Small building blocks the pages share: KPI cards, a chart with its PNG and CSV downloads, error messages.

Numbers are formatted by app.dashboard.numbers (re-exported here), so every page, the weekly report and the tests
show a number the same way.
"""

from __future__ import annotations

import re
from typing import Literal

import altair as alt
import pandas as pd
import streamlit as st
import vl_convert

from app.dashboard import charts, tables
from app.dashboard.numbers import FORMATS, count, delta, minutes, percent, unchanged  # noqa: F401  (pages use ui.*)

# Larger numbers on the live panel, and KPI cards that keep their size on a phone; the capacity card amber or red.
_CSS = """
<style>
.st-key-live-now [data-testid="stMetricValue"] { font-size: 4.5rem; line-height: 1.1; }
.st-key-live-now [data-testid="stMetricLabel"] p { font-size: 1.2rem; }
.st-key-capacity-near { background: #fff4d6; border-left: 0.4rem solid #f0a020; padding: 0.5rem 0.75rem;
  border-radius: 0.5rem; }
.st-key-capacity-over { background: #fde2e1; border-left: 0.4rem solid #d93025; padding: 0.5rem 0.75rem;
  border-radius: 0.5rem; }
</style>
"""
# Capacity levels (app.dashboard.tables.capacity_level): badge colour, words, and the table cell's background.
BadgeColour = Literal["green", "orange", "red"]
CAPACITY_BADGES: dict[str, tuple[BadgeColour, str, str]] = {
    "ok": ("green", "Below capacity", ":material/check_circle:"),
    "near": ("orange", "Near capacity", ":material/warning:"),
    "over": ("red", "At or over capacity", ":material/block:"),
}
CAPACITY_CELLS = {"near": "background-color: #ffe4a3", "over": "background-color: #f8b4b0"}


def style() -> None:
    st.html(_CSS)


def versus_typical(inside: int, typical: float | None) -> str | None:
    """How the live count compares with the typical one: "+3 vs typical", "as usual", or None without history."""
    if typical is None:
        return None
    difference = round(inside - typical)
    return "as usual" if difference == 0 else f"{difference:+d} vs typical"


def live_count(inside: int, typical: float | None, *, several: bool = False) -> None:
    """The live panel's big number, with its difference from the typical count (no arrow when as usual)."""
    versus = versus_typical(inside, typical)
    plain = versus in (None, "as usual")
    with st.container(key="live-now"):
        st.metric(
            "In the stores now" if several else "In the store now",
            count(inside),
            delta=versus,
            delta_color="off" if plain else "normal",
            delta_arrow="off" if plain else "auto",
            help="Visitors (not staff, not passersby) heard within the last 10 minutes"
            + (", at every site shown together." if several else "."),
        )


def capacity(inside: int, limit: int) -> None:
    """The share of the site's capacity in use: amber from 80 %, red from 100 % (tables.capacity_level)."""
    share = tables.capacity_share(inside, limit) or 0.0
    level = tables.capacity_level(inside, limit) or "ok"
    colour, words, icon = CAPACITY_BADGES[level]
    with st.container(key=f"capacity-{level}"):
        st.metric(
            "Capacity used",
            f"{share * 100:.0f} %",
            help=f"Visitors inside now against the site's capacity ({count(limit)} people, [[sites]] capacity); "
            f"amber from {tables.CAPACITY_NEAR:.0%}, red from {tables.CAPACITY_FULL:.0%}.",
        )
        st.progress(min(share, 1.0), text=f"{count(inside)} of {count(limit)}")
        st.badge(words, color=colour, icon=icon)


def live_sites(frame: pd.DataFrame) -> None:
    """Live for several sites: a table of each site's count now against typical, capacity and silent APs, the
    capacity cell amber or red (with the words in the Status column, for those who cannot tell the colours)."""
    styled = frame.style.apply(
        lambda column: [CAPACITY_CELLS.get(level or "", "") for level in frame["level"]], subset=["share"]
    )
    st.dataframe(
        styled,
        hide_index=True,
        # What a phone shows first: the site, its count and how full it is.
        column_order=["site", "inside", "share", "typical", "capacity", "status", "silent_aps", "group"],
        column_config={
            "site": st.column_config.TextColumn("Site"),
            "group": st.column_config.TextColumn("Group"),
            "inside": st.column_config.NumberColumn("Inside now", format="%d"),
            "typical": st.column_config.NumberColumn("Typical now", format="%.0f"),
            "capacity": st.column_config.NumberColumn("Capacity", format="%d"),
            "share": st.column_config.NumberColumn("Capacity used", format="percent"),
            "status": st.column_config.TextColumn("Status"),
            "silent_aps": st.column_config.TextColumn("Silent APs"),
        },
    )


# What a page's caption adds when its previous period starts before the first day with data (no changes shown).
NOT_COMPARED = " (the period before starts before the first day with data: no changes shown)"


def kpi(
    label: str,
    current: float | None,
    previous: float | None,
    kind: str = "count",
    *,
    help: str | None = None,
    compared_with: str = "previous period",
) -> None:
    """One KPI card: the value, and its change against the previous period of equal length."""
    change = delta(current, previous, kind)
    neutral = not change or unchanged(change)
    st.metric(
        label,
        FORMATS[kind](current),
        delta=change,
        delta_color="off" if neutral else "normal",
        delta_arrow="off" if neutral else "auto",
        help=help,
        border=True,
        delta_description=f"vs {compared_with}" if change else None,
    )


# --- charts ------------------------------------------------------------------------------------------------------


def chart(
    figure: alt.TopLevelMixin,
    data: pd.DataFrame | None = None,
    name: str | None = None,
    *,
    presentation: bool = False,
    caption: str | None = None,
) -> None:
    """Show a chart stretched to its column; with `name`, add PNG (rendered offline) and CSV downloads.

    A chart whose `data` is empty says so in words instead of drawing empty axes (an axis of 0.000000 reads as a
    measurement of nothing)."""
    if data is not None and data.empty:
        title = getattr(figure, "title", None)
        what = title if isinstance(title, str) else (name or "this chart")
        st.info(f"No data for “{what}” with these days and filters.", icon=":material/info:")
        return
    shown = charts.presentation(figure) if presentation else figure
    st.altair_chart(shown, width="stretch")
    if caption:
        st.caption(caption)
    if name is None:
        return
    stem = _file_stem(name)
    menu = st.popover("Download", icon=":material/download:", key=f"download-{stem}")
    menu.download_button(
        "Chart (PNG)",
        data=lambda: png(shown),
        file_name=f"{stem}.png",
        mime="image/png",
        icon=":material/image:",
        key=f"png-{stem}",
        on_click="ignore",
        width="stretch",
    )
    menu.download_button(
        "Data (CSV)",
        data=lambda: csv(data if data is not None else pd.DataFrame()),
        file_name=f"{stem}.csv",
        mime="text/csv",
        icon=":material/table:",
        key=f"csv-{stem}",
        on_click="ignore",
        width="stretch",
    )


def png(figure: alt.TopLevelMixin) -> bytes:
    """The chart as a PNG at twice the resolution, rendered by vl-convert (no browser, no network)."""
    return vl_convert.vegalite_to_png(charts.for_export(figure).to_json(), scale=2)


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _file_stem(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- messages ----------------------------------------------------------------------------------------------------


def database_unreachable(reason: object) -> None:
    st.error(
        f"**The dashboard cannot read its data.** {reason}\n\n"
        "Check `PRESENCE_DATABASE_URL` (or `PRESENCE_DATA_DIR`) in the environment `presence dashboard` runs in, "
        "and that the database server is up. The page retries when you reload it.",
        icon=":material/database_off:",
    )


def configuration_error(reason: object) -> None:
    st.error(f"**The configuration is not valid.** {reason}", icon=":material/settings_alert:")
