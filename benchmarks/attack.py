"""Attack benchmark: a real `presence serve` on loopback against slow senders, a disk that fills up, malformed
chunked bodies, and the dashboard against password guessing from many sessions.

Run `.venv/bin/python -m benchmarks.attack [--seconds 60] [--slow 64] [--only slow,disk,chunked,dashboard]`; it
prints the figures and rewrites the "## Attack" section of docs/benchmarks.md. The defaults take about four
minutes. Everything is bounded and stays on 127.0.0.1.

1. **slow**: `--slow` connections (default 64) each send a forged EnGenius POST's body at 1 byte/s for
   `--seconds`, reconnecting whenever the receiver closes one (as an attacker would), while an AP posts a signed
   report every 0.5 s on a fresh connection. First the AP alone for 10 s (the baseline), then with the attack.
   A post is lost when it gets no 2xx within 10 s.
2. **disk**: the data directory on a 48 MiB tmpfs of its own (needs root to mount it; otherwise the scenario
   says why it did not run). An AP posts 50-record reports every 50 ms; after 3 s the filesystem is filled with
   a ballast file, 5 s later the ballast is deleted, and the AP goes on for 5 s more. `/healthz` is polled every
   250 ms. Afterwards every acknowledged record must be in the database and its integrity check must pass.
3. **chunked**: 1,000 POSTs with an invalid chunk size from one address, one connection each.
4. **dashboard**: `--sessions` (default 30) sessions of one address, each a thread calling the login form's own
   callback in one process (as `presence dashboard` runs every session), submit wrong passwords as fast as they
   are answered for 65 s, and clear Streamlit's caches (what the `clear_cache` message does) before each try.
   Counted: passwords checked in any 60 s window.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.docs import machine, write_section
from benchmarks.ingest import percentile
from tests.servers import running_receiver

HEADING = "## Attack"
COMMAND = "python -m benchmarks.attack"
KEY = "attack-benchmark-key"
AP_INTERVAL_S = 0.5
ANSWER_TIMEOUT_S = 10.0
BASELINE_S = 10.0
DISK_BYTES = 48 * 1024 * 1024
SCENARIOS = ("slow", "disk", "chunked", "dashboard")


def sign(body: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()


def report(number: int, records: int = 3) -> bytes:
    """A distinct EnGenius report (no record of it is a re-delivery of another's)."""
    now = int(time.time())
    return json.dumps(
        {
            "network_id": 1,
            "node_mac": "ac:86:74:82:9a:30",
            "probe_requests": [
                {
                    "mac": f"f0:18:98:{number // 65536 % 256:02x}:{number // 256 % 256:02x}:{number % 256:02x}",
                    "min_signal": -70 - record,
                    "max_signal": -60,
                    "avg_signal": -65,
                    "last_seen_signal": -61,
                    "first_seen": now - 60 + record,
                    "last_seen": now,
                }
                for record in range(records)
            ],
        }
    ).encode()


@dataclass
class Answer:
    sent_at: float
    status: int | None  # None: no answer (connection error or timeout)
    seconds: float
    stored: int = 0


def post(base_url: str, body: bytes, timeout: float = ANSWER_TIMEOUT_S) -> Answer:
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("POST", "/ingest/engenius", body=body, headers={"Signature": sign(body)})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        return Answer(started, response.status, time.monotonic() - started, answer.get("stored", 0))
    except (OSError, http.client.HTTPException, ValueError):
        return Answer(started, None, time.monotonic() - started)
    finally:
        connection.close()


def ap_posts(base_url: str, seconds: float, interval: float, first: int, records: int = 3) -> list[Answer]:
    """One AP posting every `interval` s, each POST on time whatever the previous one took (open loop)."""
    answers: list[Answer] = []
    threads = []
    start = time.monotonic()
    number = 0
    while (due := start + number * interval) < start + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        body = report(first + number, records)
        thread = threading.Thread(target=lambda b=body: answers.append(post(base_url, b)))
        thread.start()
        threads.append(thread)
        number += 1
    for thread in threads:
        thread.join()
    return sorted(answers, key=lambda answer: answer.sent_at)


def stored_rows(data_dir: Path) -> tuple[int, str]:
    with contextlib.closing(sqlite3.connect(data_dir / "presence.db")) as connection:
        count = connection.execute("SELECT count(*) FROM observation").fetchone()[0]
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return count, integrity


# --- 1. slow senders ----------------------------------------------------------------------------------------


@dataclass
class SlowResult:
    slow: int
    seconds: float
    baseline: list[Answer]
    attacked: list[Answer]
    connections: int = 0
    timed_out: int = 0  # connections the receiver answered 408 and closed
    exact: bool = False
    stored: int = 0


def slow_sender(base_url: str, stop: threading.Event, tally: Counter[str]) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                tally["connections"] += 1
                sock.sendall(
                    b"POST /ingest/engenius HTTP/1.1\r\nHost: r\r\nContent-Length: 100000\r\nSignature: "
                    + b"0" * 64
                    + b"\r\n\r\n"
                )
                sock.settimeout(1.0)
                while not stop.is_set():
                    sock.sendall(b" ")
                    try:
                        answer = sock.recv(4096)
                    except TimeoutError:
                        continue  # a second passed with no answer: the next byte
                    if answer.startswith(b"HTTP/1.1 408"):
                        tally["timed_out"] += 1
                    break  # answered or closed: open another
        except OSError:
            time.sleep(0.1)


def slow_scenario(slow: int, seconds: float, tmp: Path) -> SlowResult:
    data = tmp / "slow"
    env = {"PRESENCE_DATA_DIR": str(data), "PRESENCE_ENGENIUS_KEY": KEY, "PRESENCE_SQLITE_SYNCHRONOUS": "FULL"}
    with running_receiver(env, log=tmp / "slow.log") as base_url:
        baseline = ap_posts(base_url, BASELINE_S, AP_INTERVAL_S, first=0)
        stop, tally = threading.Event(), Counter[str]()
        senders = [threading.Thread(target=slow_sender, args=(base_url, stop, tally)) for _ in range(slow)]
        for sender in senders:
            sender.start()
        time.sleep(2.0)  # every slow connection open and trickling before the AP's first post
        try:
            attacked = ap_posts(base_url, seconds, AP_INTERVAL_S, first=100_000)
        finally:
            stop.set()
            for sender in senders:
                sender.join()
    result = SlowResult(slow, seconds, baseline, attacked, tally["connections"], tally["timed_out"])
    result.stored, integrity = stored_rows(data)
    acknowledged = sum(answer.stored for answer in baseline + attacked if answer.status == 200)
    result.exact = result.stored == acknowledged and integrity == "ok"
    return result


# --- 2. a disk that fills up ------------------------------------------------------------------------------------


@dataclass
class DiskResult:
    ran: bool
    why_not: str = ""
    phases: dict[str, Counter] = field(default_factory=dict)
    health: dict[str, Counter] = field(default_factory=dict)
    recovery_s: float | None = None
    health_recovery_s: float | None = None
    acknowledged: int = 0
    stored: int = 0
    integrity: str = ""
    ballast_mib: float = 0.0


def fill(path: Path) -> int:
    """Write `path` until the filesystem is full; the bytes written."""
    written = 0
    with open(path, "wb") as ballast:
        try:
            while True:
                written += ballast.write(b"\0" * (1024 * 1024))
                ballast.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError):
        with open(path, "ab") as ballast:  # the last partial block
            while ballast.write(b"\0" * 4096):
                ballast.flush()
    return path.stat().st_size


