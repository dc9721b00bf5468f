"""Report benchmark: `presence report` of a busy shop's week from stored visits, with every filter, against naive.

Run `.venv/bin/python -m benchmarks.report` (about an hour on a shared two-core machine, of which building the
busy week is about five minutes of copies plus the refresh that turns its observations into visits; `--quick`
for a small run; `--no-history` for the busy week alone; `--reuse-visits` to start from the previous run's
refreshed database when nothing that builds it has changed). It prints the figures and rewrites the "## Report"
section of docs/benchmarks.md.

The data: the simulator's traffic model scaled up. One week of the default shop is simulated (seed 1) and stored
through the receiver's own path into a template database (cached, keyed by the code that makes it); its
observations are then copied `replicas` times into the benchmark database, each copy with its own device
pseudonyms (a randomized MAC gets a new pseudonym every week, a stable one keeps it across weeks, as real phones
do), every device's times shifted by its own random offset of up to ±20 minutes, and fresh dedupe keys. The
copies are made inside SQLite: one `INSERT ... SELECT` per day of the template, every replica of that day at
once in time order (as an installation receives them), from the template rows joined to a table of each copy's
pseudonyms and offsets (worked out once per device in numpy); the observation table's indexes are dropped for
the bulk load and created again after it, so the schema is the receiver's migrated one. Weeks of history are the
same week shifted back.

Measured, each in its own subprocess (peak RSS from resource.getrusage there):
- the refresh that catches the visits up with every stored observation (the first refresh after an upgrade),
  with the product's own chunk size: a product figure, not the benchmark's;
- `presence report` of the last week (JSON) through the command line, cold (the first run after the refresh),
  then for no filter, each filter and two combined, one untimed run each and WARM_RUNS timed runs round-robin
  (medians; each filter against the unfiltered runs of the same rounds), with the interpreter's start-up, and the
  time inside `main()`;
- `presence report --naive` (read the window's observations and 28 days of history into pandas, sessionize),
  unfiltered and with one filter;
- the steady state: one hour and one minute of new observations (a busy Monday hour copied after the window,
  with new pseudonyms) merged by a refresh, with the whole history stored.

The cache (~/.cache/presence-analytics/benchmarks, or $PRESENCE_BENCHMARK_CACHE; about 15 GB with the history)
keeps the template week and each scenario's observations under a hash of the code that makes them (the
simulator, the receiver's path, store/*.py, devices/, config/ and this file's build functions): a change to the
visits' code then costs a copy of the observations and the refresh, not the copies. It also keeps each database
as it stood after the catch-up refresh, under that hash and one of the code that builds visits
(store/visits/*.py and analytics/*.py); `--reuse-visits` starts from it when both match, and the section then
gives the cached run's refresh figures and says so.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.docs import machine, write_section
from config.settings import Settings
from store import db

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Report"
TIMEZONE = "Europe/Amsterdam"
SITE = "default"  # the installation's default site: the default shop's APs name none
GROUP = "High street"
TEMPLATE_WEEK = date(2026, 11, 2)  # a Monday; the report window is the last week built
SEED = 1
BUSY_REPLICAS = 66  # 66 copies of the default shop's week: about ten million observations
SCALING_REPLICAS = 4  # the history series (1, 4 and 16 weeks) at four shops' traffic
SCALING_WEEKS: tuple[int, ...] = (1, 4, 16)
JITTER_MINUTES = 20
WARM_RUNS = 5
# Before this version the copies went through pandas and sqlite3 executemany into the indexed table: one of the
# template's seven days (1,288,980 of the 9.9 M rows) took 74 s (10.6 s making the copies, 63.4 s inserting) on
# 2026-12-02 on this machine, so about 9.5 min for the week before the refresh; issue 13 timed the whole at about
# an hour.
BUILD_BEFORE_COPIES_S = 74.0 * 9_903_498 / 1_288_980
# The targets.
TARGET_SPEEDUP = 150.0
TARGET_WARM_S = 1.0
TARGET_RSS_MIB = 300.0
TARGET_FILTER_RATIO = 1.2
TARGET_BUILD_S = 600.0
# The report's filters: no filter, each single one, two combined; every one held to the ratio (open hours is
# selected in SQL by each site clock's open spans since issue 13, no longer by reading every visit of the window).
FILTERS: dict[str, tuple[str, ...]] = {
    "none": (),
    "--ssid guest": ("--ssid", "guest"),
    "--manufacturer apple": ("--manufacturer", "apple"),
    "--ap Entrance": ("--ap", "Entrance"),
    "--zone Checkout": ("--zone", "Checkout"),
    "--exclude-randomized": ("--exclude-randomized",),
    f"--site {SITE}": ("--site", SITE),
    f"--group '{GROUP}'": ("--group", GROUP),
    "--open-hours": ("--open-hours",),
    "--ssid guest --manufacturer samsung": ("--ssid", "guest", "--manufacturer", "samsung"),
    "--ap Checkout --exclude-randomized": ("--ap", "Checkout", "--exclude-randomized"),
}
UNBOUND: tuple[str, ...] = ()  # filters measured but not held to the ratio
NAIVE = ("none", "--ssid guest")
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
# The code the stored observations depend on, and the code the visits built from them depend on (cache keys).
OBSERVATION_SOURCES = ("simulator", "receiver", "devices", "config", "store/migrations", "store")
VISIT_SOURCES = ("store/visits", "analytics")


def config_toml() -> str:
    """The benchmark's PRESENCE_CONFIG: the default shop's APs (names for --ap) and its site, in a group, with the
    simulator's opening hours (for --group and --open-hours)."""
    from simulator.layout import default_shop_toml

    site = [
        "[[sites]]",
        f'name = "{SITE}"',
        f'timezone = "{TIMEZONE}"',
        f'group = "{GROUP}"',
        'hours = { default = "09:00-20:00", sun = "11:00-17:00" }',
        "",
    ]
    return default_shop_toml() + "\n" + "\n".join(site)


