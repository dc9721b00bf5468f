"""Load benchmark: hundreds of simulated APs posting to a real `presence serve` while the dashboard queries it.

Run `.venv/bin/python -m benchmarks.load [--aps 500] [--speed 10] [--seconds 120] [--clients 64]`; it prints the
figures and rewrites the "## Load" section of docs/benchmarks.md. The defaults take about five minutes.

What is measured, twice in one invocation and with the same bodies: `--aps` access points (the simulator's
default shop, repeated: a chain of shops of four APs each, EnGenius, Aerohive, Meraki and EnGenius, every shop
its own site with its own seed) each post their report for every simulated minute of a busy Saturday afternoon,
at a phase of their own within the minute, on a clock `--speed` times faster than real time, for `--seconds`.
The bodies are the simulator's: the receiver's own payload models serialized in each vendor's wire format and
authenticated as each vendor does it (`simulator.send.Sender`). A pool of `--clients` threads sends them open
loop, each POST at its due time on a connection of its own, as independent APs do; a POST that waits for a free
client thread counts as late, and the lateness is reported so a saturated load generator cannot hide.

1. posts only: the baseline, a fresh receiver (2 gunicorn workers, SQLite in a temporary data directory,
   synchronous=FULL as shipped);
2. posts + dashboard: another fresh receiver, and in another process the dashboard's own data functions
   (`app.dashboard.products`) in a loop, uncached, on the simulated clock: each round is a Live tick (`products.live`:
   the last hours of observations, occupancy, the APs' last reports, and the history it compares with) and a
   Visitors page (`products.explorer` of the sidebar's default range: the CLI's `window_analysis`, which refreshes
   the stored visits first and so writes to the database too). A round starts every LIVE_REFRESH / speed
   seconds, the Live page's own rate on the compressed clock, or at once when the previous one ran late.

After each run every acknowledged observation must be in the database: stored rows per vendor == the sum of the
2xx answers' `stored`, and that == the observations sent (none is a duplicate). The ratios compare run 2 with
run 1, measured minutes apart on the same machine. `tests/receiver/test_load.py` runs a shorter version of the
same load on SQLite and PostgreSQL and holds it to zero refused posts and an exact count.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import logging
import math
import multiprocessing
import os
import queue
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from benchmarks.docs import machine, write_section
from benchmarks.ingest import percentile
from config.settings import Settings
from simulator.chain import APS_PER_SHOP, ChainSite, chain, config_toml
from simulator.run import simulate
from simulator.send import Sender
from store import db
from store.models import Observation
from tests.servers import running_receiver

HEADING = "## Load"
COMMAND = "python -m benchmarks.load"
# A Saturday afternoon: the simulator's busiest day and hours (README, "The people"), so reports are as large as
# a shop's get. Fixed, like the seed, so every run sends the same bodies.
START = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
SEED = 1
DEFAULT_APS = 500  # the figure
DEFAULT_SPEED = 10.0  # 500 APs at 10x real time: 83 POSTs/s, what 5,000 APs post in real time
DEFAULT_SECONDS = 120.0  # per run: 20 simulated minutes at 10x, 10,000 POSTs
DEFAULT_CLIENTS = 64  # client threads: far more than the receiver's 2 workers x 4 threads serve at once
WORKERS = 2
REPORT_INTERVAL_S = 60  # every AP posts once a simulated minute (simulator.traffic.REPORT_INTERVAL_S)
TIMEOUT_S = 60.0  # longer than the receiver's 30 s SQLite busy timeout: a slow answer is an answer, not an error
ENGENIUS_KEY = "load-engenius-key"
AEROHIVE_SECRET = "load-aerohive-secret"
MERAKI_SECRET = "load-meraki-secret"
PSEUDONYM_KEY = "load"


# --- the traffic -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How much traffic: `aps` APs each posting every simulated minute on a clock `speed` x real time."""

    aps: int = DEFAULT_APS
    speed: float = DEFAULT_SPEED
    seconds: float = DEFAULT_SECONDS
    seed: int = SEED

    @property
    def minutes(self) -> int:
        """Simulated minutes each AP reports on."""
        return max(1, round(self.seconds * self.speed / REPORT_INTERVAL_S))

    @property
    def shops(self) -> int:
        return math.ceil(self.aps / APS_PER_SHOP)

    def describe(self) -> str:
        return f"{self.aps} APs at {self.speed:g}x real time"

    def sites(self) -> list[ChainSite]:
        """The chain (simulator.chain): every shop in UTC, so all are open on START's busy Saturday afternoon."""
        return chain(self.shops, self.seed, "UTC", aps=self.aps, other_timezones=False)


