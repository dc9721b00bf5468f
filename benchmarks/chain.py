"""Chain benchmark: a chain of simulated shops in one database, against one shop's database, in one run (issue 16).

Run `.venv/bin/python -m benchmarks.chain [--sites 100] [--days 14] [--runs 5]`; it prints the figures and rewrites
the "## Chain" section of docs/benchmarks.md. `--sites`/`--days` scale it down: the issue's 100 sites x 14 days are
about 30 M observations, over an hour to build on a two-core machine.

The data: `--sites` shops of simulator.chain (seed 1, base zone Europe/Amsterdam, every third site in New York, Los
Angeles or Tokyo) with `--days` of history up to END, backfilled with simulator.backfill.backfill_shops through the
receiver's own code path into SQLite, and the visits caught up once; the baseline is a database of site 0's traffic
alone (the same shop, seed and pseudonym key, so the same observations). Both are built once and kept under
`--work-dir` by a key of the scale (a marker file says a build finished). With PostgreSQL (`--postgres`, default
$PRESENCE_TEST_POSTGRES_URL) the benchmark creates its own database there, one schema per installation, and copies
the SQLite databases' observations into it with COPY (a backfill through the receiver's path into PostgreSQL runs
at a fifth of SQLite's rate here), its visits caught up by its own refresh.

Measured on each backend, each figure `--runs` times (the reports `--report-runs` times), chain and baseline in
turn so that the machine's noise falls on both alike, medians:
- `presence report --site "Shop 001"` of the last complete week, on the chain and on the one-site database (a fresh
  process each: wall time and the command's own time; the ratio is the issue's target, and the doc says whether
  the two reports are the same), and `presence report` of every site with its per-site list;
- the refresh after one minute of every site's traffic: the minute after the last one stored, each AP's report
  stored in its own transaction as the receiver stores a POST, then `refresh_visits` in a fresh process (so each
  invocation adds `--runs` minutes to the kept databases);
- the dashboard's page products called directly (as benchmarks.load calls them), uncached, in one process: the
  Sites page (products.sites_view; before it existed, the two per-site analyses it needed), a Live tick of
  every site with its history cached, the Live page with its history, and one site's Visitors page.
Peak RSS is each child process's own (started through a shell: Linux carries a parent's peak over to its child).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from analytics.filters import Filters
from benchmarks.docs import machine, write_section
from benchmarks.report import LAUNCHER
from config.settings import Settings
from simulator.backfill import backfill_shops
from simulator.chain import ChainSite, chain, config_toml
from simulator.database import DatabaseSink
from simulator.run import simulate
from store import db
from store.analytics_settings import analytics_settings_of
from store.models import Visit
from store.observations import OBSERVATIONS, rebuild_ap_reports
from store.queries import local_day_bounds
from store.visits import refresh_visits

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Chain"
COMMAND = "python -m benchmarks.chain"
SEED = 1
TIMEZONE = "Europe/Amsterdam"  # the chain's base zone; every third site is in New York, Los Angeles or Tokyo
END = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
DEFAULT_SITES = 100
DEFAULT_DAYS = 14
PSEUDONYM_KEY = "benchmark-chain"
WORK_DIR = Path(tempfile.gettempdir()) / "presence-bench-chain"
CACHE_VERSION = 1
RUNS = 5
# The reports' ratio is the target, and a report is a few seconds: more runs, as the machine's noise is of that size.
REPORT_RUNS = 11
VISITS = Visit.__table__  # type: ignore[attr-defined]
MINUTE = timedelta(minutes=1)
POSTGRES_VARIABLE = "PRESENCE_TEST_POSTGRES_URL"
POSTGRES_DATABASE = "presence_bench_chain"  # our own database on the server, one schema per installation


@dataclass(frozen=True)
class Scale:
    sites: int
    days: int
    seed: int = SEED

    @property
    def key(self) -> str:
        return f"v{CACHE_VERSION}-{self.sites}x{self.days}d-seed{self.seed}-{END:%Y%m%dT%H%M}"

    @property
    def start(self) -> datetime:
        return END - timedelta(days=self.days)

    def members(self) -> list[ChainSite]:
        return chain(self.sites, self.seed, TIMEZONE)


@dataclass(frozen=True)
class Installation:
    """One database with its config and data directory: the chain's, or site 0's alone."""

    name: str
    directory: Path
    database_url: str
    members: tuple[ChainSite, ...]
    schema: str | None = None  # PostgreSQL: the schema the URL's search_path names

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PRESENCE_DATA_DIR": str(self.directory / "data"),
            "PRESENCE_DATABASE_URL": self.database_url,
            "PRESENCE_CONFIG": str(self.directory / "presence.toml"),
            "PRESENCE_TIMEZONE": TIMEZONE,
            "PRESENCE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        }

    def settings(self) -> Settings:
        return Settings.from_env(self.env)


def build(installation: Installation, scale: Scale, copy_from: Installation | None = None) -> dict:
    """Backfill the installation's shops over the scale's days (or copy `copy_from`'s observations) and refresh
    the visits once; cached: a marker file says it was done, with what it took."""
    marker = installation.directory / "built.json"
    if marker.exists():
        return json.loads(marker.read_text())
    if installation.directory.exists():
        shutil.rmtree(installation.directory)
    if installation.schema is not None:
        with admin_engine(installation.database_url) as engine, engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{installation.schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{installation.schema}"'))
    (installation.directory / "data").mkdir(parents=True)
    (installation.directory / "presence.toml").write_text(
        config_toml(installation.members, "# The chain benchmark's shops (benchmarks/chain.py).")
    )
    settings = installation.settings()
    started = time.perf_counter()
    if copy_from is None:
        results = backfill_shops(
            settings, scale.start, END, [(member.shop, member.seed) for member in installation.members]
        )
        observations = sum(summary.stored for _, summary in results)
    else:
        observations = copy_observations(copy_from, settings)
    backfill_s = time.perf_counter() - started
    engine = db.make_engine(settings.database_url)
    try:
        started = time.perf_counter()
        refreshed = refresh_visits(engine, settings)
        refresh_s = time.perf_counter() - started
    finally:
        engine.dispose()
    built = {
        "observations": observations,
        "copied": copy_from is not None,
        "backfill_s": backfill_s,
        "refresh_s": refresh_s,
        "visits_written": refreshed.visits_written,
    }
    marker.write_text(json.dumps(built))
    return built


def copy_observations(source: Installation, settings: Settings) -> int:
    """Copy the SQLite installation's observations, ids included, into the (PostgreSQL) database of `settings`
    with COPY, then derive the APs' report rows as a backfill does. The rows are those the receiver's path stored
    into SQLite: backfilling PostgreSQL itself runs at a fifth of SQLite's rate here, too slow for a chain."""
    columns = [column.name for column in OBSERVATIONS.columns]
    times = [index for index, name in enumerate(columns) if name in ("first_seen", "last_seen", "received_at")]
    flags = [index for index, name in enumerate(columns) if name in ("randomized", "associated")]
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        path = make_url(source.database_url).database
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        raw = engine.raw_connection()
        copied = 0
        try:
            connection = raw.driver_connection
            assert connection is not None
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY observation ({', '.join(columns)}) FROM STDIN") as copy:
                    rows = reader.execute(f"SELECT {', '.join(columns)} FROM observation ORDER BY id")
                    for row in rows:
                        values = list(row)
                        for index in times:
                            values[index] += "+00"
                        for index in flags:
                            values[index] = bool(values[index])
                        copy.write_row(values)
                        copied += 1
                cursor.execute("SELECT setval(pg_get_serial_sequence('observation', 'id'), max(id)) FROM observation")
            connection.commit()
        finally:
            raw.close()
            reader.close()
        rebuild_ap_reports(engine)
    finally:
        engine.dispose()
    return copied


@contextlib.contextmanager
def admin_engine(url: str) -> Iterator[Engine]:
    engine = create_engine(make_url(url).difference_update_query(["options"]), isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


def postgres_base(url: str | None) -> str | None:
    """Our own database on the server `url` names (created if missing), or None when there is no server."""
    if not url:
        return None
    server = make_url(url).set(drivername="postgresql+psycopg")
    try:
        with admin_engine(server.render_as_string(hide_password=False)) as engine, engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": POSTGRES_DATABASE}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{POSTGRES_DATABASE}"'))
    except SQLAlchemyError as exc:
        print(f"PostgreSQL at {server.render_as_string()} not usable, skipped: {exc}", file=sys.stderr)
        return None
    return server.set(database=POSTGRES_DATABASE).render_as_string(hide_password=False)


def installations(root: Path, scale: Scale, postgres: str | None) -> list[tuple[str, Installation, Installation]]:
    """(backend, one-site installation, chain installation) for SQLite and, when given, PostgreSQL."""
    members = tuple(scale.members())
    result = []
    for backend in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
        pair = []
        for name, chosen in (("one", members[:1]), ("chain", members)):
            directory = root / f"{backend.lower()}-{name}"
            if backend == "SQLite":
                pair.append(Installation(name, directory, f"sqlite:///{directory / 'presence.db'}", chosen))
                continue
            assert postgres is not None
            schema = f"{name}_" + re.sub(r"[^a-z0-9]", "_", scale.key.lower())
            url = make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"})
            pair.append(Installation(name, directory, url.render_as_string(hide_password=False), chosen, schema))
        result.append((backend, pair[0], pair[1]))
    return result


# --- the measurements --------------------------------------------------------------------------------------------

# A child process per CLI figure, started through a shell (benchmarks.report.LAUNCHER) so its peak RSS is its own.
# "report" runs `presence <args>` in-process with stdout captured; the clock starts after the command's modules
# are imported (pandas, SQLAlchemy: the interpreter's start-up, which the wall time includes). "refresh" brings
# the visits up to date; "dashboard" times the page products (dashboard_figures).
CHILD = r"""
import contextlib, io, json, resource, sys, time
action, *args = sys.argv[1:]
if action == "report":
    import app.commands.export, app.commands.report
    from app.cli import main
    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(args)
    assert code == 0, code
    result = {"inner_s": [time.perf_counter() - began], "report": json.loads(out.getvalue())}
elif action == "refresh":
    from config.settings import Settings
    from store import db
    from store.visits import refresh_visits
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    began = time.perf_counter()
    done = refresh_visits(engine, settings)
    result = {"inner_s": [time.perf_counter() - began], "observations": done.observations,
              "longest_write_s": done.longest_write}
else:
    from benchmarks.chain import dashboard_figures
    result = dashboard_figures(*args)
result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result, default=str))
"""
DASHBOARD_FIGURES = ("sites_page", "live_history", "live_tick", "visitors")
SITES_PRODUCT = "sites_view"  # app.dashboard.products' Sites page: sites_view(src, first, last, filters)


@dataclass
class Measured:
    """One figure's runs: wall seconds of each child process (empty for dashboard figures), seconds inside."""

    wall: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)
    rss_mib: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def wall_s(self) -> float:
        return statistics.median(self.wall) if self.wall else math.nan

    @property
    def inner_s(self) -> float:
        return statistics.median(self.inner)

    def add(self, run: dict[str, Any], wall: float | None) -> None:
        if wall is not None:
            self.wall.append(wall)
        self.inner.extend(run.pop("inner_s"))
        self.rss_mib = max(self.rss_mib, run.pop("max_rss_mib"))
        self.detail = run


def child(installation: Installation, action: str, *args: str) -> tuple[dict[str, Any], float]:
    """Run CHILD's `action` against the installation; its JSON answer and the process's wall seconds."""
    started = time.perf_counter()
    completed = subprocess.run(
        [*LAUNCHER, sys.executable, "-c", CHILD, action, *args],
        env=installation.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{action} {' '.join(args)} on {installation.database_url} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1]), wall


