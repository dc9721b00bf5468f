"""What the dashboard caches, and why: the engine, the analyses every page uses, the background warm-up.

Every analysis is made the way `presence report` makes it: from the stored visits, for every filter, with the
CLI's own `window_analysis` (which refreshes them first). KPIs are `analytics.report.report` of that analysis, so
the dashboard and the CLI never disagree.

Caching, and why:
- the engine: `st.cache_resource`, one pool per database URL for the whole server;
- `Analysis` objects: `st.cache_resource` with a TTL. They are large, shared read-only by every session, and
  `st.cache_data` would pickle a copy on every read;
- the small products (report dicts, tidy frames): `st.cache_data` with the same TTL, refreshed in the background;
- the live panel: the history it compares with (typical occupancy, staff) has its own long TTL and refreshes in
  the background, so a live tick only reads the last few hours of observations and the AP report times.
- the background warm-up: a long-running server computes every page's default view once in a daemon thread
  (app.dashboard.products.warm_up), so the second page opens from the cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from analytics.filters import Filters
from analytics.report import Analysis, report
from analytics.site_table import SiteTally
from app.commands.export import window_analysis, window_site_tallies
from app.dashboard import data
from app.dashboard.data import DatabaseUnavailable, Source
from store.analytics_settings import analytics_settings_of
from store.queries import local_day_bounds
from store.visits import RefreshBusy, VisitsOutOfDate

HISTORY_TTL = timedelta(minutes=10)  # how stale a report may get while data keeps arriving
LIVE_TTL = timedelta(seconds=20)  # the live panel's computations, shared by every session in one tick


@st.cache_resource(
    ttl=HISTORY_TTL,
    max_entries=24,
    show_spinner="Analysing visits…",
    refresh_mode="background",
    hash_funcs=data.HASH_FUNCS,
)
def analysis(
    src: Source,
    first: date,
    last: date,
    filters: Filters,
    complete: bool = False,
    per_site: bool = False,
    detail: bool = True,
) -> Analysis:
    """The analysis of the site days first..last with `filters`, made the way `presence report` makes it: the
    CLI's own `window_analysis` of the stored visits (refreshed first), each site's days in its own time zone;
    `complete` loads every visit of the window, passersby included (visit lists), as `presence export visits`
    does; `per_site` counts each site's passersby too, for `Analysis.for_site` (the Sites page); without `detail`
    only the columns a report reads, as `presence report` loads them (the Sites page, which charts no SSIDs,
    manufacturers or positions).
    """
    start, end = local_day_bounds(first, last, src.tz)  # ignored with `dates`, which set each site's own window
    try:
        # With detail: the pages chart manufacturers, SSIDs and positions of the visits, not only the figures.
        return window_analysis(
            data.settings(),
            data.analytics_settings(),
            start,
            end,
            filters,
            complete=complete,
            detail=detail,
            dates=(first, last),
            per_site=per_site,
        )
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    except (VisitsOutOfDate, RefreshBusy) as exc:
        raise DatabaseUnavailable(f"the stored visits of {src.display_url} are not usable: {exc}") from exc


def analysis_of(
    src: Source,
    first: date,
    last: date,
    filters: Filters,
    *,
    complete: bool = False,
    per_site: bool = False,
    detail: bool = True,
) -> Analysis:
    """The (cached) analysis of first..last with `filters`."""
    return analysis(src, first, last, filters, complete, per_site, detail)


def site_tallies(src: Source, periods: Sequence[tuple[date, date]], filters: Filters) -> list[dict[str, SiteTally]]:
    """Every site's figures of each period (first, last site days) with `filters` (the Sites page), as
    `window_site_tallies` counts them from the stored visits; not cached here, as the page product is."""
    try:
        settings = data.settings()  # read once: a chain's config is a hundred [[sites]]
        return window_site_tallies(settings, analytics_settings_of(settings), periods, filters)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot read {src.display_url}: {data.reason(exc)}") from exc
    except (VisitsOutOfDate, RefreshBusy) as exc:
        raise DatabaseUnavailable(f"the stored visits of {src.display_url} are not usable: {exc}") from exc


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False, refresh_mode="background", hash_funcs=data.HASH_FUNCS)
def report_of(src: Source, first: date, last: date, filters: Filters) -> dict[str, Any]:
    """The `presence report` dict of the days first..last with `filters`."""
    return report(analysis_of(src, first, last, filters))


# --- background warm-up ------------------------------------------------------------------------------------------

WARM_UP_THREAD = "presence-warm-up"
BACKGROUND_DELAY = timedelta(seconds=3)


@dataclass
class WarmUps:
    """What this server process computes in the background, and what is ready."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    background: bool = False  # set by warm_up: this is a long-running server, not a test run
    started: set[Any] = field(default_factory=set)
    ready: set[Any] = field(default_factory=set)


@st.cache_resource(show_spinner=False)
def warm_ups() -> WarmUps:
    return WarmUps()


def in_background(state: WarmUps, key: Any, work: Callable[[WarmUps, Any], None]) -> None:
    """Run `work(state, key)` in a daemon thread unless it has been started before."""
    with state.lock:
        if (work, key) in state.started:
            return
        state.started.add((work, key))
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_QUIET_WARM_UP)
    threading.Thread(target=_guarded, args=(work, state, key), name=WARM_UP_THREAD, daemon=True).start()


def _guarded(work: Callable[[WarmUps, Any], None], state: WarmUps, key: Any) -> None:
    # Reading the observations holds the GIL for seconds: let the page that started us finish drawing first.
    time.sleep(BACKGROUND_DELAY.total_seconds())
    try:
        work(state, key)
    except data.DatabaseUnavailable as exc:  # the pages say so; a later page view starts the work again
        logging.getLogger("presence.dashboard").warning("background computation stopped: %s", exc)
        with state.lock:
            state.started.discard((work, key))


class _QuietWarmUp(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning for the warm-up thread: it has no page to draw
    spinners on, and that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != WARM_UP_THREAD


_QUIET_WARM_UP = _QuietWarmUp()  # one instance: addFilter ignores a filter it already has
