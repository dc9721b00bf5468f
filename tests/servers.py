"""Starting real `presence` server processes for end-to-end tests, and stopping them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

PRESENCE = str(Path(sys.executable).with_name("presence"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def running_receiver(env: dict[str, str], *, workers: int = 2, log: Path | None = None) -> Iterator[str]:
    """`presence serve` on a free loopback port; yields its base URL, then stops it with SIGTERM."""
    port = free_port()
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [PRESENCE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--quiet"],
        env={**os.environ, **env},
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{base_url}/healthz", process)
        yield base_url
    finally:
        stop(process)
        if log:
            output.close()


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