def report_window(scale: Scale) -> tuple[date, date]:
    """The last complete week (fewer days on a shorter history) before END's day, in every site's own days."""
    last = END.astimezone(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)
    return last - timedelta(days=min(7, scale.days - 1) - 1), last


def sites_analyses(settings: Settings, first: date, last: date) -> int:
    """What a Sites page needs, for as long as app.dashboard.products has no Sites page product: the window's and
    the period before's analyses with per-site figures, as `presence report` makes them (window_analysis of the
    sites' own days, per_site), and each site's report; the number of sites listed."""
    from analytics.report import report, site_reports
    from app.commands.export import window_analysis

    days = (last - first).days + 1
    listed = 0
    for low, high in ((first, last), (first - timedelta(days=days), first - timedelta(days=1))):
        start, end = local_day_bounds(low, high, settings.tz)
        assert start is not None
        assert end is not None
        analysis = window_analysis(
            settings, analytics_settings_of(settings), start, end, Filters(), dates=(low, high), per_site=True
        )
        report(analysis)
        listed = listed or len(site_reports(analysis))
    return listed


def dashboard_figures(runs: str, site: str, first: str, last: str, now: str) -> dict[str, Any]:
    """In a child process: the dashboard's page products called directly, uncached, `runs` times each after one
    untimed round (the first calls' imports and the page cache), on a clock stopped at `now` (the last minute
    stored). Streamlit's caches are cleared before
    each page, as on a server whose caches just expired (the engine, a connection pool, stays); the Live tick
    keeps the history it compares with, which the page computes once per HISTORY_TTL, in the background."""
    logging.disable(logging.WARNING)  # "no runtime" warnings: plain calls outside `streamlit run` are the point
    import streamlit as st

    from app.dashboard import cache, data, products

    moment = datetime.fromisoformat(now)
    data.clock = lambda: moment
    src = data.source()
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    view = getattr(products, SITES_PRODUCT, None)  # the Sites page's product, once it has landed
    shown: dict[str, Any] = {
        "sites_product": view is not None,
        "multi_site_live": "sites" in products.Live.__dataclass_fields__,  # each site's own count in a tick
    }

    def uncached() -> None:
        st.cache_data.clear()
        cache.analysis.clear()

    def sites() -> None:
        if view is None:
            shown["sites_listed"] = sites_analyses(data.settings(), first_day, last_day)
            return
        uncached()
        shown["sites_listed"] = len(view(src, first_day, last_day, Filters()).sites)

    def live_history() -> None:
        uncached()
        products.live(src, Filters())

    def live_tick() -> None:
        products._live.clear()  # the tick itself; its history stays cached, as on the page
        live = products.live(src, Filters())
        shown["live_inside"], shown["live_aps"] = live.inside, len(live.aps)

    def visitors() -> None:
        uncached()
        page = products.explorer(src, first_day, last_day, Filters(sites=(site,)))
        shown["visitors"] = int(page.report["visitors"])

    pages = dict(zip(DASHBOARD_FIGURES, (sites, live_history, live_tick, visitors), strict=True))
    times: dict[str, list[float]] = {name: [] for name in pages}
    for round_ in range(int(runs) + 1):
        for name, page in pages.items():
            began = time.perf_counter()
            page()
            if round_:
                times[name].append(time.perf_counter() - began)
    return {"inner_s": [], "times": times, **shown}