@dataclass(frozen=True)
class Post:
    """One AP's report for one simulated minute, ready to send: when (seconds into the run), where, what."""

    due: float
    vendor: str
    path: str
    body: bytes
    headers: dict[str, str]
    observations: int  # records in the body (for Meraki, one per AP that heard a client): what a 2xx stores


def installation(data_dir: Path, plan: Plan, database_url: str | None = None) -> dict[str, str]:
    """The environment of a fresh installation in `data_dir` (SQLite there unless `database_url`), all three
    vendors' secrets set and the chain's APs configured."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir.parent / f"{data_dir.name}.toml"
    config.write_text(
        config_toml(plan.sites(), "# The load benchmark's chain of simulated shops (benchmarks/load.py).")
    )
    return {
        "PRESENCE_DATA_DIR": str(data_dir),
        "PRESENCE_DATABASE_URL": database_url or f"sqlite:///{data_dir / 'presence.db'}",
        "PRESENCE_CONFIG": str(config),
        "PRESENCE_TIMEZONE": "UTC",
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET,
        "PRESENCE_MERAKI_SECRET": MERAKI_SECRET,
        "PRESENCE_PSEUDONYM_KEY": PSEUDONYM_KEY,
    }


def posts(plan: Plan, env: dict[str, str]) -> list[Post]:
    """Every POST of the run, in due order. Each shop is its own simulation (seed + shop number); each AP posts
    at a phase of its own within the minute, drawn once from the seed, as unsynchronized APs do."""
    sender = Sender("", Settings.from_env(env))  # no target: request() then gives the path, not a URL
    phases = np.random.default_rng(plan.seed).uniform(0.0, REPORT_INTERVAL_S, size=plan.shops * APS_PER_SHOP)
    result = []
    end = START + timedelta(minutes=plan.minutes)
    for member in plan.sites():
        number = member.number
        simulation = simulate(
            member.shop,
            START,
            end,
            seed=member.seed,
            vendor="mixed",
            network_id=str(200_000 + number),
            owner_id=str(1_082_000_000 + number),
            meraki_network_id=f"N_{24_329_156 + number}",
        )
        index = {ap.mac: number * APS_PER_SHOP + i for i, ap in enumerate(simulation.shop.aps)}
        for minute, interval in enumerate(simulation.intervals()):
            for report in interval.reports:
                phase = phases[index[report.aps[0].mac]]
                path, body, headers = sender.request(report)
                due = (minute * REPORT_INTERVAL_S + phase) / plan.speed
                result.append(Post(due, report.vendor, path, body, headers, report.size))
    return sorted(result, key=lambda post: post.due)


def simulated_now(started_at: float, speed: float, wall: float | None = None) -> datetime:
    """The simulated clock: the first minute's reports are due at its end, START + 1 minute, at `started_at`."""
    elapsed = (time.time() if wall is None else wall) - started_at
    return START + timedelta(seconds=REPORT_INTERVAL_S + elapsed * speed)


# --- sending -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one POST got: its HTTP status (None if the connection failed), timings, and the stored count."""

    vendor: str
    observations: int
    late: float  # seconds after its due time that it was sent (waiting for a free client thread)
    seconds: float  # from sending to the whole answer read
    status: int | None
    stored: int = 0
    duplicates: int = 0
    error: str = ""  # exception type and message, or the refusal's body


