"""`presence dashboard`: the Streamlit dashboard, served headless and fully offline."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from app.dashboard import passwords
from config.settings import Settings

ENTRY = Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py"
DEFAULT_PORT = 8501
WARM_UP_FLAG = "--warm-up"  # app.dashboard.streamlit_app reads it: precompute the default views in the background

# Server options passed on every start, so the dashboard behaves the same from any working directory (Streamlit
# only reads .streamlit/config.toml from the current one). The repository's .streamlit/config.toml mirrors these
# for developers who run `streamlit run` by hand; a test holds the two together.
STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",  # never try to open a browser on the server
    "browser.gatherUsageStats": "false",  # no telemetry: the product runs offline
    "server.fileWatcherType": "none",  # production: no source watching, no reruns on save
    "server.runOnSave": "false",
    "client.toolbarMode": "viewer",  # store staff get no developer menu
    "client.showErrorDetails": "type",  # unexpected errors name their type, never show a traceback
    "theme.base": "light",
}


def register(subcommands) -> None:
    parser = subcommands.add_parser("dashboard", help="run the Streamlit dashboard")
    parser.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default: all interfaces, so phones on the LAN can open it)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default: {DEFAULT_PORT})")
    parser.set_defaults(run=run)


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line for the dashboard entry point."""
    options = {**STREAMLIT_OPTIONS, "server.address": host, "server.port": str(port)}
    flags = [f"--{name}={value}" for name, value in options.items()]
    return [sys.executable, "-m", "streamlit", "run", str(ENTRY), *flags, "--", WARM_UP_FLAG]


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` ("localhost", 127.0.0.0/8, ::1); a name is taken as reachable."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def password_warning(host: str, credentials: passwords.Credentials) -> str | None:
    """The one-line warning for a dashboard that others can reach without a password, or None."""
    if credentials.required or is_loopback(host):
        return None
    return (
        f"presence: warning: the dashboard on {host} has no password, anyone who can reach it sees the data; "
        f"set {passwords.PASSWORD_ENV} or a password in .streamlit/secrets.toml (docs/dashboard.md)"
    )


def run(args: argparse.Namespace) -> int:
    Settings.from_env()  # a configuration error is reported here, in words, before Streamlit starts
    credentials = passwords.credentials(passwords.secret_files(passwords.secret_file_paths()), os.environ)
    warning = password_warning(args.host, credentials)
    if warning:
        print(warning, file=sys.stderr)
    command = streamlit_command(args.host, args.port)
    sys.stdout.flush()
    # Replace this process: signals (Ctrl-C, SIGTERM from a service manager) reach Streamlit directly.
    os.execv(command[0], command)
    return 0  # not reached