def append_minute(installation: Installation) -> tuple[int, datetime]:
    """The minute after the last one stored, every site's reports of it stored as the receiver stores POSTs (one
    transaction each); the observations stored and the new last minute."""
    settings = installation.settings()
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        db.migrate(engine)
        last = last_minute(engine)
        sink = DatabaseSink(settings, engine, batch_rows=0)
        for member in installation.members:
            for report in simulate(member.shop, last, last + MINUTE, member.seed).reports():
                sink.add(report)
        sink.close()
    finally:
        engine.dispose()
    return sink.stored, last + MINUTE


def stored_visits(installation: Installation) -> int:
    engine = db.make_engine(installation.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(VISITS)).scalar_one())
    finally:
        engine.dispose()


def last_minute(engine: Engine) -> datetime:
    with engine.connect() as connection:
        value = connection.execute(select(func.max(OBSERVATIONS.c.received_at))).scalar()
    moment = pd.Timestamp(value)
    return (moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)).to_pydatetime()


@dataclass
class Backend:
    """Everything measured on one backend: each figure on the chain and on the one-site baseline."""

    name: str
    chain: dict[str, Measured] = field(default_factory=dict)
    one: dict[str, Measured] = field(default_factory=dict)
    minute_observations: dict[str, int] = field(default_factory=dict)
    same_site_report: bool = True
    differing: list[str] = field(default_factory=list)