def settings_for(directory: Path) -> Settings:
    return Settings.from_env(
        {
            "PRESENCE_DATA_DIR": str(directory),
            "PRESENCE_PSEUDONYM_KEY": "benchmark-key",
            "PRESENCE_TIMEZONE": TIMEZONE,
            "PRESENCE_SQLITE_SYNCHRONOUS": "OFF",
        }
    )


# --- the data --------------------------------------------------------------------------------------------------


def simulate_template(directory: Path) -> Path:
    """One simulated week of the default shop, stored through the receiver's path; the database's path."""
    from simulator.backfill import backfill_database
    from simulator.layout import default_shop

    settings = settings_for(directory)
    start = datetime.combine(TEMPLATE_WEEK, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE))
    backfill_database(settings, start, start + timedelta(days=7), SEED, shop=default_shop(TIMEZONE))
    return directory / "presence.db"


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

    def key_prefix(self) -> bytes:
        """The first 8 bytes of this copy's dedupe keys (the last 8 are the template key's)."""
        return _mix(np.array([self.replica * 1_000 + self.week * 10 + self.salt + 1], dtype=np.uint64)).tobytes()


def _us(column: str) -> str:
    """SQL: a stored time ('YYYY-MM-DD HH:MM:SS.ffffff', naive UTC) as integer microseconds since the epoch."""
    return f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CAST(substr({column}, 21, 6) AS INTEGER))"


def _text(expression: str) -> str:
    """SQL: integer microseconds since the epoch as SQLAlchemy stores times on SQLite, to the microsecond."""
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', ({expression}) / 1000000, 'unixepoch') || '.' || "
        f"printf('%06d', ({expression}) % 1000000))"
    )


def load_template(connection: sqlite3.Connection, template: Path) -> None:
    """The template's rows into temp.tpl (times as microseconds, a device code, the day), its devices into
    temp.tpl_device (code, randomized).

    Codes and row order follow the rows' content, not their ids: the template's parts are stored by processes
    side by side, so its ids depend on how they took turns, and copies keyed by them came out different builds
    of the same template (another device's jitter, a zone's visitors 0.2 % apart)."""
    connection.execute("ATTACH DATABASE ? AS src", (str(template),))
    connection.execute(
        "CREATE TEMP TABLE tpl_device AS SELECT device, max(randomized) AS randomized, min(first_seen) AS first "
        "FROM src.observation GROUP BY device"
    )
    connection.execute(
        "CREATE TEMP TABLE tpl_code AS "
        "SELECT device, randomized, row_number() OVER (ORDER BY first, device) - 1 AS code FROM tpl_device"
    )
    connection.execute("CREATE UNIQUE INDEX temp.tpl_code_device ON tpl_code (device)")
    kept = [name for name in OBSERVATION_COLUMNS if name not in (*TIME_COLUMNS, "device", "dedupe_key")]
    connection.execute(
        "CREATE TEMP TABLE tpl AS SELECT "
        "row_number() OVER (ORDER BY o.received_at, o.device, o.ap_mac, o.first_seen, o.dedupe_key) AS tid, "
        f"c.code AS code, {', '.join('o.' + n for n in kept)}, "
        f"{_us('o.first_seen')} AS fs, {_us('o.last_seen')} AS ls, {_us('o.received_at')} AS ra, "
        f"substr(o.dedupe_key, 9, 8) AS key_tail, "
        f"{_us('o.received_at')} / 86400000000 AS day "
        "FROM src.observation o JOIN tpl_code c ON c.device = o.device ORDER BY tid"
    )
    connection.execute("CREATE INDEX temp.tpl_day ON tpl (day, ra)")
    connection.commit()
    connection.execute("DETACH DATABASE src")


