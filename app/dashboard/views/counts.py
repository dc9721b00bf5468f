"""Counts: nearby devices now and per hour, for an installation in count-only mode (PRESENCE_COUNT_ONLY=1).

Count-only mode keeps no device, only how many each access point heard per minute (store.counts), so visits,
visitors, dwell, loyalty and zones cannot be shown: this page shows what can be known without identifiers, from
`analytics.counts`, the same functions as `presence counts`. Only the sidebar's days apply.

The router shows it instead of the other pages when the installation is in count-only mode.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from analytics.counts import NOW_WINDOW, interval_summary, nearby_now
from app.dashboard import auth, cache, charts, data, filters, products, ui
from store.count_frames import site_minutes
from store.queries import local_day_bounds


def _unavailable(src: data.Source, exc: SQLAlchemyError) -> data.DatabaseUnavailable:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return data.DatabaseUnavailable(f"cannot read {src.display_url}: {reason}")


@st.cache_data(ttl=cache.HISTORY_TTL, show_spinner="Counting devices…", hash_funcs=data.HASH_FUNCS)
def hourly(src: data.Source, first: date, last: date) -> pd.DataFrame:
    """`analytics.counts.interval_summary` per site-local hour of the days first..last."""
    start, end = local_day_bounds(first, last, src.tz)
    assert start is not None
    assert end is not None
    try:
        minutes = site_minutes(data.engine(src.database_url), start, end)
    except SQLAlchemyError as exc:
        raise _unavailable(src, exc) from exc
    return interval_summary(minutes, start, end, src.tz, "hour")


@st.cache_data(ttl=cache.LIVE_TTL, show_spinner=False, hash_funcs=data.HASH_FUNCS)
def recent(src: data.Source, now: datetime) -> pd.Series:
    """Per site, the most nearby devices in a minute of the last NOW_WINDOW (`now` floored by the caller, so
    sessions share one read)."""
    try:
        minutes = site_minutes(data.engine(src.database_url), now - NOW_WINDOW, now + timedelta(minutes=1))
    except SQLAlchemyError as exc:
        raise _unavailable(src, exc) from exc
    return nearby_now(minutes, now)


def nearby_per_hour(frame: pd.DataFrame) -> alt.LayerChart:
    """Nearby devices per hour: the busiest minute (solid) and the average over the hour (grey, dashed).

    frame: time (naive site-local hour), peak_nearby, avg_nearby, peak_devices, peak_connected.
    """
    series = {"peak_nearby": "Busiest minute", "avg_nearby": "Average over the hour"}
    tidy = frame.rename(columns=series)
    base = alt.Chart(tidy).transform_fold(list(series.values()), as_=["series", "devices"])
    return (
        base.mark_line(strokeWidth=2, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title="Time (store clock)", axis=alt.Axis(format="%a %d %H:%M")),
            y=alt.Y("devices:Q", title="Nearby devices", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=list(series.values()), range=[charts.OKABE_ITO["blue"], charts.GREY]),
                legend=charts.LINE_LEGEND,
            ),
            strokeDash=alt.StrokeDash(
                "series:N", scale=alt.Scale(domain=list(series.values()), range=[[1, 0], [6, 4]]), legend=None
            ),
            tooltip=[
                alt.Tooltip("time:T", title="Hour", format="%a %d %b %H:%M"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("devices:Q", title="Nearby devices", format=".1f"),
                alt.Tooltip("peak_devices:Q", title="All devices, busiest minute"),
                alt.Tooltip("peak_connected:Q", title="Connected, busiest minute"),
            ],
        )
        .properties(title="Nearby devices per hour", height=charts.DEFAULT_HEIGHT)
        .interactive(bind_y=False)
    )


st.title("Counts")
selection = filters.current()
src = data.source()
st.caption(
    f"{selection.first:%a %d %b %Y} – {selection.last:%a %d %b %Y} · count-only mode: no device is stored, only how "
    "many each access point heard per minute. **Nearby** devices were heard at −75 dBm or stronger, about the "
    "people in the shop. A site's figure is its busiest access point's (a phone two access points hear cannot be "
    "counted once without an identifier), so every number is a lower bound. Only the days filter applies."
)


@st.fragment(run_every=products.LIVE_REFRESH)
def now_panel() -> None:
    if not auth.still_open():  # this rerun skips the router's gate: a login that no longer holds goes back to it
        st.rerun()
    tick = data.clock()
    seconds = cache.LIVE_TTL.total_seconds()
    tick = datetime.fromtimestamp(tick.timestamp() // seconds * seconds, tz=tick.tzinfo)
    try:
        per_site = recent(src, tick)
    except data.DatabaseUnavailable as exc:
        ui.database_unreachable(exc)
        return
    local = tick.astimezone(src.tz)
    if per_site.empty:
        st.info(f"Nothing counted in the last {NOW_WINDOW.seconds // 60} minutes.", icon=":material/door_front:")
        return
    columns = st.columns(min(len(per_site), 4))
    for index, (site, nearby) in enumerate(per_site.items()):
        label = "Nearby now" if len(per_site) == 1 else f"Nearby now · {site}"
        columns[index % len(columns)].metric(
            label,
            ui.count(nearby),
            border=True,
            help=f"The most nearby devices in any minute of the last {NOW_WINDOW.seconds // 60} minutes.",
        )
    st.caption(f"As of {local:%H:%M:%S} ({src.timezone})")


now_panel()

try:
    hours = hourly(src, selection.first, selection.last)
except data.DatabaseUnavailable as exc:
    ui.database_unreachable(exc)
    st.stop()
if hours.empty:
    st.info("No device counts in this range.", icon=":material/search_off:")
    st.stop()
sites = hours.groupby("site", sort=True)
for site, frame in sites:
    if sites.ngroups > 1:
        st.subheader(str(site))
    shown = frame.assign(time=frame["start"].dt.tz_localize(None)).drop(columns=["start"])
    ui.chart(nearby_per_hour(shown), shown, f"nearby devices per hour {site}")