def send(host: str, port: int, post: Post, late: float) -> Answer:
    """POST on a fresh connection, as an AP that reports once a minute does; never retried, like the vendors."""
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    began = time.perf_counter()
    try:
        connection.request("POST", post.path, post.body, {**post.headers, "Connection": "close"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        seconds = time.perf_counter() - began
        return Answer(post.vendor, post.observations, late, seconds, None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    seconds = time.perf_counter() - began
    if not 200 <= response.status < 300:
        return Answer(post.vendor, post.observations, late, seconds, response.status, error=body[:300].decode())
    answer = json.loads(body)
    return Answer(
        post.vendor, post.observations, late, seconds, response.status, answer["stored"], answer["duplicates"]
    )


def drive(base_url: str, schedule: Sequence[Post], clients: int, started: float) -> tuple[list[Answer], float]:
    """Send every post at `started` (perf_counter) + its due time from a pool of `clients` threads; the answers in
    schedule order, and the seconds from `started` to the last answer."""
    host, port = base_url.removeprefix("http://").split(":")

    def on_time(post: Post) -> Answer:
        return send(host, int(port), post, max(0.0, time.perf_counter() - started - post.due))

    with ThreadPoolExecutor(clients, thread_name_prefix="load-client") as pool:
        futures = []
        for post in schedule:
            delay = started + post.due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(on_time, post))
        answers = [future.result() for future in futures]
    return answers, time.perf_counter() - started


# --- the dashboard's queries, in another process -----------------------------------------------------------------


@dataclass
class Queries:
    """What the dashboard loop did: each round's seconds, its errors, and what the last round showed."""

    interval: float = 0.0  # seconds between rounds: the Live page's refresh on the compressed clock
    rounds: list[float] = field(default_factory=list)  # seconds per round
    live: list[float] = field(default_factory=list)  # ... of which the Live tick
    visitors: list[float] = field(default_factory=list)  # ... and the Visitors page
    collecting: list[float] = field(default_factory=list)  # ... and of all that, Python's garbage collections
    cpu: list[float] = field(default_factory=list)  # the process's CPU seconds in each round (the rest: waiting)
    caught_up: list[int] = field(default_factory=list)  # observations the round's refreshes brought into visits
    fitted: list[int] = field(default_factory=list)  # zone models the round's refreshes fitted
    longest_write: float = 0.0  # seconds of the refreshes' longest write transaction: what POSTs could wait for
    errors: list[str] = field(default_factory=list)
    last_live_inside: int | None = None
    last_live_aps: int | None = None
    last_report: dict[str, int] = field(default_factory=dict)


def dashboard_loop(
    env: dict[str, str], speed: float, min_rounds: int, ready: Event, stop: Event, start_at: Any, out: Any
) -> None:
    """In a process of its own: the dashboard's data functions, uncached, a round every LIVE_REFRESH / speed s.

    `start_at` is a queue that hands over the run's start (time.time()) once the posts begin; `out` receives the
    `Queries` once `stop` is set and at least `min_rounds` rounds have ended (a slow machine still gets its round
    in). The dashboard reads the time only through `data.clock`, which the dashboard's tests replace too: here it
    runs on the simulated clock, so the Live page looks at the minutes being posted.
    """
    os.environ.update(env)
    # Streamlit warns of "no runtime" and "missing ScriptRunContext" at every cached call made outside
    # `streamlit run`: plain calls are the point here, and errors come back in `Queries`, not in the log.
    logging.disable(logging.WARNING)
    import streamlit as st

    from analytics.filters import Filters
    from app.commands import export
    from app.dashboard import cache, data, filters, products

    result = Queries()
    refresh = export.refresh_visits
    refreshed = [0, 0]  # this round's observations caught up and zone models fitted

    def measured_refresh(*args: Any, **kwargs: Any) -> Any:
        """The real refresh, noting its longest write transaction (SQLite's write lock, which POSTs wait for),
        what it caught up and what it fitted."""
        done = refresh(*args, **kwargs)
        result.longest_write = max(result.longest_write, done.longest_write)
        refreshed[0] += done.observations
        refreshed[1] += len(done.fitted)
        return done

    export.refresh_visits = measured_refresh  # type: ignore[assignment]
    collected = [0.0, 0.0]  # seconds in collections so far, and when the running one began

    def timed_collection(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collected[1] = time.perf_counter()
        else:
            collected[0] += time.perf_counter() - collected[1]

    gc.callbacks.append(timed_collection)
    ready.set()
    started_at = start_at.get()
    data.clock = lambda: simulated_now(started_at, speed)
    interval = result.interval = products.LIVE_REFRESH.total_seconds() / speed
    next_round = started_at + interval

    def more() -> bool:
        if len(result.rounds) + len(result.errors) < min_rounds:
            time.sleep(max(0.0, next_round - time.time()))
            return True
        return not stop.wait(max(0.0, next_round - time.time()))

    while more():
        next_round = max(next_round + interval, time.time())
        began, collected_before, cpu_before = time.perf_counter(), collected[0], time.process_time()
        refreshed[:] = [0, 0]
        try:
            # Uncached, as on a server whose caches just expired: the engine (a connection pool) stays.
            st.cache_data.clear()
            cache.analysis.clear()
            src = data.source()
            held = data.span(src)
            if held.empty:
                continue
            assert held.first_day is not None
            assert held.last_day is not None
            live = products.live(src, Filters())
            live_done = time.perf_counter()
            first, last = filters.default_range(held.first_day, held.last_day, data.today(src))
            view = products.explorer(src, first, last, Filters())
        except Exception as exc:  # any failure is a finding: record it and keep querying
            result.errors.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            continue
        ended = time.perf_counter()
        result.rounds.append(ended - began)
        result.live.append(live_done - began)
        result.visitors.append(ended - live_done)
        result.collecting.append(collected[0] - collected_before)
        result.cpu.append(time.process_time() - cpu_before)
        result.caught_up.append(refreshed[0])
        result.fitted.append(refreshed[1])
        result.last_live_inside, result.last_live_aps = live.inside, len(live.aps)
        result.last_report = {key: int(view.report[key]) for key in ("visitors", "passersby", "visits")}
    out.put(result)


@dataclass
class DashboardProcess:
    """The dashboard loop's process and its handles (see `dashboard_process`)."""

    process: Any
    ready: Event
    stop: Event
    start_at: Any
    out: Any

    def begin(self, started_at: float, timeout: float = 120.0) -> None:
        """Wait until the process has imported the dashboard, then start its clock at `started_at`."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if not self.process.is_alive():
                raise RuntimeError(f"the dashboard process exited with {self.process.exitcode} before starting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dashboard process did not start within {timeout:g} s")
        self.start_at.put(started_at)

    def finish(self, timeout: float = 300.0) -> Queries:
        """Stop the loop after its current round (and its minimum rounds); what it did."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        while True:
            try:
                result: Queries = self.out.get(timeout=0.5)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError(f"the dashboard process exited with {self.process.exitcode}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the dashboard loop did not end within {timeout:g} s") from None
        self.process.join(30)
        return result


@contextlib.contextmanager
def dashboard_process(env: dict[str, str], speed: float, min_rounds: int = 1) -> Iterator[DashboardProcess]:
    """Start the dashboard loop's process now (importing the dashboard takes seconds; let it overlap the
    rendering and the receiver's start); `run` sets it going. Ended on leaving, whatever happened."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or sockets inherited
    ready, stop = context.Event(), context.Event()
    start_at, out = context.Queue(), context.Queue()
    process = context.Process(
        target=dashboard_loop,
        args=(env, speed, min_rounds, ready, stop, start_at, out),
        name="load-dashboard",
        daemon=True,
    )
    process.start()
    try:
        yield DashboardProcess(process, ready, stop, start_at, out)
    finally:
        if process.is_alive():
            process.terminate()
        process.join(30)
        for handle in (start_at, out):
            handle.close()
            handle.join_thread()


# --- one run -----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run's answers, the server's own counts, and the database's."""

    name: str
    plan: Plan
    answers: list[Answer]
    seconds: float  # from the first due time to the last answer
    metrics: dict[str, dict[tuple[str, ...], float]]
    stored_by_vendor: dict[str, int]
    queries: Queries | None = None

    @property
    def ok(self) -> list[Answer]:
        return [a for a in self.answers if a.status is not None and 200 <= a.status < 300]

    @property
    def refused(self) -> Counter[int]:
        """Non-2xx answers by status."""
        return Counter(a.status for a in self.answers if a.status is not None and not 200 <= a.status < 300)

    @property
    def connection_errors(self) -> Counter[str]:
        return Counter(a.error.split(":")[0] for a in self.answers if a.status is None)

    @property
    def acknowledged_by_vendor(self) -> dict[str, int]:
        """The sum of the 2xx answers' `stored`, per vendor."""
        totals: Counter[str] = Counter()
        for answer in self.ok:
            totals[answer.vendor] += answer.stored
        return dict(totals)

    @property
    def sent_by_vendor(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for answer in self.answers:
            totals[answer.vendor] += answer.observations
        return dict(totals)

    @property
    def answers_by_vendor_and_status(self) -> dict[tuple[str, str], int]:
        counts = Counter((a.vendor, str(a.status)) for a in self.answers if a.status is not None)
        return dict(counts)

    def latency_ms(self, share: float) -> float:
        return percentile([a.seconds for a in self.answers], share) * 1000

    @property
    def exact(self) -> bool:
        """The database holds exactly the acknowledged observations, per vendor, and none was a duplicate."""
        acknowledged = self.acknowledged_by_vendor
        return self.stored_by_vendor == acknowledged and sum(a.duplicates for a in self.ok) == 0

    def examples(self) -> list[str]:
        return [f"{a.vendor} {a.status}: {a.error}" for a in self.answers if a.error][:5]


def scrape(base_url: str) -> dict[str, dict[tuple[str, ...], float]]:
    """The receiver's /metrics: requests by (vendor, status) and records stored and duplicate by vendor."""
    wanted = {
        "presence_requests_total": ("vendor", "status"),
        "presence_records_stored_total": ("vendor",),
        "presence_records_duplicate_total": ("vendor",),
    }
    values: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in wanted}
    text = requests.get(f"{base_url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                key = tuple(sample.labels[label] for label in wanted[sample.name])
                values[sample.name][key] = values[sample.name].get(key, 0.0) + sample.value
    return values


def stored_by_vendor(database_url: str) -> dict[str, int]:
    """Observations in the database, per vendor."""
    engine = db.make_engine(database_url)
    try:
        table = Observation.__table__  # type: ignore[attr-defined]
        with engine.connect() as connection:
            rows = connection.execute(select(table.c.vendor, func.count()).group_by(table.c.vendor)).all()
    finally:
        engine.dispose()
    return {str(vendor): int(count) for vendor, count in rows}


def run(
    name: str,
    plan: Plan,
    schedule: Sequence[Post],
    env: dict[str, str],
    *,
    clients: int = DEFAULT_CLIENTS,
    dashboard: DashboardProcess | None = None,
    log: Path | None = None,
) -> Run:
    """Start a receiver on `env`'s installation, send `schedule` (with the dashboard loop querying alongside if
    given), read its /metrics, stop it, and count what the database holds."""
    queries = None
    with running_receiver(env, workers=WORKERS, log=log) as base_url:
        if dashboard is not None:
            dashboard.begin(time.time())
        started = time.perf_counter()
        try:
            answers, seconds = drive(base_url, schedule, clients, started)
        finally:
            if dashboard is not None:
                queries = dashboard.finish()
        metrics = scrape(base_url)
    return Run(name, plan, answers, seconds, metrics, stored_by_vendor(env["PRESENCE_DATABASE_URL"]), queries)


# What the test holds, said in the section so a reader knows the verdict is checked on every `make test` too.
TEST_SENTENCE = (
    "The same load, shorter and on SQLite and PostgreSQL, runs with the tests (`tests/receiver/test_load.py`), "
    "which fail on any refused post, lost or extra observation, disagreeing `/metrics` or dashboard error."
)


# --- the benchmark -----------------------------------------------------------------------------------------------


def zero_refused(runs: Sequence[Run]) -> bool:
    """Every POST answered 2xx, no connection failed, and the database holds exactly what was acknowledged."""
    return all(not r.refused and not r.connection_errors and r.exact for r in runs)


def section(plan: Plan, clients: int, runs: Sequence[Run], load: tuple[float, float]) -> str:
    baseline, loaded = runs
    queries = loaded.queries or Queries()
    span = plan.minutes * REPORT_INTERVAL_S / plan.speed
    posted = len(baseline.answers)
    observations = sum(answer.observations for answer in baseline.answers)
    lines = [
        HEADING,
        "",
        f"{plan.describe()} (`{COMMAND} --aps {plan.aps} --speed {plan.speed:g} --seconds {plan.seconds:g}`): "
        f"{plan.shops} simulated shops of {APS_PER_SHOP} APs (EnGenius, Aerohive, Meraki, EnGenius; each shop its "
        f"own site and seed), each AP posting its report of every minute of {plan.minutes} simulated minutes from "
        f"{START:%A %Y-%m-%d %H:%M} UTC, at a phase of its own within the minute; in real time that is what "
        f"{plan.aps * plan.speed:,.0f} APs post. {posted:,} POSTs of {observations / posted:.1f} "
        f"observations on average ({observations:,} in all; bodies are the simulator's, signed or authenticated as "
        f"each vendor does it), sent open loop over {span:.0f} s from {clients} client threads, a fresh connection "
        f"per POST, to `presence serve` ({WORKERS} gunicorn workers) on loopback, SQLite with synchronous=FULL, "
        "a fresh database per run. Run 2 adds the dashboard's own data functions in another process, uncached: a "
        f"Live tick and a Visitors report (its default range) every {queries.interval:g} s of real time (the Live "
        "page's refresh on the compressed clock), back to back when a round takes longer.",
        "",
        "| run | POSTs/s offered | POSTs/s achieved | observations/s | p50 ms | p90 ms | p99 ms | max ms | "
        "non-2xx | connection errors | stored = acknowledged |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        refused = ", ".join(f"{n} × {status}" for status, n in sorted(r.refused.items())) or "0"
        errors = ", ".join(f"{n} × {kind}" for kind, n in sorted(r.connection_errors.items())) or "0"
        stored = sum(r.stored_by_vendor.values())
        exact = "yes" if r.exact else f"**no** ({stored:,} stored, {sum(r.acknowledged_by_vendor.values()):,} acked)"
        lines.append(
            f"| {r.name} | {posted / span:,.1f} | {len(r.ok) / r.seconds:,.1f} | "
            f"{sum(a.stored for a in r.ok) / r.seconds:,.0f} | {r.latency_ms(0.5):.0f} | {r.latency_ms(0.9):.0f} | "
            f"{r.latency_ms(0.99):.0f} | {r.latency_ms(1.0):.0f} | {refused} | {errors} | "
            f"{exact} ({stored:,}) |"
        )
    p99_ratio = loaded.latency_ms(0.99) / baseline.latency_ms(0.99)
    p50_ratio = loaded.latency_ms(0.5) / baseline.latency_ms(0.5)
    throughput_ratio = (len(loaded.ok) / loaded.seconds) / (len(baseline.ok) / baseline.seconds)
    late = max(max(a.late for a in r.answers) for r in runs)
    agree = all(metrics_agree(r) for r in runs)
    lines += [
        "",
        f"With the dashboard querying, against posts only: p99 latency × **{p99_ratio:.2f}**, p50 × {p50_ratio:.2f}, "
        f"throughput × **{throughput_ratio:.2f}** (the tail moves with whatever else the shared machine runs, so "
        f"compare the runs of one invocation, not the milliseconds of another). {dashboard_summary(queries, plan)} "
        "Every POST went out within "
        f"{late * 1000:.0f} ms of its due time: the load generator kept its schedule.",
        "",
        f"Zero refused valid posts: **{'yes' if zero_refused(runs) else 'no'}**. "
        + (
            "After each run the database held exactly the observations the 2xx answers acknowledged, per vendor, "
            "none of them a duplicate"
            if all(r.exact for r in runs)
            else "**The database did not hold exactly the acknowledged observations** (see the table)"
        )
        + (
            "; the receiver's `/metrics` counted the same answers and stored records as the clients."
            if agree
            else "; **the receiver's `/metrics` disagreed with the clients**."
        )
        + f" {TEST_SENTENCE}",
        "",
        f"Machine: {machine()}. Load average {load[0]:.1f} before, {load[1]:.1f} after; the load generator and the "
        "dashboard share the two cores with the receiver, and on this shared machine so did other work. "
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{COMMAND}`.",
    ]
    return "\n".join(lines) + "\n"


def dashboard_summary(queries: Queries, plan: Plan) -> str:
    """One or two sentences on the dashboard loop: rounds, their times, errors, what the last one showed."""
    if not queries.rounds:
        return f"The dashboard completed no round ({len(queries.errors)} errors)."
    interval = queries.interval
    rounds, live, visitors = queries.rounds, queries.live, queries.visitors
    pace = (
        f", back to back: a round took longer than the {interval:g} s between Live ticks"
        if statistics.median(rounds) > interval
        else ""
    )
    late = [index for index, seconds in enumerate(rounds) if seconds > interval]
    each = "; ".join(
        f"round {index + 1}: {rounds[index]:.1f} s, Live {live[index]:.1f} s, Visitors {visitors[index]:.1f} s, "
        f"CPU {queries.cpu[index]:.1f} s, garbage collection {queries.collecting[index]:.1f} s, "
        f"{queries.caught_up[index]:,} observations caught up, {queries.fitted[index]} zone models fitted"
        for index in late
    )
    over = f"{len(late)} of {len(rounds)} rounds took longer than the {interval:g} s tick" + (
        f" ({each})" if late else ""
    )
    return (
        f"The dashboard completed {len(rounds)} rounds with {len(queries.errors)} errors{pace}; {over}. Round p50 "
        f"{statistics.median(rounds):.1f} s (CPU {statistics.median(queries.cpu):.1f} s, "
        f"{statistics.median(queries.caught_up):,.0f} observations caught up), p99 {percentile(rounds, 0.99):.1f} s; "
        "of which the Live tick p50 "
        f"{statistics.median(live):.1f} s (max {max(live):.1f} s) and the Visitors report p50 "
        f"{statistics.median(visitors):.1f} s (max {max(visitors):.1f} s). Both bring the stored visits up to date "
        "first (`refresh_visits`; the Live tick for the history it compares with); the refreshes' longest write "
        f"transaction, SQLite's write lock that POSTs wait for, took {queries.longest_write:.2f} s. Its last round "
        "counted "
        f"{queries.last_report.get('visitors', 0):,} visitors and {queries.last_report.get('passersby', 0):,} "
        f"passersby in {plan.shops} sites, and listed {queries.last_live_aps or 0} APs on the Live page."
    )


def metrics_agree(r: Run) -> bool:
    """The receiver counted the same answers and stored records as the clients saw."""
    requests_seen = {key: int(value) for key, value in r.metrics["presence_requests_total"].items() if value}
    stored = {key[0]: int(value) for key, value in r.metrics["presence_records_stored_total"].items() if value}
    return requests_seen == r.answers_by_vendor_and_status and stored == {
        vendor: n for vendor, n in r.acknowledged_by_vendor.items() if n
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aps", type=int, default=DEFAULT_APS, help=f"access points (default {DEFAULT_APS})")
    parser.add_argument(
        "--speed", type=float, default=DEFAULT_SPEED, help=f"times faster than real time (default {DEFAULT_SPEED:g})"
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help=f"wall seconds per run (default {DEFAULT_SECONDS:g})"
    )
    parser.add_argument(
        "--clients", type=int, default=DEFAULT_CLIENTS, help=f"client threads (default {DEFAULT_CLIENTS})"
    )
    args = parser.parse_args(argv)
    plan = Plan(args.aps, args.speed, args.seconds)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="presence-load-") as tmp:
        envs = [installation(Path(tmp) / name, plan) for name in ("baseline", "dashboard")]
        with dashboard_process(envs[1], plan.speed) as dashboard:
            runs = measure(plan, envs, dashboard, args.clients, Path(tmp))
    text = section(plan, args.clients, runs, (load_before, os.getloadavg()[0]))
    print(text)
    write_section(HEADING, text)
    return 0


def measure(plan: Plan, envs: list[dict[str, str]], dashboard: DashboardProcess, clients: int, tmp: Path) -> list[Run]:
    """Render the posts, then send them without and with the dashboard querying; problems go to stderr."""
    began = time.perf_counter()
    schedule = posts(plan, envs[0])
    print(f"{len(schedule):,} POSTs rendered in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    runs = []
    for name, env, queries in (("posts only", envs[0], None), ("posts + dashboard", envs[1], dashboard)):
        print(f"{name}: {plan.describe()} for {plan.seconds:g} s", file=sys.stderr)
        log = tmp / f"{name.replace(' ', '-')}.log"
        result = run(name, plan, schedule, env, clients=clients, dashboard=queries, log=log)
        for example in result.examples():
            print(f"{name}: {example}", file=sys.stderr)
        if not metrics_agree(result):
            print(f"{name}: /metrics disagrees with the clients: {result.metrics}", file=sys.stderr)
        runs.append(result)
    for error in (runs[1].queries or Queries()).errors[:3]:
        print(f"dashboard: {error}", file=sys.stderr)
    return runs


if __name__ == "__main__":
    sys.exit(main())
