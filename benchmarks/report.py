"""Report benchmark: `presence report` of a busy shop's week from stored visits, against the naive pipeline.

Run `.venv/bin/python -m benchmarks.report` (about an hour on a shared two-core machine; `--quick` for a
small run); it prints the figures and rewrites the "## Report" section of docs/benchmarks.md.

The data: the simulator's traffic model scaled up. One week of the default shop is simulated (seed 1) and stored
through the receiver's own path into a template database; its observations are then copied `replicas` times
into the benchmark database, each copy with its own device pseudonyms (a randomized MAC gets a new pseudonym
every week, a stable one keeps it across weeks, as real phones do), every device's times shifted by its own
random offset of up to ±20 minutes, and fresh dedupe keys. Rows go in by bare sqlite3 executemany, in time
order per day (as an installation receives them), into the receiver's migrated schema with its indexes. Weeks
of history are the same week shifted back.

Measured, each in its own subprocess (peak RSS from resource.getrusage there):
- the refresh that catches the visits up with every stored observation (the first refresh after an upgrade);
- `presence report` of the last week (JSON), cold (the first run after the refresh) and warm (the next runs),
  with the interpreter's start-up, plus the time inside the process from reading settings to the report dict;
- `presence report --naive` (read the window's observations and 28 days of history into pandas, sessionize);
- the steady state: one hour and one minute of new observations (a busy Monday hour copied after the window,
  with new pseudonyms) merged by a refresh, with the whole history stored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from config.settings import Settings
from store import db

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Report"
TIMEZONE = "Europe/Amsterdam"
TEMPLATE_WEEK = date(2026, 11, 2)  # a Monday; the report window is the last week built
SEED = 1
BUSY_REPLICAS = 66  # 66 copies of the default shop's week: about ten million observations
SCALING_REPLICAS = 4  # the history series (1, 4 and 16 weeks) at four shops' traffic
SCALING_WEEKS = (1, 4, 16)
JITTER_MINUTES = 20
INSERT_BATCH = 200_000
WARM_RUNS = 3
# The targets.
TARGET_SPEEDUP = 30.0
TARGET_WARM_S = 1.0
TARGET_RSS_MIB = 1024.0
OBSERVATION_COLUMNS = (
    "vendor",
    "site",
    "ap_mac",
    "device",
    "randomized",
    "manufacturer",
    "os",
    "ssid",
    "associated",
    "first_seen",
    "last_seen",
    "rssi_min",
    "rssi_max",
    "rssi_avg",
    "rssi_last",
    "count",
    "x",
    "y",
    "lat",
    "lng",
    "unc",
    "received_at",
    "dedupe_key",
)
TIME_COLUMNS = ("first_seen", "last_seen", "received_at")


def settings_for(directory: Path) -> Settings:
    return Settings.from_env(
        {
            "PRESENCE_DATA_DIR": str(directory),
            "PRESENCE_PSEUDONYM_KEY": "benchmark-key",
            "PRESENCE_TIMEZONE": TIMEZONE,
            "PRESENCE_SQLITE_SYNCHRONOUS": "OFF",
        }
    )


def template_week(directory: Path) -> pd.DataFrame:
    """One simulated week of the default shop, stored through the receiver's path, read back as a frame."""
    from simulator.backfill import backfill_database
    from simulator.layout import default_shop

    settings = settings_for(directory)
    start = datetime.combine(TEMPLATE_WEEK, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE))
    backfill_database(settings, start, start + timedelta(days=7), SEED, shop=default_shop(TIMEZONE))
    with sqlite3.connect(directory / "presence.db") as connection:
        frame = pd.read_sql_query(f"SELECT {', '.join(OBSERVATION_COLUMNS)} FROM observation ORDER BY id", connection)
    for name in TIME_COLUMNS:
        frame[name] = pd.to_datetime(frame[name], format="ISO8601").astype("datetime64[ns]")  # naive UTC
    return frame


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64: distinct 64-bit values from distinct inputs, well spread (pseudonyms, jitter, keys)."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class Copy:
    """Which copy of the template rows to make: replica r of week w, shifted by `shift`, pseudonyms of `salt`."""

    replica: int
    week: int
    shift: timedelta
    salt: int = 0