def measure(backend: str, one: Installation, whole: Installation, scale: Scale, runs: int, report_runs: int) -> Backend:
    result = Backend(backend)
    first, last = report_window(scale)
    site = whole.members[0].name
    window = ["report", "--from", first.isoformat(), "--to", last.isoformat(), "--format", "json"]
    own = [*window, "--site", site]
    pair = (("one", one, result.one), ("chain", whole, result.chain))
    print(f"{backend}: warming up ...", file=sys.stderr)
    for _, installation, _ in pair:
        child(installation, "report", *own)  # the page cache, and the visits up to date
    for _ in range(runs):  # chain and baseline in turn, so the machine's noise falls on both alike
        for name, installation, figures in pair:
            stored, _ = append_minute(installation)
            result.minute_observations[name] = stored
            figures.setdefault("refresh", Measured()).add(*child(installation, "refresh"))
    print(f"{backend}: refresh of one minute {result.chain['refresh'].inner_s:.2f} s", file=sys.stderr)
    reports: dict[str, dict[str, Any]] = {}
    for _ in range(report_runs):
        for name, installation, figures in pair:
            run, wall = child(installation, "report", *own)
            reports[name] = run["report"]
            figures.setdefault("report_site", Measured()).add(run, wall)
        result.chain.setdefault("report_all", Measured()).add(*child(whole, "report", *window))
    result.differing = [key for key in reports["chain"] if reports["chain"][key] != reports["one"].get(key)]
    result.same_site_report = not result.differing
    print(
        f"{backend}: report --site {result.chain['report_site'].wall_s:.2f} s, one-site "
        f"{result.one['report_site'].wall_s:.2f} s, all sites {result.chain['report_all'].wall_s:.2f} s",
        file=sys.stderr,
    )
    return measure_pages(result, pair, site, first, last, runs)


