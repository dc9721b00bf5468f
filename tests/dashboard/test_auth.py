"""The dashboard's password: where it is configured, how it is checked, and the login form under AppTest, which
must show nothing but itself (and read nothing from the database) until the right password is entered."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.dashboard import auth, data, filters, passwords, products
from app.dashboard.passwords import Attempts, Credentials, credentials, secret_files
from config.settings import ConfigError
from tests.dashboard.conftest import ENTRY, Shop
from tests.dashboard.test_pages import TIMEOUT, cli_report, default_days

PASSWORD = "correct horse battery staple"
PAGES = ("live", "visitors", "trends", "zones")


# --- which passwords are configured -------------------------------------------------------------------------------


def test_without_any_password_there_is_no_gate() -> None:
    assert credentials({}, {}).required is False
    assert credentials({"unrelated": "value"}, {passwords.PASSWORD_ENV: ""}).required is False


@pytest.mark.parametrize(
    ("secrets", "environ", "shared"),
    [
        ({}, {passwords.PASSWORD_ENV: "from-env"}, "from-env"),
        ({"password": "from-file"}, {}, "from-file"),
        ({"password": "from-file"}, {passwords.PASSWORD_ENV: "from-env"}, "from-env"),
        ({"password": "from-file"}, {passwords.PASSWORD_ENV: ""}, "from-file"),
        ({"passwords": {"ana": "pw-ana"}}, {}, None),
    ],
    ids=["environment", "secrets", "environment-wins", "empty-environment-is-unset", "users-only"],
)
def test_the_environment_takes_precedence_over_the_shared_secret(secrets, environ, shared) -> None:
    creds = credentials(secrets, environ)
    assert creds.shared == shared
    assert creds.required is True


def test_user_accounts_work_alongside_the_shared_password() -> None:
    creds = credentials({"passwords": {"ana": "pw-ana", " bo ": "pw-bo"}}, {passwords.PASSWORD_ENV: "shared"})
    assert creds.users == {"ana": "pw-ana", "bo": "pw-bo"}
    assert creds.shared == "shared"


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"password": 1234}, "must be text"),
        ({"passwords": "ana:pw"}, r"\[passwords\] in secrets.toml must be a table"),
        ({"passwords": {"ana": 1234}}, r"\[passwords\] in secrets.toml must be a table"),
        ({"passwords": {"ana": ""}}, r"\[passwords\] in secrets.toml must be a table"),
        ({"passwords": {" ": "pw"}}, "empty user name"),
    ],
)
def test_a_malformed_password_setting_is_a_configuration_error(secrets, message) -> None:
    with pytest.raises(ConfigError, match=message):
        credentials(secrets, {})


@pytest.mark.parametrize(
    ("user", "password", "who"),
    [
        ("", "shared", ""),
        ("", "Shared", None),
        ("", "shared ", None),
        ("", "", None),
        ("ana", "pw-ana", "ana"),
        (" ana ", "pw-ana", "ana"),
        ("ana", "shared", None),
        ("", "pw-ana", None),
        ("nobody", "pw-ana", None),
        ("nobody", "", None),
    ],
)
def test_check_says_who_a_password_lets_in(user: str, password: str, who: str | None) -> None:
    creds = Credentials(shared="shared", users={"ana": "pw-ana"})
    assert creds.check(user, password) == who


def test_without_a_shared_password_an_empty_one_opens_nothing() -> None:
    assert Credentials(users={"ana": "pw-ana"}).check("", "") is None


def test_a_login_holds_while_its_password_is_unchanged() -> None:
    before = Credentials(shared="shared", users={"ana": "pw-ana", "bo": "pw-bo"})
    ana, shared = before.fingerprint("ana"), before.fingerprint("")
    assert ana is not None
    assert shared is not None
    assert ana != hashlib.sha256(b"pw-ana").digest()  # keyed: not a plain hash of the password
    assert before.fingerprint("nobody") is None
    after = Credentials(shared="shared", users={"bo": "pw-bo-new"})
    assert after.still_opens("", shared) is True
    assert after.still_opens("ana", ana) is False  # removed
    assert after.still_opens("bo", before.fingerprint("bo") or b"") is False  # password changed
    assert Credentials(users={"ana": "pw-ana"}).still_opens("", shared) is False  # no shared password any more


def test_credentials_never_show_their_passwords() -> None:
    creds = Credentials(shared="s3cret-shared", users={"ana": "s3cret-ana"})
    assert "s3cret" not in repr(creds)
    assert "s3cret" not in str(creds)


def test_secret_files_are_merged_later_ones_winning(tmp_path: Path) -> None:
    home, here = tmp_path / "home.toml", tmp_path / "here.toml"
    home.write_text('password = "home"\n[passwords]\nana = "pw-ana"\n')
    here.write_text('password = "here"\n')
    assert secret_files([home, tmp_path / "missing.toml", tmp_path, here]) == {
        "password": "here",
        "passwords": {"ana": "pw-ana"},
    }


def test_an_unreadable_secret_file_is_a_configuration_error_without_its_content(tmp_path: Path) -> None:
    broken = tmp_path / "secrets.toml"
    broken.write_text('password = "hunter2\n')
    with pytest.raises(ConfigError, match="cannot read") as raised:
        secret_files([broken])
    assert "hunter2" not in str(raised.value)


# --- guessing -----------------------------------------------------------------------------------------------------


def test_an_address_with_too_many_wrong_passwords_waits_until_the_oldest_leaves_the_window() -> None:
    board = Attempts()
    window = passwords.FAILURE_WINDOW.total_seconds()
    for second in range(passwords.MAX_FAILURES):
        assert board.wait("10.0.0.9", 100.0 + second) == 0
        board.failed("10.0.0.9", 100.0 + second)
    assert board.wait("10.0.0.9", 110.0) == pytest.approx(100.0 + window - 110.0)
    assert board.wait("10.0.0.8", 110.0) == 0  # another address is not affected
    assert board.wait("10.0.0.9", 100.0 + window) == 0  # the first failure has left the window
    assert board.failures == {"10.0.0.9": board.failures["10.0.0.9"]}
    assert len(board.failures["10.0.0.9"]) == passwords.MAX_FAILURES - 1


def test_a_login_forgets_the_wrong_passwords_of_its_address() -> None:
    board = Attempts()
    for second in range(passwords.MAX_FAILURES - 1):
        board.failed("10.0.0.9", float(second))
    board.succeeded("10.0.0.9")
    board.failed("10.0.0.9", 10.0)
    assert board.wait("10.0.0.9", 11.0) == 0
    assert board.failures == {"10.0.0.9": board.failures["10.0.0.9"]}
    assert list(board.failures["10.0.0.9"]) == [10.0]


def test_parallel_tries_from_one_address_get_at_most_the_limit_of_checks() -> None:
    board = Attempts()
    start = threading.Barrier(30)
    allowed: list[float] = []

    def attempt() -> None:
        start.wait()
        allowed.append(board.attempt("10.0.0.9", 100.0))

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed)[: passwords.MAX_FAILURES] == [0.0] * passwords.MAX_FAILURES
    assert all(wait > 0 for wait in sorted(allowed)[passwords.MAX_FAILURES :])
    assert len(board.failures["10.0.0.9"]) == passwords.MAX_FAILURES


# --- the gate, under AppTest --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's count of wrong passwords lives in the auth module for the life of the process: a fresh one
    per test."""
    monkeypatch.setattr(auth, "_ATTEMPTS", Attempts())


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of the configuration or the database fails the test: the gate must come before all of them."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the dashboard read its data before the login")

    for name in ("source", "settings", "span", "engine"):
        monkeypatch.setattr(data, name, forbidden)
    monkeypatch.setattr(products, "filter_options", forbidden)


