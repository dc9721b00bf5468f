"""Backfill benchmark: four weeks of the default shop into a temporary SQLite database, against bare sqlite3.

Run `.venv/bin/python -m benchmarks.backfill`; it prints the figures and rewrites the "## Backfill" section of
docs/benchmarks.md. Measured, each from scratch into its own database with the default settings (synchronous=FULL):
- the backfill as `presence simulate --days 28` runs it (simulator.backfill, one process per core);
- the same in one process;
- generating and rendering the payload models alone, storing nothing;
- one day stored one transaction per payload, as the receiver stores POSTs, to show why backfill batches;
- the baseline: bare sqlite3 `executemany` of the very rows the backfill stored, into a table built from the same
  schema statements (same indexes), committed in batches of the same size.
Wall time is what counts; CPU time (this process and its children) shows how much the machine was shared.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.baseline import bare_sqlite_insert, stored_rows
from benchmarks.docs import machine, write_section
from config.settings import Settings
from simulator.backfill import DEFAULT_PROCESSES, backfill_database
from simulator.database import BACKFILL_BATCH_ROWS, DatabaseSink
from simulator.layout import default_shop
from simulator.run import feed, simulate
from store import db

SECTION = "## Backfill"
# Four whole weeks ending on a Monday midnight, so every weekday appears four times.
END = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 28
SEED = 1
# The single-transaction-per-payload run covers one (Sunday) day and is extrapolated by its rate.
PER_PAYLOAD_DAYS = 1
# The target for four weeks of the default shop.
TARGET_S = 60.0


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # user + system, this process and finished children


def timed(action: Callable[[], object]) -> tuple[Timing, object]:
    def cpu() -> float:
        mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime

    wall_start, cpu_start = time.perf_counter(), cpu()
    result = action()
    return Timing(time.perf_counter() - wall_start, cpu() - cpu_start), result


def settings_in(directory: Path) -> Settings:
    return Settings.from_env({"PRESENCE_DATA_DIR": str(directory), "PRESENCE_PSEUDONYM_KEY": "benchmark-key"})


def per_payload(settings: Settings, start: datetime, end: datetime) -> DatabaseSink:
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    db.migrate(engine)
    sink = DatabaseSink(settings, engine, batch_rows=0)
    feed(simulate(default_shop(), start, end, SEED), sink)
    engine.dispose()
    return sink


def generate_only(start: datetime, end: datetime) -> int:
    return sum(report.size for report in simulate(default_shop(), start, end, SEED).reports())


def main() -> int:
    start = END - timedelta(days=DAYS)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="presence-bench-") as tmp:
        root = Path(tmp)
        print(f"backfill, {DEFAULT_PROCESSES} processes ...", file=sys.stderr)
        parallel, (_, summary) = timed(lambda: backfill_database(settings_in(root / "parallel"), start, END, SEED))
        observations = summary.observations
        print(f"  {parallel.wall:.1f} s, {observations} observations", file=sys.stderr)

        print("backfill, 1 process ...", file=sys.stderr)
        single, _ = timed(lambda: backfill_database(settings_in(root / "single"), start, END, SEED, processes=1))
        print(f"  {single.wall:.1f} s", file=sys.stderr)

        print("generate and render only ...", file=sys.stderr)
        generate, generated = timed(lambda: generate_only(start, END))
        assert generated == observations, (generated, observations)
        print(f"  {generate.wall:.1f} s", file=sys.stderr)

        print("one transaction per payload, one day ...", file=sys.stderr)
        one_day = END - timedelta(days=PER_PAYLOAD_DAYS)
        payload_run, sink = timed(lambda: per_payload(settings_in(root / "per-payload"), one_day, END))
        print(f"  {payload_run.wall:.1f} s, {sink.observations} observations", file=sys.stderr)

        print("baseline: bare sqlite3 executemany ...", file=sys.stderr)
        schema, columns, rows = stored_rows(root / "parallel" / "presence.db")
        assert len(rows) == observations, (len(rows), observations)
        bare, _ = timed(
            lambda: bare_sqlite_insert(
                root / "baseline.db", schema, columns, rows, batch_rows=BACKFILL_BATCH_ROWS, synchronous="FULL"
            )
        )
        print(f"  {bare.wall:.1f} s", file=sys.stderr)
    load_after = os.getloadavg()

    def rate(count: int, timing: Timing) -> str:
        return f"{count / timing.wall:,.0f}"

    per_payload_rate = sink.observations / payload_run.wall
    table = [
        ("what", "wall s", "CPU s", "observations/s", "time per observation × baseline"),
        (f"backfill, {DEFAULT_PROCESSES} processes (`presence simulate --days {DAYS}`)", parallel, observations),
        ("backfill, 1 process", single, observations),
        ("generate + render payload models only (no storing)", generate, observations),
        (
            f"one transaction per payload ({PER_PAYLOAD_DAYS} day; 4 weeks would take "
            f"~{observations / per_payload_rate:,.0f} s)",
            payload_run,
            sink.observations,
        ),
        ("baseline: bare sqlite3 executemany, same rows and indexes", bare, observations),
    ]
    lines = [
        SECTION,
        "",
        f"Four weeks ({start:%Y-%m-%d} to {END:%Y-%m-%d}) of the default shop (4 APs, mixed vendors, seed {SEED}): "
        f"{observations:,} observations in {summary.payloads:,} payloads, {summary.visits.get('visitor', 0):,} "
        f"visitors, {summary.visits.get('passerby', 0):,} passersby, {summary.visits.get('staff', 0)} staff shifts. "
        f"Stored through the receiver's own path (payload model → `sightings()` → `Normalizer.rows` → "
        f"`store_observations`), {BACKFILL_BATCH_ROWS:,} rows per transaction, into SQLite with synchronous=FULL.",
        "",
        "| " + " | ".join(table[0]) + " |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, timing, count in table[1:]:
        lines.append(
            f"| {label} | {timing.wall:.1f} | {timing.cpu:.1f} | {rate(count, timing)} | "
            f"{(timing.wall / count) / (bare.wall / observations):.1f} |"
        )
    verdict = "meets" if parallel.wall < TARGET_S else "MISSES"
    lines += [
        "",
        f"The backfill {verdict} the {TARGET_S:.0f} s target for four weeks. Generating the traffic and building the "
        "payload models is the smaller part; most of the time is the receiver's own path (validation, "
        "normalization, SQLAlchemy's per-row parameter processing), so the window is split across processes "
        "rather than the path shortened. One transaction per payload, as the receiver commits each POST, would "
        "spend most of its time waiting for the disk at each commit, hence the batches.",
        "",
        f"Machine: {machine()}. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; on a shared "
        "machine, CPU seconds well under wall seconds × processes mean time spent waiting for a core, the disk or "
        f"SQLite's write lock. Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.backfill`.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