def measure_pages(
    result: Backend,
    pair: tuple[tuple[str, Installation, dict[str, Measured]], ...],
    site: str,
    first: date,
    last: date,
    runs: int,
) -> Backend:
    """The dashboard figures (DASHBOARD_FIGURES) of the chain and the baseline into `result`."""
    clocks = {}
    for name, installation, _ in pair:
        engine = db.make_engine(installation.database_url)
        try:
            clocks[name] = last_minute(engine).isoformat()
        finally:
            engine.dispose()
    # A process per run, chain and baseline in turn as for the CLI figures, each timing one round after its
    # untimed one: a dashboard round is several seconds, long enough for the machine's load to change under it.
    for _ in range(runs):
        for name, installation, figures in pair:
            run, _ = child(installation, "dashboard", "1", site, first.isoformat(), last.isoformat(), clocks[name])
            rss = run.pop("max_rss_mib")
            run.pop("inner_s")  # the pages' times are under "times"
            for page, times in run.pop("times").items():
                figure = figures.setdefault(page, Measured())
                figure.add({"inner_s": times, "max_rss_mib": rss, **run}, None)
    print(
        f"{result.name}: Sites page {result.chain['sites_page'].inner_s:.2f} s, Live tick "
        f"{result.chain['live_tick'].inner_s:.2f} s, Visitors {result.chain['visitors'].inner_s:.2f} s",
        file=sys.stderr,
    )
    return result


def pages_only(backend: str, one: Installation, whole: Installation, scale: Scale, runs: int) -> str:
    """`--pages-only`: the dashboard rows alone (no report, no refresh: the kept databases get no new minutes),
    as lines of the section's table without its estimate column, for re-measuring a page without the rest."""
    result = Backend(backend)
    first, last = report_window(scale)
    pair = (("one", one, result.one), ("chain", whole, result.chain))
    measure_pages(result, pair, whole.members[0].name, first, last, runs)
    lines = []
    for name in DASHBOARD_FIGURES:
        chain, base = result.chain[name], result.one[name]
        estimate = linear(chain.inner_s, base.inner_s, scale.sites) if 1 < scale.sites < DEFAULT_SITES else math.nan
        lines.append(
            f"| {backend} | {name} | ({chain.inner_s:.2f}) | ({base.inner_s:.2f}) | "
            f"{ratio(chain.inner_s, base.inner_s)} | ({estimate:.1f}) | {chain.rss_mib:.0f} |"
        )
    return "\n".join(lines)


# --- the section -------------------------------------------------------------------------------------------------

# The product's code, for the note on what was measured (benchmarks/ itself is not the product).
PRODUCT_CODE = ("analytics", "app", "config", "devices", "receiver", "simulator", "store")
# The issue's targets (issue 16).
TARGET_SITES_PAGE_S = 2.0
TARGET_LIVE_TICK_S = 1.0
TARGET_VISITORS_S = 1.0
TARGET_REPORT_RATIO = 1.2
TARGET_REFRESH_S = 1.0


def runs_of(runs: int) -> str:
    return f"median of {runs} runs, chain and baseline in turn"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ratio(chain: float, one: float) -> str:
    return f"{chain / one:.2f}" if one > 0 else "-"


def linear(chain: float, one: float, sites: int) -> float:
    """A figure of every site at DEFAULT_SITES sites, linear in the sites through the one-site and chain figures."""
    return one + (chain - one) * (DEFAULT_SITES - 1) / (sites - 1)


