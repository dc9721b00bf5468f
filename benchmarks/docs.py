"""Shared by the benchmarks: describing the machine and rewriting one section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    """CPU count and model, OS, Python and SQLite versions: what a reader needs to weigh the figures."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        model = names[0] if names else model
    versions = f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, {versions}"


def write_section(heading: str, section: str, path: Path = DOC) -> None:
    """Replace the section under `heading` (up to the next `## `) with `section`, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if begin is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
        return
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    path.write_text("".join(lines[:begin]) + section.rstrip("\n") + "\n" + ("\n" + tail if tail else ""))
