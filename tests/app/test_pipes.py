"""A closed pipe ends a command quietly: `presence export observations | head -1` prints no traceback.

The status is 141 (128 + SIGPIPE), what the shell reports for `seq 1000000 | head -1` (app.cli.CLOSED_PIPE_STATUS).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from simulator.backfill import backfill_database
from tests.servers import PRESENCE

CLOSED_PIPE_STATUS = 141
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
WINDOW = ["--from", "2026-11-24", "--to", "2026-11-25"]


@pytest.fixture
def environment(tmp_path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PRESENCE_")}
    return {**env, "PRESENCE_DATA_DIR": str(tmp_path / "data"), "PRESENCE_PSEUDONYM_KEY": "pipe-test"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "first_line"),
    [
        (["export", "observations", *WINDOW, "--format", "csv"], "vendor,site,ap_mac,device,"),
        (["export", "observations", *WINDOW, "--format", "json"], "["),
        (["export", "visits", *WINDOW, "--format", "csv"], "device,first_seen,last_seen,"),
    ],
)
def test_head_dash_1_of_an_export_ends_quietly(environment, command, first_line):
    """Megabytes of rows into a pipe buffer of 64 KiB: the reader has gone long before the last write."""
    backfill_database(Settings.from_env(environment), NOW - timedelta(days=1), NOW, 3)
    shell = f"{PRESENCE} {' '.join(command)} 2>stderr | head -1; echo ${{PIPESTATUS[0]}}"
    cwd = environment["PRESENCE_DATA_DIR"]
    done = subprocess.run(["bash", "-c", shell], env=environment, cwd=cwd, capture_output=True, text=True, timeout=120)
    first, status = done.stdout.splitlines()
    assert first.startswith(first_line)
    assert (Path(cwd) / "stderr").read_text() == ""
    assert int(status) == CLOSED_PIPE_STATUS


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--format", "json"],
        ["report", *WINDOW, "--format", "text"],
        ["export", "observations", *WINDOW, "--format", "csv"],
        ["counts", *WINDOW],
        ["quarantine", "list"],
        ["aps", "--format", "json"],
    ],
)
def test_a_pipe_closed_before_the_first_write_ends_quietly(environment, command):
    """Small outputs are written at exit, where a closed pipe would print "Exception ignored ... BrokenPipeError"."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes a byte
    try:
        done = subprocess.run(
            [PRESENCE, *command], env=environment, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.returncode == CLOSED_PIPE_STATUS