def backend_rows(result: Backend, scale: Scale, site: str, estimate: bool) -> list[str]:
    """The table's rows of one backend: (what, target, chain, one-site, ratio, estimate, RSS, verdict) each."""
    chain, one = result.chain, result.one
    product = result.chain["visitors"].detail.get("sites_product")
    sites_page = (
        f"Sites page (`products.{SITES_PRODUCT}`): the week and the week before, per site"
        if product
        else "Sites page: the week and the week before, per site (2 × `window_analysis`, per_site)"
    )
    minutes = result.minute_observations
    # (figure, what, target text, judged on: "wall ratio" | "inner", target value, estimate at 100 sites?)
    figures: list[tuple[str, str, str, str, float | None, bool]] = [
        (
            "report_site",
            f'`presence report --site "{site}"`, one week',
            f"≤ × {TARGET_REPORT_RATIO} the one-site report",
            "wall ratio",
            TARGET_REPORT_RATIO,
            False,
        ),
        ("report_all", f"`presence report`, all {scale.sites} sites with the per-site list", "-", "", None, True),
        (
            "refresh",
            f"refresh after one minute of every site's traffic ({minutes['chain']:,} observations; one site: "
            f"{minutes['one']:,})",
            f"≤ {TARGET_REFRESH_S:g} s in process",
            "inner",
            TARGET_REFRESH_S,
            True,
        ),
        ("sites_page", sites_page, f"≤ {TARGET_SITES_PAGE_S:g} s", "inner", TARGET_SITES_PAGE_S, True),
        (
            "live_tick",
            "Live, all sites: one tick (`products.live`, its history cached)",
            f"≤ {TARGET_LIVE_TICK_S:g} s",
            "inner",
            TARGET_LIVE_TICK_S,
            True,
        ),
        (
            "live_history",
            "Live, all sites, with its history (a first tick; then every 10 min, in the background)",
            "-",
            "",
            None,
            True,
        ),
        (
            "visitors",
            f"Visitors page of one site (`products.explorer`, {site}, one week)",
            f"≤ {TARGET_VISITORS_S:g} s",
            "inner",
            TARGET_VISITORS_S,
            False,
        ),
    ]
    baseline_of = {"report_all": "report_site"}  # every site's report against one site's
    rows = []
    for name, what, target_text, judged, target, estimated in figures:
        figure, base = chain[name], one[baseline_of.get(name, name)]

        def seconds(item: Measured) -> str:
            return f"{item.wall_s:.2f} ({item.inner_s:.2f})" if item.wall else f"({item.inner_s:.2f})"

        times = ratio(figure.inner_s, base.inner_s)
        if figure.wall:
            times = f"{ratio(figure.wall_s, base.wall_s)} ({times})"
        if judged == "wall ratio":
            ok: bool | None = figure.wall_s / base.wall_s <= (target or 0)
        elif judged == "inner":
            ok = figure.inner_s <= (target or 0)
        else:
            ok = None
        cells = [result.name, what, target_text, seconds(figure), seconds(base), times]
        if estimate:
            cells.append(f"({linear(figure.inner_s, base.inner_s, scale.sites):.1f})" if estimated else "-")
        cells += [f"{figure.rss_mib:.0f}", "-" if ok is None else verdict(ok)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def section(
    scale: Scale,
    runs: tuple[int, int],
    built: dict[str, dict[str, dict]],
    results: list[Backend],
    load: tuple[float, float],
    total_s: float,
) -> str:
    first, last = report_window(scale)
    site = scale.members()[0].name
    sqlite_chain, sqlite_one = built["SQLite"]["chain"], built["SQLite"]["one"]
    issue = scale.sites >= DEFAULT_SITES and scale.days >= DEFAULT_DAYS
    estimate = 1 < scale.sites < DEFAULT_SITES
    lines = [
        HEADING,
        "",
        f"`{COMMAND} --sites {scale.sites} --days {scale.days}` on {datetime.now(UTC):%Y-%m-%d}: {machine()}; "
        f"load average {load[0]:.1f} before, {load[1]:.1f} after (a shared machine: other work took turns on "
        "the cores, so a figure moves by up to a third between invocations; compare the figures of one run). "
        f"A chain of **{scale.sites} simulated shops** "
        f"(`simulator.chain`, seed {scale.seed}: 4 APs each, base zone {TIMEZONE}, every third site in New York, Los "
        f"Angeles or Tokyo), **{scale.days} days** of history up to Monday {END:%Y-%m-%d %H:%M} UTC, backfilled with "
        f"`backfill_shops` through the receiver's own path into SQLite (synchronous=FULL): "
        f"{sqlite_chain['observations']:,} observations, {sqlite_chain['visits']:,} stored visits (built in "
        f"{sqlite_chain['backfill_s'] / 60:.1f} min, visits caught up in {sqlite_chain['refresh_s'] / 60:.1f} min). "
        f"The baseline is a database of site 0's traffic alone ({sqlite_one['observations']:,} observations), the "
        f"same shop, seed and pseudonyms.",
    ]
    if "PostgreSQL" in built:
        pg = built["PostgreSQL"]["chain"]
        lines[-1] += (
            f" PostgreSQL holds the same rows, copied from the SQLite databases with COPY "
            f"({pg['backfill_s'] / 60:.1f} min; backfilling PostgreSQL through the receiver's path ran at a fifth "
            f"of SQLite's rate here), its visits caught up by its own refresh ({pg['refresh_s'] / 60:.1f} min)."
        )
    lines += [
        "",
        f"Each figure is the median of {runs[0]} runs ({runs[1]} for the reports, whose ratio is the target) in one "
        "invocation, chain and baseline in turn. The report window is "
        f"{first} to {last}, every site's own days. CLI figures run in a fresh process each: wall time (interpreter "
        "start-up included), and in parentheses the command's own work after its imports; the report's target is "
        "judged on the wall times' ratio, the wait a user sees, as for Filters. The refresh first stores "
        "the next minute of every site's reports, one transaction per report as the receiver stores POSTs, then "
        "brings the visits up to date in a fresh process. Dashboard figures are in process only: the page products "
        "of `app.dashboard.products` called directly in one process (as `benchmarks.load` calls them), on a clock "
        "stopped at the last stored minute, a process per run (chain and baseline in turn) timing one round after "
        "an untimed one, with Streamlit's caches cleared before each "
        f"page, as on a server whose caches just expired. {products_note(results)} Peak RSS is the child "
        "process's own (for the dashboard rows, the largest of those processes'). Code: " + code_version() + ".",
        "",
        "| backend | what | target | chain s | one-site s | × one-site | "
        + (f"{DEFAULT_SITES} sites, linear estimate s | " if estimate else "")
        + "peak RSS MiB | target |",
        "| --- | --- | --- | ---: | ---: | ---: | " + ("---: | " if estimate else "") + "---: | --- |",
    ]
    for result in results:
        lines += backend_rows(result, scale, site, estimate)
    lines.append("")
    if estimate:
        lines += [
            f"The estimate column is not a measurement: each figure of every site, in process, drawn as a straight "
            f"line through the one-site and the {scale.sites}-site figures out to {DEFAULT_SITES} sites. The "
            "one-site figures (the report and the Visitors page of one site) are left out: their cost does not "
            "grow with the other sites (see their × one-site), and a difference of noise would be multiplied.",
            "",
        ]
    for result in results:
        shown = result.chain["visitors"].detail
        same = "yes" if result.same_site_report else f"no (differing: {', '.join(result.differing)})"
        lines.append(
            f"{result.name}: {site}'s report from the chain is the one-site database's: {same}. The all-sites "
            f"report listed {len(result.chain['report_all'].detail['report'].get('sites', []))} sites, the Sites "
            f"page {shown.get('sites_listed')}; the Live tick counted {shown.get('live_inside')} inside and listed "
            f"{shown.get('live_aps')} APs."
        )
    lines += [
        "",
        "The load benchmark's target, its dashboard rounds (125 sites) inside their 3 s tick, is measured by "
        "`python -m benchmarks.load` (see Load), not here.",
    ]
    if not issue:
        lines += ["", scale_note(scale, built)]
    lines += [
        "",
        f"Measured in {total_s / 60:.0f} min, of which building the databases {built_minutes(built):.0f} min (0 when "
        "they were kept from an earlier run: the build times above are those of the build).",
    ]
    return "\n".join(lines) + "\n"


def products_note(results: list[Backend]) -> str:
    """Which dashboard products the Sites page and Live rows timed."""
    shown = results[0].chain["visitors"].detail
    if shown.get("sites_product"):
        sites = (
            f"The Sites page row is `products.{SITES_PRODUCT}` (each period's figures of every site counted from "
            "the stored visits by `store.site_figures`: devices seen by one COUNT per site clock, the qualifying "
            "visits read as plain values and counted per site)"
        )
    else:
        sites = (
            "No Sites page product has landed in `app/dashboard/products.py` yet: the Sites page row times what it "
            "needs, the two analyses with per-site figures as `presence report` makes them"
        )
    if shown.get("multi_site_live"):
        live = "the Live rows the multi-site Live (every site's count side by side)"
    else:
        live = "the Live rows the present Live page, which counts every site's visitors together"
    return f"{sites}; {live}."


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it in the product's code."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", *PRODUCT_CODE).splitlines()
    if not changed:
        return f"commit {commit}"
    return f"commit {commit} with uncommitted changes to {len(changed)} files of the product in the working tree"


def built_minutes(built: dict[str, dict[str, dict]]) -> float:
    return sum(item.get("build_here_s", 0.0) for pair in built.values() for item in pair.values()) / 60


def scale_note(scale: Scale, built: dict[str, dict[str, dict]]) -> str:
    """What the issue's scale would take to build here, extrapolated from this build's rates."""
    factor = DEFAULT_SITES * DEFAULT_DAYS / (scale.sites * scale.days)
    minutes = sum(item["backfill_s"] + item["refresh_s"] for item in (p["chain"] for p in built.values())) / 60
    observations = built["SQLite"]["chain"]["observations"] * factor
    return (
        f"**The issue's {DEFAULT_SITES} sites × {DEFAULT_DAYS} days remain to be measured**: about "
        f"{observations / 1e6:.0f} M observations, whose build here would take about {minutes * factor:.0f} min "
        f"(this build's {minutes:.0f} min × {factor:.1f}), over the 20 min this run was given. "
        f"`{COMMAND}` with no options builds it (once; the databases are kept under {WORK_DIR}/)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sites", type=int, default=DEFAULT_SITES, help=f"shops in the chain (default {DEFAULT_SITES})"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days of history (default {DEFAULT_DAYS})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each figure, for the median (default {RUNS})")
    parser.add_argument(
        "--report-runs", type=int, default=REPORT_RUNS, help=f"runs of each report (default {REPORT_RUNS})"
    )
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR, help=f"where the databases are kept ({WORK_DIR})")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_VARIABLE),
        help=f"a PostgreSQL server (default ${POSTGRES_VARIABLE}); the benchmark creates its own database there",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the databases, measure nothing")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="measure the dashboard pages alone on the kept databases and print their rows (the doc is not written)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the section without rewriting the doc")
    args = parser.parse_args(argv)
    if args.days < 2 or not 1 <= args.sites:
        parser.error("--days must be at least 2 and --sites at least 1")
    scale = Scale(args.sites, args.days)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    root = args.work_dir / scale.key
    postgres = None if args.no_postgres else postgres_base(args.postgres)
    pairs = installations(root, scale, postgres)
    built: dict[str, dict[str, dict]] = {}
    sources: dict[str, Installation] = {}
    for backend, one, whole in pairs:
        for installation in (one, whole):
            print(f"{backend}: {installation.name} ({len(installation.members)} sites) ...", file=sys.stderr)
            began = time.perf_counter()
            figures = build(installation, scale, sources.get(installation.name))
            figures["build_here_s"] = time.perf_counter() - began
            figures["visits"] = stored_visits(installation)
            built.setdefault(backend, {})[installation.name] = figures
            print(f"  {figures}", file=sys.stderr)
            sources.setdefault(installation.name, installation)
    if args.build_only:
        return 0
    if args.pages_only:
        print(
            f"{COMMAND} --sites {scale.sites} --days {scale.days} --pages-only, {runs_of(args.runs)}; {code_version()}"
        )
        print("| backend | page | chain s | one-site s | × one-site | 100 sites, linear estimate s | peak RSS MiB |")
        for backend, one, whole in pairs:
            print(pages_only(backend, one, whole, scale, args.runs), flush=True)
        return 0
    results = [measure(backend, one, whole, scale, args.runs, args.report_runs) for backend, one, whole in pairs]
    runs = (args.runs, args.report_runs)
    text = section(scale, runs, built, results, (load_before, os.getloadavg()[0]), time.perf_counter() - started)
    print(text)
    if not args.no_write:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