def copied(template: pd.DataFrame, rows: np.ndarray, copy: Copy) -> pd.DataFrame:
    """The template rows `rows` as copy `copy`: new pseudonyms, jittered times, fresh dedupe keys."""
    part = template.iloc[rows]
    codes = part["device_code"].to_numpy().astype(np.uint64)
    randomized = part["randomized"].to_numpy(dtype=bool)
    # A randomized MAC is a new pseudonym every week; a stable one keeps it.
    week_key = np.where(randomized, np.uint64(copy.week + 1), np.uint64(0))
    identity = _mix(codes * np.uint64(1_000_003) + np.uint64(copy.replica * 7919 + copy.salt * 104_729) + week_key)
    devices = pd.Series(identity).map("{:016x}".format).to_numpy(dtype=object)
    jitter = (_mix(identity) % np.uint64(2 * JITTER_MINUTES * 60 + 1)).astype(np.int64) - JITTER_MINUTES * 60
    offset = pd.to_timedelta(jitter, unit="s") + pd.Timedelta(copy.shift)
    frame = part.copy()
    frame["device"] = devices
    for name in TIME_COLUMNS:
        frame[name] = frame[name].to_numpy() + offset.to_numpy()
    keys = np.frombuffer(b"".join(part["dedupe_key"].to_numpy()), dtype=np.uint8).reshape(-1, 16).copy()
    salt = _mix(np.array([copy.replica * 1_000 + copy.week * 10 + copy.salt + 1], dtype=np.uint64)).view(np.uint8)
    keys[:, :8] ^= salt
    frame["dedupe_key"] = [bytes(key) for key in keys]
    return frame


def _sqlite_times(values: pd.Series) -> list[str]:
    """Naive UTC times as SQLAlchemy stores them on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff'), vectorized."""
    text = np.datetime_as_string(values.to_numpy(dtype="datetime64[us]"), unit="us").astype("S26")
    raw = text.view(np.uint8).reshape(-1, 26).copy()
    raw[:, 10] = ord(" ")
    return raw.view("S26").ravel().astype("U26").tolist()


def insert(connection: sqlite3.Connection, frame: pd.DataFrame) -> None:
    """Bare sqlite3 executemany of observation rows, in batches, each batch one transaction."""
    columns = {}
    for name in OBSERVATION_COLUMNS:
        if name in TIME_COLUMNS:
            columns[name] = _sqlite_times(frame[name])
        else:
            columns[name] = frame[name].astype(object).where(frame[name].notna(), None).tolist()
    rows = list(zip(*(columns[name] for name in OBSERVATION_COLUMNS), strict=True))
    placeholders = ", ".join("?" * len(OBSERVATION_COLUMNS))
    statement = f"INSERT INTO observation ({', '.join(OBSERVATION_COLUMNS)}) VALUES ({placeholders})"
    for offset in range(0, len(rows), INSERT_BATCH):
        connection.execute("BEGIN")
        connection.executemany(statement, rows[offset : offset + INSERT_BATCH])
        connection.execute("COMMIT")


def build(database: Path, template: pd.DataFrame, replicas: int, weeks: int) -> int:
    """`weeks` weeks of `replicas` copies of the template week into a migrated database; the last week is the
    template's own dates. Returns the number of observations."""
    settings = Settings.from_env({"PRESENCE_DATABASE_URL": f"sqlite:///{database}", "PRESENCE_PSEUDONYM_KEY": "k"})
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    engine.dispose()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    days = template["received_at"].dt.floor("D").to_numpy()
    total = 0
    for week in range(weeks):
        shift = timedelta(weeks=week - (weeks - 1))
        for day in np.unique(days):
            rows = np.flatnonzero(days == day)
            parts = [copied(template, rows, Copy(replica, week, shift)) for replica in range(replicas)]
            frame = pd.concat(parts, ignore_index=True).sort_values("received_at", kind="stable")
            insert(connection, frame)
            total += len(frame)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return total


