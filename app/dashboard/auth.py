"""The dashboard's login form and logout button (which passwords open it, and how they are checked: `passwords`).

With no password configured there is no gate. With one, the router calls `gate` before it reads the configuration
or the database, so nothing the database holds is read or drawn, whatever page or filters the URL names, until
the right password is entered. The login lasts as long as the browser tab's session: a reload asks again.

Each wrong password answers only after WRONG_PASSWORD_DELAY, and an address with too many wrong passwords in a
minute must wait (`passwords.Attempts`; behind a reverse proxy every client shares the proxy's address). Each
try is counted before its password is checked, in a counter of the server process that no cache clearing
reaches, so at most five passwords a minute are checked per address however many sessions try at once. A
password is never logged or shown; the field is emptied after each attempt. Streamlit serves plain HTTP: across a
network the password is only private behind a reverse proxy with HTTPS (docs/operations.md).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import streamlit as st

from app.dashboard.passwords import Attempts, Credentials, credentials, secret_file_paths
from config.settings import ConfigError

WRONG_PASSWORD_DELAY = timedelta(seconds=1)  # guessing through one session is slow
LOCAL_ADDRESS = "localhost"  # st.context.ip_address is None for a browser on this machine
FORM_WIDTH_PX = 420
_LOGIN = "presence.login"  # session state: the Login of this session
_OUTCOME = "presence.login-outcome"  # session state: what the last attempt got wrong, shown once
_USER, _PASSWORD = "presence-login-user", "presence-login-password"  # the form's fields


def configured() -> Credentials:
    """The passwords for this run: `st.secrets` and the environment.

    A secrets file that exists but cannot be read is a ConfigError, never "no password": the gate fails closed.
    """
    try:
        secrets = st.secrets.to_dict()
    except FileNotFoundError as exc:  # Streamlit raises it for "no secrets" and "unreadable secrets" alike
        if any(Path(path).exists() for path in secret_file_paths()):
            raise ConfigError(f"the Streamlit secrets cannot be read: {exc}") from exc
        secrets = {}
    return credentials(secrets, os.environ)


def clock() -> float:
    """Seconds on a monotonic clock (tests replace it)."""
    return time.monotonic()


def pause(delay: timedelta) -> None:
    """Hold this session's answer for `delay` (tests replace it)."""
    time.sleep(delay.total_seconds())


# Module state, not st.cache_resource: any websocket client, logged in or not, can send Streamlit's clear_cache,
# which empties cache_resource (and so, there, the count of wrong passwords). A module lives as long as the server
# process and is shared by every session.
_ATTEMPTS = Attempts()


def attempts() -> Attempts:
    """The wrong passwords of the whole server (one instance, shared by every session)."""
    return _ATTEMPTS


@dataclass(frozen=True)
class Login:
    """Who logged in this session ("" for the shared password), and the fingerprint of the password they used."""

    who: str
    fingerprint: bytes = field(repr=False)


def _login(creds: Credentials) -> Login | None:
    """This session's login while it still holds (a password changed or a user removed since ends it)."""
    login = st.session_state.get(_LOGIN)
    if isinstance(login, Login) and creds.still_opens(login.who, login.fingerprint):
        return login
    st.session_state.pop(_LOGIN, None)
    return None


def gate(creds: Credentials) -> bool:
    """True when the dashboard may be shown: no password is configured, or this session has logged in.
    Otherwise draws the login form, and nothing else, and returns False."""
    if not creds.required or _login(creds) is not None:
        return True
    _login_form(creds)
    return False


def still_open() -> bool:
    """Whether this session may still see the dashboard, for a fragment's own reruns (the Live panel's), which
    skip the router and its gate: False once a password was added or changed, or the user removed."""
    try:
        creds = configured()
    except ConfigError:
        return False
    return not creds.required or _login(creds) is not None


def _login_form(creds: Credentials) -> None:
    with st.container(horizontal_alignment="center"), st.container(width=FORM_WIDTH_PX):
        st.title("Presence", anchor=False)
        with st.form("presence-login", enter_to_submit=True):
            if creds.users:
                st.markdown("Enter your user name and password to see the dashboard.")
                st.text_input(
                    "User name",
                    key=_USER,
                    autocomplete="username",
                    help="Leave empty for the shared password." if creds.shared else None,
                )
            else:
                st.markdown("Enter the password to see the dashboard.")
            st.text_input("Password", key=_PASSWORD, type="password", autocomplete="current-password")
            st.form_submit_button(
                "Log in",
                type="primary",
                icon=":material/login:",
                width="stretch",
                on_click=_submitted,
                args=(creds,),
            )
        outcome = st.session_state.pop(_OUTCOME, None)
        if outcome is not None:
            show, text, icon = outcome
            getattr(st, show)(text, icon=icon)
        st.caption("No password? Ask whoever looks after the dashboard.")


def _submitted(creds: Credentials) -> None:
    """The form's callback, run before the script: check the login, forget the password that was typed (the user
    name stays, for a second try), and either log in, so this very run draws the page the URL names, or keep
    what was wrong for the form to say."""
    user = st.session_state.get(_USER) or ""
    password = st.session_state.get(_PASSWORD) or ""
    st.session_state[_PASSWORD] = ""
    outcome = _attempt(creds, user, password)
    if outcome is not None:
        st.session_state[_OUTCOME] = outcome


def _attempt(creds: Credentials, user: str, password: str) -> tuple[str, str, str] | None:
    """Check one login: None when it succeeded (and the session is logged in), else what to say, as
    (Streamlit alert, text, icon)."""
    if not password:
        return ("warning", "Enter the password.", ":material/password:")
    board = attempts()
    address = _address()
    wait = board.attempt(address, clock())  # counted before the check, so parallel sessions share the limit
    if wait > 0:
        return ("error", f"**Too many wrong passwords.** Try again in {math.ceil(wait)} s.", ":material/timer:")
    who = creds.check(user, password)
    if who is None:
        pause(WRONG_PASSWORD_DELAY)
        what = "user name or password" if creds.users else "password"
        return ("error", f"**Wrong {what}.** Check it and try again.", ":material/lock:")
    board.succeeded(address)
    fingerprint = creds.fingerprint(who)
    assert fingerprint is not None  # check() lets nobody in without a password
    st.session_state[_LOGIN] = Login(who, fingerprint)
    return None


def _address() -> str:
    """The client's address: the browser's, or the reverse proxy's when there is one."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else LOCAL_ADDRESS


def _log_out() -> None:
    st.session_state.pop(_LOGIN, None)


def logout_button() -> None:
    """At the foot of the sidebar, once logged in: who is logged in, and a button to log out."""
    login = st.session_state.get(_LOGIN)
    if not isinstance(login, Login):
        return
    bar = st.sidebar
    bar.divider()
    if login.who:
        bar.caption(f"Logged in as **{login.who}**")
    bar.button("Log out", icon=":material/logout:", on_click=_log_out, key="presence-logout")