def disk_scenario(tmp: Path) -> DiskResult:
    mount = Path(tempfile.mkdtemp(prefix="presence-full-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        mount.rmdir()
        why = (mounted.stderr.strip() or "mount failed").splitlines()[0]
        return DiskResult(False, f"a tmpfs of its own could not be mounted ({why}; it needs root)")
    try:
        return _disk_scenario(mount, tmp)
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def _disk_scenario(mount: Path, tmp: Path) -> DiskResult:
    data = mount / "data"
    env = {"PRESENCE_DATA_DIR": str(data), "PRESENCE_ENGENIUS_KEY": KEY, "PRESENCE_SQLITE_SYNCHRONOUS": "FULL"}
    result = DiskResult(True)
    marks: dict[str, float] = {}
    health: list[tuple[float, int | None]] = []
    stop = threading.Event()
    with running_receiver(env, log=tmp / "disk.log") as base_url:

        def poll_health() -> None:
            while not stop.is_set():
                try:
                    host, port = base_url.removeprefix("http://").split(":")
                    status = http.client.HTTPConnection(host, int(port), timeout=5)
                    status.request("GET", "/healthz")
                    health.append((time.monotonic(), status.getresponse().status))
                    status.close()
                except OSError:
                    health.append((time.monotonic(), None))
                stop.wait(0.25)

        poller = threading.Thread(target=poll_health)
        poller.start()

        def disk_events() -> None:
            time.sleep(3.0)
            marks["full"] = time.monotonic()
            result.ballast_mib = fill(mount / "ballast") / 2**20
            marks["filled"] = time.monotonic()
            time.sleep(5.0)
            (mount / "ballast").unlink()
            marks["freed"] = time.monotonic()

        events = threading.Thread(target=disk_events)
        events.start()
        answers = ap_posts(base_url, 13.0, 0.05, first=0, records=50)
        events.join()
        stop.set()
        poller.join()
    full, filled, freed = marks["full"], marks["filled"], marks["freed"]

    def phase(moment: float) -> str:
        return "before" if moment < full else "filling" if moment < filled else "full" if moment < freed else "after"

    for answer in answers:
        result.phases.setdefault(phase(answer.sent_at), Counter())[answer.status] += 1
    for moment, status in health:
        result.health.setdefault(phase(moment), Counter())[status] += 1
    after = [answer for answer in answers if answer.sent_at >= freed and answer.status == 200]
    result.recovery_s = (after[0].sent_at + after[0].seconds - freed) if after else None
    healthy = [moment for moment, status in health if moment >= freed and status == 200]
    result.health_recovery_s = (healthy[0] - freed) if healthy else None
    result.acknowledged = sum(answer.stored for answer in answers if answer.status == 200)
    result.stored, result.integrity = stored_rows(data)
    return result


# --- 3. malformed chunked bodies ------------------------------------------------------------------------------


@dataclass
class ChunkedResult:
    statuses: Counter
    seconds: float
    log_bytes: int
    tracebacks: int


def chunked_scenario(tmp: Path, count: int = 1000) -> ChunkedResult:
    log = tmp / "chunked.log"
    env = {"PRESENCE_DATA_DIR": str(tmp / "chunked"), "PRESENCE_ENGENIUS_KEY": KEY}
    raw = (
        b"POST /ingest/engenius HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\nSignature: "
        + b"0" * 64
        + b"\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    )
    statuses: Counter[int | None] = Counter()
    with running_receiver(env, log=log) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        before = log.stat().st_size
        started = time.monotonic()
        for _ in range(count):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(raw)
                answer = b""
                with contextlib.suppress(OSError):
                    while chunk := sock.recv(65536):
                        answer += chunk
            statuses[int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None] += 1
        seconds = time.monotonic() - started
        time.sleep(0.5)  # the last log lines
        text = log.read_text()
        log_bytes = log.stat().st_size - before
    return ChunkedResult(statuses, seconds, log_bytes, text.count("Traceback"))


# --- 4. the dashboard's password -------------------------------------------------------------------------------


@dataclass
class DashboardResult:
    sessions: int
    seconds: float
    checks: list[float]  # when each password was checked (a "Wrong password" answer)
    refused: int  # tries answered "Too many wrong passwords" without a check
    cache_clears: int
    errors: list[str]

    def max_per_minute(self) -> int:
        return max((sum(1 for t in self.checks if start <= t < start + 60) for start in self.checks), default=0)


def dashboard_scenario(sessions: int, seconds: float, tmp: Path) -> DashboardResult:
    """`sessions` threads, each a session submitting wrong passwords through the login form's own callback
    (`auth._attempt`, with its real 1 s delay), emptying Streamlit's caches before every try.

    Threads call the form's callback, not AppTest: AppTest installs and removes the process's one Streamlit
    Runtime around each run, so sessions cannot run in parallel under it, and parallel is the point.
    """
    import streamlit as st

    from app.dashboard import auth
    from app.dashboard.passwords import Credentials

    creds = Credentials(shared="the right one, which nobody types")
    checks: list[float] = []
    tally: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()

    def session() -> None:
        try:
            while time.monotonic() - start < seconds:
                st.cache_resource.clear()  # as the clear_cache message does, from a client that never logged in
                st.cache_data.clear()
                outcome = auth._attempt(creds, "", "a guess")
                said = outcome[1] if outcome else "logged in"
                with lock:
                    tally["clears"] += 1
                    if said.startswith("**Wrong password"):
                        checks.append(time.monotonic() - start)
                    elif said.startswith("**Too many"):
                        tally["refused"] += 1
                if said.startswith("**Too many"):
                    time.sleep(0.5)  # a guesser told to wait tries again soon
        except Exception as exc:  # a benchmark reports what broke instead of dying with it
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return DashboardResult(sessions, seconds, sorted(checks), tally["refused"], tally["clears"], errors)


# --- the section ---------------------------------------------------------------------------------------------


def latency(answers: list[Answer], share: float) -> float:
    times = [answer.seconds * 1000 for answer in answers if answer.status == 200]
    return percentile(times, share) if times else float("nan")


def lost(answers: list[Answer]) -> int:
    return sum(1 for answer in answers if answer.status != 200)


def statuses(counter: Counter) -> str:
    return ", ".join(f"{n} × {status or 'no answer'}" for status, n in sorted(counter.items(), key=str)) or "none"


def section(results: dict[str, object], seconds: float) -> str:
    lines = [
        HEADING,
        "",
        f"`{COMMAND}`: a real `presence serve` (2 gunicorn workers, SQLite, synchronous=FULL) on loopback, attacked "
        "the ways issue 14 found holes in; every scenario bounded in time and size.",
        "",
    ]
    slow = results.get("slow")
    if isinstance(slow, SlowResult):
        ratio = latency(slow.attacked, 0.99) / latency(slow.baseline, 0.99)
        met = not lost(slow.attacked) and latency(slow.attacked, 0.99) <= 200
        lines += [
            "### Slow senders",
            "",
            f"{slow.slow} connections sending a forged POST's body at 1 byte/s for {slow.seconds:g} s, reconnecting "
            f"whenever the receiver closed one, while an AP posted a signed report every {AP_INTERVAL_S:g} s on a "
            f"fresh connection ({slow.connections} slow connections opened; {slow.timed_out} were answered 408 at "
            "their 15 s deadline and closed).",
            "",
            "| run | AP posts | lost | p50 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, answers in (("AP alone (10 s)", slow.baseline), (f"AP + {slow.slow} slow senders", slow.attacked)):
            lines.append(
                f"| {name} | {len(answers)} | {lost(answers)} | {latency(answers, 0.5):.0f} | "
                f"{latency(answers, 0.99):.0f} | {latency(answers, 1.0):.0f} |"
            )
        lines += [
            "",
            f"Target: 0 lost posts and p99 ≤ 200 ms under attack: **{'met' if met else 'not met'}** "
            f"(p99 × {ratio:.2f} of the AP alone). Stored rows equal the acknowledged records and the integrity "
            f"check passes: **{'yes' if slow.exact else 'no'}** ({slow.stored:,} rows).",
            "",
        ]  # fmt: skip
    disk = results.get("disk")
    if isinstance(disk, DiskResult):
        lines += ["### A disk that fills up", ""]
        if not disk.ran:
            lines += [f"Not run: {disk.why_not}.", ""]
        else:
            lost_records = disk.acknowledged - disk.stored
            lines += [
                f"The data directory on a {DISK_BYTES // 2**20} MiB tmpfs of its own; an AP posting 50-record reports "
                f"every 50 ms; after 3 s the filesystem was filled ({disk.ballast_mib:.0f} MiB of ballast), 5 s later "
                "the ballast was deleted, and the AP went on for 5 s.",
                "",
                "| phase | POST answers | `/healthz` |",
                "| --- | --- | --- |",
            ]
            for name in ("before", "filling", "full", "after"):
                lines.append(
                    f"| {name} | {statuses(disk.phases.get(name, Counter()))} | "
                    f"{statuses(disk.health.get(name, Counter()))} |"
                )
            recovery = f"{disk.recovery_s:.2f} s" if disk.recovery_s is not None else "**never**"
            health = f"{disk.health_recovery_s:.2f} s" if disk.health_recovery_s is not None else "**never**"
            lines += [
                "",
                f"Acknowledged records lost: **{lost_records}** ({disk.acknowledged:,} acknowledged, {disk.stored:,} "
                f"stored; integrity check: {disk.integrity}). First POST stored after the space was freed: {recovery}; "
                f"`/healthz` 200 again after {health} (target: within 5 s). While the disk was full the answers were "
                '503 ("the disk holding the database is full"), except POSTs whose rows still fitted in free pages.',
                "",
            ]
    chunked = results.get("chunked")
    if isinstance(chunked, ChunkedResult):
        fivexx = sum(n for status, n in chunked.statuses.items() if status and status >= 500)
        total = sum(chunked.statuses.values())
        lines += [
            "### Malformed chunked bodies",
            "",
            f"{total:,} POSTs with an invalid chunk size from one address, one connection each, in "
            f"{chunked.seconds:.1f} s: {statuses(chunked.statuses)}; **{fivexx} 5xx**, {chunked.tracebacks} "
            f"tracebacks, {chunked.log_bytes / total:.0f} bytes of log per POST (was 2.2 KB with a traceback each). "
            f"The first {chunked.statuses.get(400, 0)} are 400 and count as refusals (the limit of 120 counts in "
            "each of the 2 workers); the rest get 429 from the refusal limit.",
            "",
        ]
    dashboard = results.get("dashboard")
    if isinstance(dashboard, DashboardResult):
        lines += [
            "### Dashboard passwords",
            "",
            f"{dashboard.sessions} sessions of one address submitting wrong passwords as fast as they were answered "
            f"for {dashboard.seconds:g} s, each emptying Streamlit's caches before every try "
            f"({dashboard.cache_clears:,} clears): **{dashboard.max_per_minute()} passwords checked in the busiest "
            f'60 s** (target ≤ 5; {len(dashboard.checks)} in all), {dashboard.refused:,} tries answered "too many" '
            "without a check"
            + (f"; {len(dashboard.errors)} sessions failed: {dashboard.errors[0]}" if dashboard.errors else "")
            + ". Each session is a thread calling the login form's own callback (`app.dashboard.auth._attempt`, "
            "with its 1 s delay on a wrong password) in one process, as `presence dashboard` runs every session; "
            "not a browser (`tests/dashboard/test_auth.py` holds the form itself to the same under AppTest).",
            "",
        ]
    lines.append(f"Machine: {machine()}. Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{COMMAND}`.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the slow-sender attack's length")
    parser.add_argument("--slow", type=int, default=64, help="slow connections")
    parser.add_argument("--sessions", type=int, default=30, help="dashboard sessions guessing")
    parser.add_argument("--dashboard-seconds", type=float, default=65.0, help="how long the sessions guess")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios to run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    results: dict[str, object] = {}
    runners: dict[str, Callable[[Path], object]] = {
        "slow": lambda tmp: slow_scenario(args.slow, args.seconds, tmp),
        "disk": disk_scenario,
        "chunked": chunked_scenario,
        "dashboard": lambda tmp: dashboard_scenario(args.sessions, args.dashboard_seconds, tmp),
    }
    with tempfile.TemporaryDirectory(prefix="presence-attack-") as directory:
        for name in chosen:
            print(f"{COMMAND}: {name} ...", file=sys.stderr, flush=True)
            results[name] = runners[name](Path(directory))
    text = section(results, args.seconds)
    print(text)
    if not args.no_write:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