def make_copies(connection: sqlite3.Connection, copies: Sequence[Copy]) -> None:
    """temp.copy (copy, key prefix) and temp.copy_device (copy, code, pseudonym, time offset in microseconds):
    each copy's devices, worked out in numpy once per device rather than once per row."""
    connection.execute("DROP TABLE IF EXISTS temp.copy")
    connection.execute("DROP TABLE IF EXISTS temp.copy_device")
    connection.execute("CREATE TEMP TABLE copy (copy INTEGER PRIMARY KEY, prefix BLOB)")
    connection.execute(
        "CREATE TEMP TABLE copy_device (copy INTEGER, code INTEGER, device TEXT, offset INTEGER, "
        "PRIMARY KEY (copy, code)) WITHOUT ROWID"
    )
    codes_and_flags = connection.execute("SELECT code, randomized FROM tpl_code ORDER BY code").fetchall()
    codes = np.array([row[0] for row in codes_and_flags], dtype=np.uint64)
    randomized = np.array([bool(row[1]) for row in codes_and_flags])
    for index, copy in enumerate(copies):
        connection.execute("INSERT INTO copy VALUES (?, ?)", (index, copy.key_prefix()))
        # A randomized MAC is a new pseudonym every week; a stable one keeps it.
        week_key = np.where(randomized, np.uint64(copy.week + 1), np.uint64(0))
        identity = _mix(codes * np.uint64(1_000_003) + np.uint64(copy.replica * 7919 + copy.salt * 104_729) + week_key)
        jitter = (_mix(identity) % np.uint64(2 * JITTER_MINUTES * 60 + 1)).astype(np.int64) - JITTER_MINUTES * 60
        offsets = jitter * 1_000_000 + int(copy.shift.total_seconds()) * 1_000_000
        devices = [f"{value:016x}" for value in identity.tolist()]
        connection.executemany(
            "INSERT INTO copy_device VALUES (?, ?, ?, ?)",
            zip([index] * len(devices), codes.tolist(), devices, offsets.tolist(), strict=True),
        )
    connection.commit()


def insert_copies(connection: sqlite3.Connection, condition: str, parameters: Sequence[object]) -> int:
    """Every copy of the template rows matching `condition` (on tpl t) into observation, in received time order,
    in one INSERT ... SELECT and one transaction. Returns the number of rows."""
    columns = []
    for name in OBSERVATION_COLUMNS:
        if name == "device":
            columns.append("d.device")
        elif name == "dedupe_key":
            columns.append("c.prefix || t.key_tail")
        elif name in TIME_COLUMNS:
            short = {"first_seen": "fs", "last_seen": "ls", "received_at": "ra"}[name]
            columns.append(_text(f"t.{short} + d.offset"))
        else:
            columns.append(f"t.{name}")
    statement = (
        f"INSERT INTO observation ({', '.join(OBSERVATION_COLUMNS)}) SELECT {', '.join(columns)} "
        "FROM copy c CROSS JOIN tpl t CROSS JOIN copy_device d "
        f"WHERE d.copy = c.copy AND d.code = t.code AND {condition} ORDER BY t.ra + d.offset, c.copy, t.tid"
    )
    before = connection.total_changes
    connection.execute("BEGIN")
    connection.execute(statement, parameters)
    connection.execute("COMMIT")
    return connection.total_changes - before


