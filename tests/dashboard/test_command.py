"""`presence dashboard`: the Streamlit command line it runs, offline and headless, and its configuration checks."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from app import cli
from app.commands import dashboard
from app.dashboard import passwords

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_runs_the_router_headless_without_telemetry() -> None:
    command = dashboard.streamlit_command("127.0.0.1", 8765)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(dashboard.ENTRY)]
    assert dashboard.ENTRY == ROOT / "app" / "dashboard" / "streamlit_app.py"
    assert "--server.headless=true" in command
    assert "--browser.gatherUsageStats=false" in command
    assert "--server.address=127.0.0.1" in command
    assert "--server.port=8765" in command
    assert command[-2:] == ["--", dashboard.WARM_UP_FLAG]


def test_repository_streamlit_config_agrees_with_the_command() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{name}": value for section, values in config.items() for name, value in values.items()}
    assert flat["server.headless"] is True
    assert flat["browser.gatherUsageStats"] is False
    for name, value in flat.items():
        assert dashboard.STREAMLIT_OPTIONS[name] == str(value).lower(), name


def test_run_replaces_the_process_with_streamlit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path))
    started: list[list[str]] = []
    monkeypatch.setattr(dashboard.os, "execv", lambda path, argv: started.append([path, *argv]))
    assert cli.main(["dashboard", "--port", "9123", "--host", "127.0.0.1"]) == 0
    [(path, *argv)] = started
    assert path == sys.executable
    assert argv == dashboard.streamlit_command("127.0.0.1", 9123)


def test_a_configuration_error_is_reported_before_streamlit_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRESENCE_TIMEZONE", "Nowhere/Special")
    monkeypatch.setattr(dashboard.os, "execv", lambda path, argv: pytest.fail("Streamlit must not start"))
    assert cli.main(["dashboard"]) == 2
    assert "Nowhere/Special" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("shop-pc.local", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine_only(host: str, loopback: bool) -> None:
    assert dashboard.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "env", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("192.168.1.20", {}, True),
        ("0.0.0.0", {passwords.PASSWORD_ENV: "s3cret"}, False),
        ("127.0.0.1", {}, False),
    ],
)
def test_a_dashboard_others_can_reach_without_a_password_gets_a_one_line_warning(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    host: str,
    env: dict[str, str],
    warned: bool,
) -> None:
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(passwords.PASSWORD_ENV, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(dashboard.os, "execv", lambda path, argv: None)
    assert cli.main(["dashboard", "--host", host]) == 0
    err = capsys.readouterr().err
    if warned:
        assert err == (
            f"presence: warning: the dashboard on {host} has no password, anyone who can reach it sees the data; "
            f"set {passwords.PASSWORD_ENV} or a password in .streamlit/secrets.toml (docs/dashboard.md)\n"
        )
    else:
        assert err == ""
    assert "s3cret" not in err


def test_a_password_in_streamlit_secrets_counts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(passwords.PASSWORD_ENV, raising=False)
    secrets_file.write_text('[passwords]\nana = "pw-ana"\n')
    monkeypatch.setattr(dashboard.os, "execv", lambda path, argv: None)
    assert cli.main(["dashboard", "--host", "0.0.0.0"]) == 0
    assert capsys.readouterr().err == ""


def test_unreadable_secrets_are_reported_before_streamlit_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(tmp_path))
    secrets_file.write_text('password = "hunter2\n')
    monkeypatch.setattr(dashboard.os, "execv", lambda path, argv: pytest.fail("Streamlit must not start"))
    assert cli.main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert f"cannot read {secrets_file}" in err
    assert "hunter2" not in err