@pytest.fixture
def password(empty_shop: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(passwords.PASSWORD_ENV, PASSWORD)
    return PASSWORD


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[timedelta]:
    """The delays the login form held wrong answers for (recorded, not waited)."""
    held: list[timedelta] = []
    monkeypatch.setattr(auth, "pause", held.append)
    return held


def opened(page: str = "live", secrets: dict | None = None, **query: str | list[str]) -> AppTest:
    test = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    test.secrets.update(secrets or {})
    for key, value in query.items():
        test.query_params[key] = value
    test.run()
    if page != "live":
        test.switch_page(f"views/{page}.py").run()
    return test


def log_in(test: AppTest, password: str, user: str | None = None) -> AppTest:
    if user is not None:
        [field] = [field for field in test.text_input if field.label == "User name"]
        field.input(user)
    [field] = [field for field in test.text_input if field.label == "Password"]
    field.input(password)
    [button] = [button for button in test.button if button.label == "Log in"]
    return button.click().run()


def assert_only_the_login_form(test: AppTest) -> None:
    assert not test.exception, [exception.message for exception in test.exception]
    assert [title.value for title in test.title] == ["Presence"]
    assert {field.label for field in test.text_input} <= {"User name", "Password"}
    assert not test.metric
    assert not test.get("vega_lite_chart")
    assert not test.dataframe
    assert not test.sidebar.children
    assert not test.subheader


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    "query",
    [
        {},
        {filters.SSID: "Guest", filters.DATES: ["2026-11-02", "2026-11-08"], "present": "true"},
        {"password": PASSWORD},
        {auth._LOGIN: "admin", "user": "admin", "logged_in": "true"},
    ],
    ids=["plain", "filters", "password-in-url", "login-in-url"],
)
def test_the_gate_blocks_every_page_whatever_the_url(password, no_database, page: str, query: dict) -> None:
    test = opened(page, **query)
    assert_only_the_login_form(test)
    assert [field.label for field in test.text_input] == ["Password"]
    assert not test.error