def _open(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA temp_store=MEMORY")
    connection.execute("PRAGMA cache_size=-262144")  # 256 MiB: the sorter and the index builds
    return connection


def build(database: Path, template: Path, replicas: int, weeks: int) -> int:
    """`weeks` weeks of `replicas` copies of the template week into a migrated database; the last week is the
    template's own dates. Returns the number of observations."""
    settings = Settings.from_env({"PRESENCE_DATABASE_URL": f"sqlite:///{database}", "PRESENCE_PSEUDONYM_KEY": "k"})
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    engine.dispose()
    connection = _open(database)
    load_template(connection, template)
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'observation' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:  # the bulk load without them; created again (as migrated) after it
        connection.execute(f'DROP INDEX "{name}"')
    copies = [
        Copy(replica, week, timedelta(weeks=week - (weeks - 1))) for week in range(weeks) for replica in range(replicas)
    ]
    make_copies(connection, copies)
    days = [row[0] for row in connection.execute("SELECT DISTINCT day FROM tpl ORDER BY day")]
    total = 0
    for week in range(weeks):
        first, last = week * replicas, (week + 1) * replicas - 1
        for day in days:
            total += insert_copies(connection, "c.copy BETWEEN ? AND ? AND t.day = ?", (first, last, day))
    for _, sql in indexes:
        connection.execute(sql)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return total


def append_live(database: Path, template: Path, replicas: int, hours: float, salt: int) -> int:
    """`hours` of a busy Monday (10:00 local) copied to the Monday after the window, with new pseudonyms."""
    start = datetime.combine(TEMPLATE_WEEK, datetime.min.time(), tzinfo=ZoneInfo(TIMEZONE)) + timedelta(hours=10)
    begin = round(start.timestamp() * 1_000_000)
    end = begin + round(hours * 3600 * 1_000_000)
    connection = _open(database)
    load_template(connection, template)
    make_copies(connection, [Copy(replica, 99, timedelta(weeks=1), salt) for replica in range(replicas)])
    rows = insert_copies(connection, "t.ra >= ? AND t.ra < ?", (begin, end))
    connection.close()
    return rows


BUILD_CODE = (
    config_toml,
    simulate_template,
    _mix,
    Copy,
    _us,
    _text,
    load_template,
    make_copies,
    insert_copies,
    _open,
    build,
)


def _digest(sources: Sequence[str], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for source in sources:
        for path in sorted((ROOT / source).glob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def template_key() -> str:
    """A hash of everything the simulated template week depends on."""
    constants = repr((TIMEZONE, TEMPLATE_WEEK, SEED))
    return _digest(OBSERVATION_SOURCES, constants + inspect.getsource(simulate_template))


def observations_key() -> str:
    """A hash of everything the stored observations depend on (the template's and the copies' code, constants)."""
    constants = repr((SITE, GROUP, JITTER_MINUTES, OBSERVATION_COLUMNS))
    code = "".join(inspect.getsource(item) for item in BUILD_CODE)
    return hashlib.sha256((template_key() + constants + code).encode()).hexdigest()[:16]


def visits_key() -> str:
    """A hash of the observations' key and of the code that builds visits from them."""
    return _digest(VISIT_SOURCES, observations_key())


def cache_dir() -> Path:
    configured = os.environ.get("PRESENCE_BENCHMARK_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache" / "presence-analytics" / "benchmarks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_template() -> tuple[Path, float | None]:
    """The template week's database, simulated once per template key; and how long simulating took (None: from
    the cache)."""
    key = template_key()
    path = cache_dir() / f"report-template-{key}.db"
    if path.exists():
        return path, None
    for stale in cache_dir().glob("report-template-*.db"):
        stale.unlink()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="presence-report-template-") as tmp:
        database = simulate_template(Path(tmp))
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(database, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").rename(path)
    return path, time.perf_counter() - started


# --- measuring in subprocesses ---------------------------------------------------------------------------------

REFRESH_CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
from store import db
from config.settings import Settings
from store.visits import refresh_visits
settings = Settings.from_env()
engine = db.make_engine(settings.database_url)
db.migrate(engine)
inner = time.perf_counter()
result = refresh_visits(engine, settings)
done = time.perf_counter()
print(json.dumps({"inner_s": done - inner, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "observations": result.observations, "visits_written": result.visits_written,
                  "longest_write_s": round(result.longest_write, 3)}))
"""
# The command line in-process, its output captured; the time inside main() after the imports (the command's own
# module, which main() imports, is imported first).
REPORT_CHILD = r"""
import contextlib, io, json, resource, sys, time
from app.cli import command_module, main
command_module(sys.argv[1])
started = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
inner = time.perf_counter() - started
assert code == 0, code
print(json.dumps({"inner_s": inner, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "report": json.loads(out.getvalue())}))
"""
# The child is forked by a small shell, not by this process: Linux carries a process's peak RSS over into what
# getrusage reports for a child it forks and execs.
LAUNCHER = ["/bin/sh", "-c", '"$@"; exit $?', "launcher"]


@dataclass(frozen=True)
class Run:
    wall: float  # the subprocess, interpreter start-up included
    inner: float  # inside it, after imports
    rss_mib: float
    detail: dict


def _child(code: str, arguments: Sequence[str], env: dict[str, str]) -> Run:
    started = time.perf_counter()
    completed = subprocess.run(
        [*LAUNCHER, sys.executable, "-c", code, *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments) or 'refresh'} failed:\n{completed.stderr}")
    values = json.loads(completed.stdout.strip().splitlines()[-1])
    return Run(wall, values.pop("inner_s"), values.pop("max_rss_mib"), values)


def refreshed(env: dict[str, str]) -> Run:
    return _child(REFRESH_CHILD, [], env)


def reported(env: dict[str, str], options: Sequence[str] = (), *, naive: bool = False) -> Run:
    last_day = TEMPLATE_WEEK + timedelta(days=6)
    argv = ["report", "--from", TEMPLATE_WEEK.isoformat(), "--to", last_day.isoformat(), "--format", "json"]
    return _child(REPORT_CHILD, [*argv, *options, *(["--naive"] if naive else [])], env)


@dataclass
class Scenario:
    """One database and what was measured on it."""

    replicas: int
    weeks: int
    observations: int
    build_s: float  # the copies (None-like 0.0 when the refreshed database came from the cache)
    visits: int
    catch_up: Run
    cold: Run
    warm: dict[str, list[Run]]
    naive: dict[str, Run]
    hour: tuple[int, Run]
    minute: tuple[int, Run]
    reused: str | None = None  # when the refreshed database came from the cache: when it was built
    differences: dict[str, list[str]] = field(default_factory=dict)  # naive against stored, per filter
    copied_s: float | None = None  # the observations came from the cache: seconds to copy them

    def wall(self, name: str = "none") -> float:
        return statistics.median(run.wall for run in self.warm[name])

    def inner(self, name: str = "none") -> float:
        return statistics.median(run.inner for run in self.warm[name])

    def rss(self, name: str = "none") -> float:
        return max(run.rss_mib for run in self.warm[name])

    def ratio(self, name: str) -> float:
        """The filter's median wall against the unfiltered median of the same rounds."""
        return self.wall(name) / self.wall("none")

    def inner_ratio(self, name: str) -> float:
        """The same, inside the process (without Python's start-up and imports)."""
        return self.inner(name) / self.inner("none")


def _environment(directory: Path) -> dict[str, str]:
    config = directory / "presence.toml"
    config.write_text(config_toml())
    return {
        **os.environ,
        "PRESENCE_DATA_DIR": str(directory),
        "PRESENCE_DATABASE_URL": f"sqlite:///{directory / 'presence.db'}",
        "PRESENCE_TIMEZONE": TIMEZONE,
        "PRESENCE_CONFIG": str(config),
        "PRESENCE_PSEUDONYM_KEY": "benchmark-key",
    }


def _log(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


def _keep(database: Path, cached: Path, record: dict) -> None:
    """A copy of `database` at `cached` (replacing the scenario's older ones), with `record` beside it."""
    prefix = cached.name.rsplit("-", 1)[0]
    for stale in cache_dir().glob(f"{prefix}-*"):
        stale.unlink()
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(database, cached.with_suffix(".tmp"))
    cached.with_suffix(".tmp").rename(cached)
    cached.with_suffix(".json").write_text(json.dumps(record))


@dataclass(frozen=True)
class Prepared:
    observations: int
    build_s: float  # building the observations from the template (this run's, or the cached build's)
    catch_up: Run
    reused: str | None  # the refreshed database came from the cache: when it was measured
    copied_s: float | None  # the observations came from the cache: seconds to copy them


def prepare(directory: Path, template: Path, replicas: int, weeks: int, *, reuse: bool) -> Prepared:
    """The scenario's database, refreshed. The observations are cached by the observations key, so a change to
    the visits' code costs a copy and the refresh; with `reuse` the refreshed database too, by the visits key."""
    database = directory / "presence.db"
    env = _environment(directory)
    name = f"report-r{replicas}-w{weeks}"
    cached = cache_dir() / f"{name}-visits-{visits_key()}.db"
    if reuse and cached.exists() and cached.with_suffix(".json").exists():
        _log(f"{replicas} shops x {weeks} weeks: the refreshed database from the cache ({cached.name}) ...")
        shutil.copyfile(cached, database)
        values = json.loads(cached.with_suffix(".json").read_text())
        return Prepared(values["observations"], values["build_s"], Run(**values["catch_up"]), values["measured"], None)
    observations_cached = cache_dir() / f"{name}-observations-{observations_key()}.db"
    copied_s = None
    started = time.perf_counter()
    if observations_cached.exists() and observations_cached.with_suffix(".json").exists():
        _log(f"{replicas} shops x {weeks} weeks: the observations from the cache ({observations_cached.name}) ...")
        shutil.copyfile(observations_cached, database)
        copied_s = time.perf_counter() - started
        values = json.loads(observations_cached.with_suffix(".json").read_text())
        observations, build_s = values["observations"], values["build_s"]
    else:
        _log(f"building {replicas} shops x {weeks} weeks ...")
        observations = build(database, template, replicas, weeks)
        build_s = time.perf_counter() - started
        _keep(database, observations_cached, {"observations": observations, "build_s": build_s})
    _log(f"  {observations:,} observations in {time.perf_counter() - started:.0f} s; refreshing ...")
    catch_up = refreshed(env)
    _log(f"  refresh {catch_up.wall:.0f} s, {catch_up.rss_mib:.0f} MiB")
    measured_at = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    record = {"observations": observations, "build_s": build_s, "catch_up": asdict(catch_up), "measured": measured_at}
    _keep(database, cached, record)
    return Prepared(observations, build_s, catch_up, None, copied_s)


def _zone_gap(stored: dict, naive: dict) -> str:
    """How far apart the two reports' per-zone visitor counts are, when they differ."""
    if stored.get("zones") == naive.get("zones"):
        return ""
    ours = {entry["zone"]: entry["visitors"] for entry in stored.get("zones") or []}
    theirs = {entry["zone"]: entry["visitors"] for entry in naive.get("zones") or []}
    gaps = [abs(ours.get(zone, 0) - theirs.get(zone, 0)) / max(theirs.get(zone, 0), 1) for zone in ours | theirs]
    return f" (each zone's visitors within {max(gaps) * 100:.1f} %)" if gaps else ""


def _differing(stored: dict, naive: dict) -> list[str]:
    return [key for key in stored if key != "sites" and stored.get(key) != naive.get(key)]


def scenario(
    root: Path,
    template: Path,
    replicas: int,
    weeks: int,
    *,
    filters: dict[str, tuple[str, ...]],
    naive: Sequence[str],
    reuse: bool,
    runs: int = WARM_RUNS,
) -> Scenario:
    directory = root / f"r{replicas}-w{weeks}"
    directory.mkdir()
    database = directory / "presence.db"
    env = _environment(directory)
    prepared = prepare(directory, template, replicas, weeks, reuse=reuse)
    cold = reported(env)
    _log(f"  report cold {cold.wall:.2f} s")
    for options in filters.values():  # one untimed run each: the page cache
        reported(env, options)
    warm: dict[str, list[Run]] = {name: [] for name in filters}
    for _ in range(runs):
        for name, options in filters.items():
            warm[name].append(reported(env, options))
    for name in filters:
        timed = warm[name]
        _log(
            f"  {name}: {statistics.median(r.wall for r in timed):.2f} s "
            f"({statistics.median(r.inner for r in timed):.2f} in process), {max(r.rss_mib for r in timed):.0f} MiB, "
            f"{timed[0].detail['report']['visitors']:,} visitors"
        )
    slow: dict[str, Run] = {}
    differences: dict[str, list[str]] = {}
    for name in naive:
        slow[name] = reported(env, filters[name], naive=True)
        differences[name] = _differing(warm[name][0].detail["report"], slow[name].detail["report"])
        _log(f"  naive {name}: {slow[name].wall:.1f} s, {slow[name].rss_mib:.0f} MiB; differs in {differences[name]}")
    with closing(sqlite3.connect(database)) as connection:
        visits = connection.execute("SELECT count(*) FROM visit").fetchone()[0]
    hour_rows = append_live(database, template, replicas, 1.0, salt=1)
    hour = refreshed(env)
    minute_rows = append_live(database, template, replicas, 1 / 60, salt=2)
    minute = refreshed(env)
    _log(f"  steady state: {hour_rows:,} rows {hour.inner:.2f} s, {minute_rows:,} rows {minute.inner:.2f} s")
    shutil.rmtree(directory)
    return Scenario(
        replicas,
        weeks,
        prepared.observations,
        prepared.build_s,
        visits,
        prepared.catch_up,
        cold,
        warm,
        slow,
        (hour_rows, hour),
        (minute_rows, minute),
        prepared.reused,
        differences,
        prepared.copied_s,
    )


# --- the section -----------------------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def section(
    busy: Scenario,
    series: list[Scenario],
    load: tuple[float, float],
    total_s: float,
    template_s: float | None,
    history_note: str = "`--no-history`",
    observations_copy_s: float | None = None,
) -> str:
    first, last = TEMPLATE_WEEK, TEMPLATE_WEEK + timedelta(days=6)
    base = busy.wall()
    refresh_note = (
        f" (the refreshed database came from the cache: these two are the run of {busy.reused})" if busy.reused else ""
    )
    simulated = (
        f"simulating the template week took {template_s:.0f} s (cached after that)"
        if template_s is not None
        else "the template week came from the cache; simulating it takes about half a minute"
    )
    built_s = busy.build_s + busy.catch_up.wall + (template_s or 0.0)
    copy_s = busy.copied_s if busy.copied_s is not None else observations_copy_s
    copy_text = f"{copy_s:.0f} s" if copy_s is not None else "not measured in this run"
    changed_s = (copy_s or 0.0) + busy.catch_up.wall
    copies = f"{busy.build_s:.0f} s of copies inside SQLite" + (
        f", in the run that filled the cache; this run copied them in {busy.copied_s:.0f} s"
        if busy.copied_s is not None
        else ""
    )
    lines = [
        SECTION,
        "",
        f"One week of a busy shop: {busy.observations:,} observations ({busy.replicas} copies of the default shop's "
        f"simulated week, seed {SEED}; see `benchmarks/report.py` for how they are made), {busy.visits:,} stored "
        f"visits. `presence report --from {first} --to {last} --format json [filter]`, SQLite, each run in a fresh "
        'process (wall time includes Python\'s start-up; "in process" is the time inside `main()`, after the '
        f"imports, the command's own module included); warm figures are medians of {len(busy.warm['none'])} runs "
        "round-robin over the filters after one untimed run each, so the machine's noise falls on every row alike.",
        "",
        "| what | wall s | in process s | peak RSS MiB |",
        "| --- | ---: | ---: | ---: |",
        f"| building the week: {busy.replicas} copies of the template inside SQLite (one `INSERT ... SELECT` per "
        f"day) | {busy.build_s:.0f} | - | - |",
        f"| refresh catching up with all {busy.observations:,} observations (once, after the upgrade){refresh_note} | "
        f"{busy.catch_up.wall:.0f} | {busy.catch_up.inner:.0f} | {busy.catch_up.rss_mib:.0f} |",
    ]
    for name in NAIVE:
        run = busy.naive[name]
        label = "" if name == "none" else f" `{name}`"
        lines.append(
            f"| naive{label}: observations of the window + 28 days into pandas, sessionize (`--naive`) | "
            f"{run.wall:.1f} | {run.inner:.1f} | {run.rss_mib:.0f} |"
        )
    lines += [
        f"| report from stored visits, cold (first run after the refresh) | {busy.cold.wall:.2f} | "
        f"{busy.cold.inner:.2f} | {busy.cold.rss_mib:.0f} |",
        f"| report from stored visits, warm (median of {len(busy.warm['none'])}) | {base:.2f} | {busy.inner():.2f} | "
        f"{busy.rss():.0f} |",
        f"| refresh of one busy hour ({busy.hour[0]:,} new observations) | {busy.hour[1].wall:.2f} | "
        f"{busy.hour[1].inner:.2f} | {busy.hour[1].rss_mib:.0f} |",
        f"| refresh of one minute ({busy.minute[0]:,} new observations) | {busy.minute[1].wall:.2f} | "
        f"{busy.minute[1].inner:.2f} | {busy.minute[1].rss_mib:.0f} |",
        "",
        f"Building the busy week from scratch took {built_s / 60:.1f} min ({copies}, then "
        f"{busy.catch_up.wall:.0f} s of refresh; {simulated}); before, the copies alone took about "
        f"{BUILD_BEFORE_COPIES_S / 60:.1f} min through pandas and executemany (one day of the seven measured), and "
        "issue 13 timed the whole at about an hour. The refresh is the product's own first catch-up, run with its "
        "own chunk size, a product figure the benchmark does not shorten. The observations are cached by a hash of "
        "the code that makes them, so after a change to the visits' code (store/visits, analytics) a run copies "
        f"them ({copy_text}) and refreshes: {changed_s / 60:.1f} min; `--reuse-visits` skips the refresh too when "
        "that code is unchanged. The longest write transaction of the catch-up (SQLite's write lock, which POSTs "
        f"wait for) took {busy.catch_up.detail['longest_write_s']:.1f} s.",
        "",
        "Every filter, warm, against the unfiltered report of the same rounds:",
        "",
        "| filter | visitors | wall s | in process s | peak RSS MiB | × unfiltered (wall) | × unfiltered (in process) "
        "| naive wall s | naive ÷ stored |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in busy.warm:
        slow = busy.naive.get(name)
        ratio = "1.00" if name == "none" else f"{busy.ratio(name):.2f}" + (" (unbound)" if name in UNBOUND else "")
        inner_ratio = "1.00" if name == "none" else f"{busy.inner_ratio(name):.2f}"
        naive_cells = f"{slow.wall:.1f} | {slow.wall / busy.wall(name):.0f}×" if slow else "- | -"
        visitors = busy.warm[name][0].detail["report"]["visitors"]
        lines.append(
            f"| {'no filter' if name == 'none' else '`' + name + '`'} | {visitors:,} | {busy.wall(name):.2f} | "
            f"{busy.inner(name):.2f} | {busy.rss(name):.0f} | {ratio} | {inner_ratio} | {naive_cells} |"
        )
    bound = [name for name in busy.warm if name != "none" and name not in UNBOUND]
    worst = max(bound, key=busy.ratio)
    walls = [busy.wall(name) for name in busy.warm]
    rss = [busy.rss(name) for name in busy.warm]
    speedups = {name: busy.naive[name].wall / busy.wall(name) for name in busy.naive}
    equal = [name for name, differing in busy.differences.items() if not differing]
    lines += [
        "",
        "Targets (issue 13):",
        "",
        f"- warm wall ≤ {TARGET_WARM_S:.0f} s: {_verdict(max(walls) <= TARGET_WARM_S)}: {min(walls):.2f}–"
        f"{max(walls):.2f} s over the rows ({min(busy.inner(name) for name in busy.warm):.2f}–"
        f"{max(busy.inner(name) for name in busy.warm):.2f} s of it inside `main()`, the rest Python's start-up and "
        "imports);",
        f"- peak RSS ≤ {TARGET_RSS_MIB:.0f} MiB: {_verdict(max(rss) <= TARGET_RSS_MIB)}: {min(rss):.0f}–"
        f"{max(rss):.0f} MiB;",
        f"- a filter ≤ {TARGET_FILTER_RATIO}× the unfiltered report: "
        f"{_verdict(busy.ratio(worst) <= TARGET_FILTER_RATIO)}"
        f": worst `{worst}` × {busy.ratio(worst):.2f};",
        f"- stored ≥ {TARGET_SPEEDUP:.0f}× faster than naive: {_verdict(min(speedups.values()) >= TARGET_SPEEDUP)}: "
        + ", ".join(
            f"{speedup:.0f}× {'unfiltered' if name == 'none' else '`' + name + '`'} "
            f"({busy.naive[name].inner / busy.inner(name):.0f}× in process)"
            for name, speedup in speedups.items()
        )
        + "; the naive and stored reports are "
        + (
            "equal for both"
            if len(equal) == len(busy.differences)
            else "equal for "
            + (", ".join(equal) or "neither")
            + "; they differ in "
            + "; ".join(
                f"{'unfiltered' if name == 'none' else '`' + name + '`'}: {', '.join(keys)}"
                + _zone_gap(busy.warm[name][0].detail["report"], busy.naive[name].detail["report"])
                for name, keys in busy.differences.items()
                if keys
            )
            + ", every other figure equal"
        )
        + ";",
        f"- building the week ≤ {TARGET_BUILD_S / 60:.0f} min: {_verdict(built_s <= TARGET_BUILD_S)} from "
        f"scratch ({built_s / 60:.1f} min, of which {busy.catch_up.wall / 60:.1f} min the product's refresh); "
        f"{_verdict(changed_s <= TARGET_BUILD_S)} for a re-run after the visits changed ({changed_s / 60:.1f} min).",
        "",
    ]
    if series:
        lines += [
            f"History, for a fixed one-week window ({SCALING_REPLICAS} shops' traffic, "
            f"{series[0].observations:,} observations a week):",
            "",
            "| weeks stored | observations | visits | report warm s (in process) | report cold s | naive s | "
            "refresh of one hour s | refresh of one minute s | report peak RSS MiB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for item in series:
            naive_s = f"{item.naive['none'].wall:.1f}" if "none" in item.naive else "-"
            lines.append(
                f"| {item.weeks} | {item.observations:,} | {item.visits:,} | {item.wall():.2f} "
                f"({item.inner():.2f}) | {item.cold.wall:.2f} | {naive_s} | {item.hour[1].inner:.2f} | "
                f"{item.minute[1].inner:.2f} | {item.rss():.0f} |"
            )
        lines.append("")
    else:
        lines += [
            "The history series (a fixed window with 1, 4 and 16 weeks stored) was not measured in this run: "
            f"{history_note}.",
            "",
        ]
    lines += [
        f"Machine: {machine()}. Load average {load[0]:.1f} before, {load[1]:.1f} after (a shared machine: other "
        f"work ran meanwhile, so wall times are upper bounds). Measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.report` in {total_s / 60:.0f} min.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run: 2 shops, history 1 and 2 weeks, no doc")
    parser.add_argument("--no-history", action="store_true", help="the busy week only, not the history series")
    parser.add_argument(
        "--reuse-visits",
        action="store_true",
        help="start from the cached refreshed database when the code that builds it is unchanged",
    )
    parser.add_argument("--no-write", action="store_true", help="print the section without rewriting the doc")
    args = parser.parse_args(argv)
    busy_replicas, scaling_replicas, weeks = BUSY_REPLICAS, SCALING_REPLICAS, SCALING_WEEKS
    runs = WARM_RUNS
    if args.quick:
        busy_replicas, scaling_replicas, weeks, runs = 2, 1, (1, 2), 1
    write = not (args.quick or args.no_write)
    load_before = os.getloadavg()
    started = time.perf_counter()
    _log("the template week ...")
    template, template_s = cached_template()
    _log(f"  {template} ({'cached' if template_s is None else f'simulated in {template_s:.0f} s'})")
    with tempfile.TemporaryDirectory(prefix="presence-report-bench-") as tmp:
        root = Path(tmp)
        busy = scenario(
            root, template, busy_replicas, 1, filters=FILTERS, naive=NAIVE, reuse=args.reuse_visits, runs=runs
        )
        with (cache_dir() / f"report-last-r{busy_replicas}.pickle").open("wb") as saved:
            pickle.dump(busy, saved)  # the figures, should anything after this fail
        pending = "it was still running when the busy week's figures were written"
        text = section(
            busy, [], (load_before[0], os.getloadavg()[0]), time.perf_counter() - started, template_s, pending
        )
        if write and not args.no_history:  # the busy week's figures now, the history's when they are in
            write_section(SECTION, text)
        series = []
        if not args.no_history:
            for count in weeks:
                series.append(
                    scenario(
                        root,
                        template,
                        scaling_replicas,
                        count,
                        filters={"none": ()},
                        naive=("none",),
                        reuse=args.reuse_visits,
                        runs=runs,
                    )
                )
                _log(f"  history {count} weeks done")
                with (cache_dir() / f"report-last-history-r{scaling_replicas}.pickle").open("wb") as saved:
                    pickle.dump(series, saved)
    text = section(busy, series, (load_before[0], os.getloadavg()[0]), time.perf_counter() - started, template_s)
    print(text)
    if write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
