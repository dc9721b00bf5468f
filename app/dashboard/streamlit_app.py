"""The presence dashboard: a router that asks for the password, checks the database, draws the shared sidebar
filters and runs one page.

`presence dashboard` serves this file. When a password is configured (see `auth`), the login form comes before
anything else: the configuration and the database are not read, and no page runs, until it is entered. An
unreadable configuration or database gets a message instead of a traceback; an empty database gets the page that
says how to point the access points at the receiver.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from app.dashboard import auth, data, filters, products, ui
from config.settings import ConfigError

# Not `pages/`: Streamlit treats a `pages/` folder beside the entry script as a legacy multipage app, and a first
# visit to a shared link such as /visitors would then run that page without this router (and its filters).
PAGES = Path(__file__).resolve().parent / "views"
# A local file, not a ":material/...:" icon: Streamlit fetches those favicons from a font CDN, and the dashboard
# must work offline.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
# `presence dashboard` passes this script argument: a long-running server precomputes every page's default view.
WARM_UP_FLAG = "--warm-up"

st.set_page_config(page_title="Presence", page_icon=str(ICON) if ICON.exists() else None, layout="wide")
ui.style()


def _pages(*, chain: bool = True) -> list[st.Page]:
    """The pages; the Sites page only for a chain (more than one site known), but always before the login, so a
    shared link to /sites resolves."""
    sites = [st.Page(PAGES / "sites.py", title="Sites", icon=":material/storefront:")] if chain else []
    return [
        st.Page(PAGES / "live.py", title="Live", icon=":material/sensors:", default=True),
        *sites,
        st.Page(PAGES / "visitors.py", title="Visitors", icon=":material/groups:"),
        st.Page(PAGES / "trends.py", title="Trends", icon=":material/trending_up:"),
        st.Page(PAGES / "zones.py", title="Zones", icon=":material/grid_view:"),
    ]


def _get_started() -> st.Page:
    return st.Page(PAGES / "get_started.py", title="Get started", icon=":material/cable:")


def _counts(*, default: bool = False) -> st.Page:
    """The only page of a count-only installation (PRESENCE_COUNT_ONLY=1): no visits to show, only counts."""
    return st.Page(PAGES / "counts.py", title="Counts", icon=":material/sensors:", default=default)


def _options(src: data.Source):
    return lambda first, last, sites: filters.FilterOptions(**products.filter_options(src, first, last, sites))


def _site_choices(src: data.Source) -> filters.SiteChoices:
    return filters.SiteChoices(data.known_sites(src), src.groups(), any(site.hours for site in src.sites))


def main() -> None:
    try:
        creds = auth.configured()
    except ConfigError as exc:
        ui.configuration_error(exc)
        return
    if not auth.gate(creds):
        # Only so that Streamlit resolves the page the URL names (a shared link to /visitors) and opens it after
        # the login; no page runs, and nothing below reads the configuration or the database.
        st.navigation([*_pages(), _get_started(), _counts()], position="hidden")
        return
    dashboard()
    auth.logout_button()


def dashboard() -> None:
    try:
        src = data.source()
    except ConfigError as exc:
        ui.configuration_error(exc)
        return
    try:
        held = data.span(src)
    except data.DatabaseUnavailable as exc:
        ui.database_unreachable(exc)
        return
    if held.empty:
        st.navigation([_get_started()]).run()
        return
    try:
        choices = filters.SiteChoices() if src.count_only else _site_choices(src)
    except data.DatabaseUnavailable as exc:
        ui.database_unreachable(exc)
        return
    page = st.navigation([_counts(default=True)] if src.count_only else _pages(chain=len(choices.sites) > 1))
    options = (lambda first, last, sites: filters.FilterOptions()) if src.count_only else _options(src)
    try:
        selection = filters.sidebar(held.first_day, held.last_day, data.today(src), options, choices)
        if WARM_UP_FLAG in sys.argv:
            products.warm_up(src, selection.first, selection.last)
        page.run()
    except data.DatabaseUnavailable as exc:
        ui.database_unreachable(exc)


main()