def append_live(database: Path, template: pd.DataFrame, replicas: int, hours: float, salt: int) -> int:
    """`hours` of a busy Monday (10:00 local) copied to the Monday after the window, with new pseudonyms."""
    local = template["received_at"].dt.tz_localize(UTC).dt.tz_convert(TIMEZONE)
    start = pd.Timestamp(datetime.combine(TEMPLATE_WEEK, datetime.min.time())).tz_localize(TIMEZONE) + pd.Timedelta(
        hours=10
    )
    rows = np.flatnonzero(((local >= start) & (local < start + pd.Timedelta(hours=hours))).to_numpy())
    parts = [copied(template, rows, Copy(replica, 99, timedelta(weeks=1), salt)) for replica in range(replicas)]
    frame = pd.concat(parts, ignore_index=True).sort_values("received_at", kind="stable")
    connection = sqlite3.connect(database, isolation_level=None)
    insert(connection, frame)
    connection.close()
    return len(frame)


# --- measuring in subprocesses ---------------------------------------------------------------------------------

CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
action, url, first, last = sys.argv[1:5]
import os
os.environ["PRESENCE_DATABASE_URL"] = url
from datetime import date
if action == "refresh":
    from store import db
    from config.settings import Settings
    from store.visits import refresh_visits
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    inner = time.perf_counter()
    result = refresh_visits(engine, settings)
    detail = {"observations": result.observations, "visits_written": result.visits_written,
              "longest_write_s": round(result.longest_write, 3)}
else:
    from analytics.filters import Filters
    from analytics.report import report
    from analytics.settings import AnalyticsSettings
    from app.commands.export import window_analysis
    from config.settings import Settings
    from store.queries import local_day_bounds
    inner = time.perf_counter()
    settings = Settings.from_env()
    start, end = local_day_bounds(date.fromisoformat(first), date.fromisoformat(last), settings.tz)
    result = report(window_analysis(settings, AnalyticsSettings(), start, end, Filters(), naive=action == "naive"))
    detail = {"visitors": result["visitors"], "passersby": result["passersby"], "report": result}
