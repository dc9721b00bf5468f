"""`make demo PORT=... DASHBOARD_PORT=...`, and a port in use said as such before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.commands.demo import port_in_use
from tests.servers import PRESENCE, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def demo(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PRESENCE_")}
    env["PRESENCE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([PRESENCE, "demo", *options], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("busy", "variable", "option"),
    [("receiver", "PORT", "--port"), ("dashboard", "DASHBOARD_PORT", "--dashboard-port")],
)
def test_a_port_in_use_is_named_with_what_to_do_before_anything_starts(tmp_path, occupied_port, busy, variable, option):
    ports = {"receiver": free_port(), "dashboard": free_port(), busy: occupied_port}
    done = demo(tmp_path, "--port", str(ports["receiver"]), "--dashboard-port", str(ports["dashboard"]))
    assert done.returncode == 2
    assert f"port {occupied_port} on 127.0.0.1 is already in use" in done.stderr
    assert f"the {busy}'s port" in done.stderr
    suggested = next(port for port in range(occupied_port + 1, occupied_port + 9) if port not in ports.values())
    assert f"make demo {variable}={suggested}  (or presence demo {option} {suggested})" in done.stderr
    assert "see its log" not in done.stderr
    assert not (tmp_path / "data" / "presence.db").exists()  # no backfill, no receiver, no dashboard
    assert not (tmp_path / "data" / "receiver.log").exists()


def test_port_in_use_sees_a_listener_and_frees_a_closed_port(occupied_port):
    assert port_in_use("127.0.0.1", occupied_port) == (
        f"port {occupied_port} on 127.0.0.1 is already in use (another program, or a demo still running)"
    )
    assert port_in_use("127.0.0.1", free_port()) is None


def test_make_demo_passes_its_ports_to_presence_demo():
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(ROOT), "demo", "PORT=8123", "DASHBOARD_PORT=8124"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.splitlines()[-1].endswith("presence demo --port 8123 --dashboard-port 8124")
    default = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "demo", "PORT=8000"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "--dashboard-port 8501" in default.stdout