def test_a_wrong_password_is_refused_slowly_and_clearly(password, no_database, pauses) -> None:
    test = log_in(opened("visitors"), "correct horse battery")
    assert_only_the_login_form(test)
    assert test.error[0].value == "**Wrong password.** Check it and try again."
    assert "correct horse" not in test.error[0].value
    assert pauses == [auth.WRONG_PASSWORD_DELAY]
    assert test.text_input[0].value == ""  # the password typed is forgotten at once
    assert len(auth.attempts().failures[auth.LOCAL_ADDRESS]) == 1  # counted against this address


def test_an_empty_password_is_a_hint_not_a_wrong_guess(password, no_database, pauses) -> None:
    test = log_in(opened(), "")
    assert_only_the_login_form(test)
    assert test.warning[0].value == "Enter the password."
    assert pauses == []
    assert auth.attempts().failures == {}


def test_too_many_wrong_passwords_lock_the_address_out_for_a_minute(
    password, pauses, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    test = opened()
    for _ in range(passwords.MAX_FAILURES):
        log_in(test, "guess")
        now[0] += 1
    test = log_in(test, password)  # even the right one gets no answer now
    assert_only_the_login_form(test)
    assert test.error[0].value == "**Too many wrong passwords.** Try again in 55 s."
    assert len(pauses) == passwords.MAX_FAILURES

    now[0] += 60
    test = log_in(test, password)
    assert not test.exception
    assert test.title[0].value == "No observations yet"  # the empty database's Get started page, now shown


def test_an_unreadable_secrets_file_keeps_the_dashboard_shut(empty_shop, secrets_file: Path, no_database) -> None:
    secrets_file.write_text('password = "hunter2\n')
    test = opened("visitors")
    assert not test.exception
    assert "configuration is not valid" in test.error[0].value
    assert "hunter2" not in test.error[0].value
    assert not test.text_input
    assert not test.metric


def test_user_accounts_from_streamlit_secrets(empty_shop, pauses) -> None:
    secrets = {"password": "shared-one", "passwords": {"ana": "pw-ana", "bo": "pw-bo"}}
    test = opened(secrets=secrets)
    assert_only_the_login_form(test)
    assert [field.label for field in test.text_input] == ["User name", "Password"]

    test = log_in(test, "shared-one", user="ana")
    assert test.error[0].value == "**Wrong user name or password.** Check it and try again."
    assert {field.label: field.value for field in test.text_input} == {"User name": "ana", "Password": ""}
    test = log_in(test, "pw-ana", user="ana")
    assert not test.exception
    assert test.title[0].value == "No observations yet"
    assert "Logged in as **ana**" in [caption.value for caption in test.sidebar.caption]

    test = test.sidebar.button(key="presence-logout").click().run()
    assert_only_the_login_form(test)
    test = log_in(test, "shared-one", user="")
    assert test.title[0].value == "No observations yet"
    assert not test.sidebar.caption  # the shared password names nobody


def test_removing_a_user_from_the_secrets_ends_their_login(empty_shop) -> None:
    test = log_in(opened(secrets={"passwords": {"ana": "pw-ana", "bo": "pw-bo"}}), "pw-ana", user="ana")
    assert test.title[0].value == "No observations yet"
    test.secrets["passwords"] = {"bo": "pw-bo"}  # as when secrets.toml is edited: Streamlit rereads it
    test.run()
    assert_only_the_login_form(test)
    assert not test.error


def test_the_empty_database_page_is_behind_the_gate_too(password, no_database) -> None:
    assert_only_the_login_form(opened())


@pytest.mark.slow
def test_the_right_password_opens_the_shared_link_and_log_out_closes_it(
    simulated_shop: Shop, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pauses
) -> None:
    monkeypatch.setenv(passwords.PASSWORD_ENV, PASSWORD)
    test = opened("visitors", **{filters.SSID: "Guest"})
    assert_only_the_login_form(test)
    test = log_in(test, "not it")
    assert_only_the_login_form(test)

    test = log_in(test, PASSWORD)
    assert not test.exception, [exception.message for exception in test.exception]
    assert not test.error
    assert test.title[0].value == "Visitors"  # the page the link named, with its filter
    assert test.sidebar.selectbox(key=filters.SSID).value == "Guest"
    first, last = default_days(simulated_shop)
    guest = cli_report(capsys, first, last, "--ssid", "Guest")
    assert {metric.label: metric.value for metric in test.metric}["Visitors"] == f"{guest['visitors']:,}"

    test.switch_page("views/zones.py").run()  # the login lasts for the session
    assert test.title[0].value == "Zones"

    test = test.sidebar.button(key="presence-logout").click().run()
    assert_only_the_login_form(test)


def test_a_try_is_counted_before_its_password_is_checked(password, no_database, monkeypatch) -> None:
    """While a wrong password is held back (the 1 s pause), it already counts: sessions that check meanwhile
    see it."""
    counted_during_pause: list[int] = []
    monkeypatch.setattr(
        auth, "pause", lambda delay: counted_during_pause.append(len(auth.attempts().failures[auth.LOCAL_ADDRESS]))
    )
    log_in(opened(), "guess")
    assert counted_during_pause == [1]


def test_clearing_streamlits_caches_does_not_reset_the_count(password, pauses) -> None:
    """Any websocket client may send clear_cache, which empties st.cache_resource and st.cache_data."""
    test = opened()
    for _ in range(passwords.MAX_FAILURES):
        log_in(test, "guess")
    st.cache_resource.clear()
    st.cache_data.clear()
    test = log_in(opened(), password)  # a new session, after the caches were emptied
    assert_only_the_login_form(test)
    assert test.error[0].value.startswith("**Too many wrong passwords.**")


def test_many_sessions_of_one_address_share_five_checks(password, pauses) -> None:
    answers = []
    for _ in range(8):
        test = log_in(opened(), "guess")
        answers.append(test.error[0].value.split("**")[1])
        st.cache_resource.clear()
    assert answers == ["Wrong password."] * passwords.MAX_FAILURES + ["Too many wrong passwords."] * 3