done = time.perf_counter()
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(json.dumps({"inner_s": done - inner, "process_s": done - started,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "vm_hwm_mib": int(status["VmHWM"].split()[0]) / 1024, **detail}))
"""
# The child is forked by a small shell, not by this process: Linux carries a process's peak RSS over into what
# getrusage reports for a child it forks and execs, and this process holds the template week.
LAUNCHER = ["/bin/sh", "-c", '"$@"; exit $?', "launcher"]


@dataclass(frozen=True)
class Run:
    wall: float  # the subprocess, interpreter start-up included
    inner: float  # inside it, after imports
    rss_mib: float
    detail: dict


def measured(action: str, url: str, env: dict[str, str], first: str = "", last: str = "") -> Run:
    started = time.perf_counter()
    completed = subprocess.run(
        [*LAUNCHER, sys.executable, "-c", CHILD, action, url, first, last],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{action} failed:\n{completed.stderr}")
    values = json.loads(completed.stdout.strip().splitlines()[-1])
    values.pop("process_s")
    return Run(wall, values.pop("inner_s"), values.pop("max_rss_mib"), values)


@dataclass(frozen=True)
class Scenario:
    """One database and what was measured on it."""

    replicas: int
    weeks: int
    observations: int
    build_s: float
    visits: int
    catch_up: Run
    cold: Run
    warm: list[Run]
    naive: Run | None
    hour: tuple[int, Run]
    minute: tuple[int, Run]

    @property
    def warm_best(self) -> Run:
        return min(self.warm, key=lambda run: run.wall)


def scenario(root: Path, template: pd.DataFrame, replicas: int, weeks: int, *, naive: bool) -> Scenario:
    directory = root / f"r{replicas}-w{weeks}"
    directory.mkdir()
    database = directory / "presence.db"
    url = f"sqlite:///{database}"
    env = {**os.environ, "PRESENCE_DATA_DIR": str(directory), "PRESENCE_TIMEZONE": TIMEZONE}
    env["PRESENCE_PSEUDONYM_KEY"] = "benchmark-key"
    print(f"building {replicas} shops x {weeks} weeks ...", file=sys.stderr)
    started = time.perf_counter()
    observations = build(database, template, replicas, weeks)
    build_s = time.perf_counter() - started
    print(f"  {observations:,} observations in {build_s:.0f} s; refreshing ...", file=sys.stderr)
    catch_up = measured("refresh", url, env)
    print(f"  refresh {catch_up.wall:.0f} s, {catch_up.rss_mib:.0f} MiB", file=sys.stderr)
    last_day = TEMPLATE_WEEK + timedelta(days=6)
    window = (TEMPLATE_WEEK.isoformat(), last_day.isoformat())
    cold = measured("report", url, env, *window)
    warm = [measured("report", url, env, *window) for _ in range(WARM_RUNS)]
    print(f"  report cold {cold.wall:.2f} s, warm {min(run.wall for run in warm):.2f} s", file=sys.stderr)
    naive_run = None
    if naive:
        naive_run = measured("naive", url, env, *window)
        print(f"  naive {naive_run.wall:.1f} s, {naive_run.rss_mib:.0f} MiB", file=sys.stderr)
        if naive_run.detail["report"] != cold.detail["report"]:
            differing = [k for k in cold.detail["report"] if cold.detail["report"][k] != naive_run.detail["report"][k]]
            print(f"  note: naive and stored-visit reports differ in {differing}", file=sys.stderr)
    with sqlite3.connect(database) as connection:
        visits = connection.execute("SELECT count(*) FROM visit").fetchone()[0]
    hour_rows = append_live(database, template, replicas, 1.0, salt=1)
    hour = measured("refresh", url, env)
    minute_rows = append_live(database, template, replicas, 1 / 60, salt=2)
    minute = measured("refresh", url, env)
    print(
        f"  steady state: {hour_rows:,} rows {hour.inner:.2f} s, {minute_rows:,} rows {minute.inner:.2f} s",
        file=sys.stderr,
    )
    database.unlink()
    return Scenario(
        replicas,
        weeks,
        observations,
        build_s,
        visits,
        catch_up,
        cold,
        warm,
        naive_run,
        (hour_rows, hour),
        (minute_rows, minute),
    )


# --- the section -----------------------------------------------------------------------------------------------


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    model = platform.processor() or platform.machine()
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        model = names[0] if names else model
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def section(busy: Scenario, series: list[Scenario], load: tuple[float, float], total_s: float) -> str:
    naive = busy.naive
    assert naive is not None
    warm = busy.warm_best
    speedup = naive.wall / warm.wall
    speedup_inner = naive.inner / warm.inner
    lines = [
        SECTION,
        "",
        f"One week of a busy shop: {busy.observations:,} observations ({busy.replicas} copies of the default shop's "
        f"simulated week, seed {SEED}; see `benchmarks/report.py` for how they are made), {busy.visits:,} stored "
        f"visits. `presence report --from {TEMPLATE_WEEK} --to {TEMPLATE_WEEK + timedelta(days=6)} --format json`, "
        'SQLite, each run in a fresh process (wall time includes Python\'s start-up; "in process" is from reading '
        "the settings to the report dict).",
        "",
        "| what | wall s | in process s | peak RSS MiB |",
        "| --- | ---: | ---: | ---: |",
        f"| naive: observations of the window + 28 days into pandas, sessionize (`--naive`) | {naive.wall:.1f} | "
        f"{naive.inner:.1f} | {naive.rss_mib:.0f} |",
        f"| report from stored visits, cold (first run after the refresh) | {busy.cold.wall:.2f} | "
        f"{busy.cold.inner:.2f} | {busy.cold.rss_mib:.0f} |",
        f"| report from stored visits, warm (best of {WARM_RUNS}) | {warm.wall:.2f} | {warm.inner:.2f} | "
        f"{warm.rss_mib:.0f} |",
        f"| refresh catching up with all {busy.observations:,} observations (once, after the upgrade) | "
        f"{busy.catch_up.wall:.0f} | {busy.catch_up.inner:.0f} | {busy.catch_up.rss_mib:.0f} |",
        f"| refresh of one busy hour ({busy.hour[0]:,} new observations) | {busy.hour[1].wall:.2f} | "
        f"{busy.hour[1].inner:.2f} | {busy.hour[1].rss_mib:.0f} |",
        f"| refresh of one minute ({busy.minute[0]:,} new observations) | {busy.minute[1].wall:.2f} | "
        f"{busy.minute[1].inner:.2f} | {busy.minute[1].rss_mib:.0f} |",
        "",
        f"Warm report against naive: **{speedup:.0f}×** faster in wall time ({speedup_inner:.0f}× in process); "
        f"targets {TARGET_SPEEDUP:.0f}×, ≤ {TARGET_WARM_S:.0f} s warm, ≤ {TARGET_RSS_MIB:.0f} MiB peak RSS. "
        f"The longest write transaction of the catch-up (SQLite's write lock, which POSTs wait for) took "
        f"{busy.catch_up.detail['longest_write_s']:.1f} s.",
        "",
        f"History, for a fixed one-week window ({SCALING_REPLICAS} shops' traffic, "
        f"{series[0].observations:,} observations a week):",
        "",
        "| weeks stored | observations | visits | report warm s (in process) | report cold s | naive s | "
        "refresh of one hour s | refresh of one minute s | report peak RSS MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in series:
        naive_s = f"{item.naive.wall:.1f}" if item.naive else "-"
        lines.append(
            f"| {item.weeks} | {item.observations:,} | {item.visits:,} | {item.warm_best.wall:.2f} "
            f"({item.warm_best.inner:.2f}) | {item.cold.wall:.2f} | {naive_s} | {item.hour[1].inner:.2f} | "
            f"{item.minute[1].inner:.2f} | {item.warm_best.rss_mib:.0f} |"
        )
    lines += [
        "",
        f"Machine: {machine()}. Load average {load[0]:.1f} before, {load[1]:.1f} after (a shared machine: other "
        f"work ran meanwhile, so wall times are upper bounds). Measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.report` in {total_s / 60:.0f} min.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) the "## Report" section of docs/benchmarks.md, leaving the others alone."""
    document = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    start = document.find(f"\n{SECTION}\n")
    if start < 0:
        DOC.write_text(document.rstrip("\n") + "\n\n" + text)
        return
    following = document.find("\n## ", start + 1)
    after = document[following + 1 :] if following >= 0 else ""
    DOC.write_text(document[: start + 1] + text + ("\n" + after if after else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run: 2 shops, history 1 and 2 weeks, no doc")
    args = parser.parse_args(argv)
    busy_replicas, scaling_replicas, weeks = BUSY_REPLICAS, SCALING_REPLICAS, SCALING_WEEKS
    if args.quick:
        busy_replicas, scaling_replicas, weeks = 2, 1, (1, 2)
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="presence-report-bench-") as tmp:
        root = Path(tmp)
        print("simulating the template week ...", file=sys.stderr)
        (root / "template").mkdir()
        template = template_week(root / "template")
        template["device_code"] = pd.factorize(template["device"])[0]
        busy = scenario(root, template, busy_replicas, 1, naive=True)
        series = [scenario(root, template, scaling_replicas, count, naive=True) for count in weeks]
    text = section(busy, series, (load_before[0], os.getloadavg()[0]), time.perf_counter() - started)
    print(text)
    if not args.quick:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
