"""`presence demo`: the whole product on one machine, with a simulated shop feeding it.

On first run four weeks of history are backfilled into the embedded SQLite database so weekly trends are
there at once; on later runs only the gap since the newest observation is filled, so history is kept. Then
the receiver (gunicorn), the dashboard (Streamlit) and a live simulator posting real signed webhooks to the
receiver run side by side until Ctrl-C, which stops all of them.

What the demo sets up is written where every command looks by default (config.settings.with_data_dir_defaults):
its throw-away keys and the site time zone in data/.env, the simulated shop's APs in data/presence.toml. So
`presence report` or `presence status` in the same checkout, with nothing exported, answers as the dashboard does.
Values set in the environment win and are not written; files already there are added to, never overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.settings import CONFIG_FILE, DOTENV_FILE, PROJECT_ROOT, Settings, read_dotenv
from store import db
from store.queries import observation_summary

# Candidate site time zones for a first run, tried in order: the demo's shop should be open while someone watches.
DEMO_TIMEZONES = (
    "Europe/London", "America/New_York", "America/Los_Angeles", "Pacific/Auckland", "Asia/Tokyo",
    "Asia/Singapore", "Asia/Kolkata", "Asia/Dubai", "Europe/Berlin",
)  # fmt: skip
HISTORY_DAYS = 28  # four weeks: this week, last week and the 4-week average all have data
DEMO_SEED = 20261123  # one seed for backfill and live, so a later gap-fill repeats (and dedupes) what live sent
LEGACY_KEYS_FILE = "demo.env"  # where earlier versions kept the demo's keys: taken over into data/.env
DEMO_KEYS = ("PRESENCE_ENGENIUS_KEY", "PRESENCE_AEROHIVE_SECRET", "PRESENCE_MERAKI_SECRET", "PRESENCE_MERAKI_VALIDATOR")
SAMPLE_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "engenius_sample.json"
SAMPLE_FILE = "engenius_sample.json"  # copied into the data directory for the banner's curl line
PRESENCE = str(Path(sys.executable).with_name("presence"))
PR_SET_PDEATHSIG = 1


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "demo", help="backfill a simulated shop, then run receiver, dashboard and live traffic"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address for the receiver and dashboard (default: loopback)"
    )
    parser.add_argument("--port", type=int, default=8000, help="receiver port (default 8000)")
    parser.add_argument("--dashboard-port", type=int, default=8501, help="dashboard port (default 8501)")
    parser.add_argument("--days", type=int, default=HISTORY_DAYS, help=f"history on first run (default {HISTORY_DAYS})")
    parser.add_argument("--speed", type=float, default=1.0, help="live traffic N times faster than real time")
    parser.set_defaults(run=run)


def demo_environment(data_dir: Path) -> dict[str, str]:
    """The environment every demo process shares: the user's settings, plus demo keys where none are set.

    Generated keys and the chosen time zone are added to data/.env, the default shop's APs written to
    data/presence.toml (unless PRESENCE_CONFIG names a file, or it exists): every command reads both by default,
    so a re-run, any real AP pointed at the demo, and `presence report` all agree with the dashboard.
    """
    env = dict(os.environ)
    env["PRESENCE_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    dotenv = data_dir / DOTENV_FILE
    saved = read_dotenv(dotenv) if dotenv.is_file() else {}
    legacy = data_dir / LEGACY_KEYS_FILE
    earlier = read_dotenv(legacy) if legacy.is_file() else {}
    added: dict[str, str] = {}
    for name in DEMO_KEYS:
        if not env.get(name) and not saved.get(name):
            added[name] = earlier.get(name) or secrets.token_urlsafe(18)
    if not env.get("PRESENCE_TIMEZONE") and not saved.get("PRESENCE_TIMEZONE"):
        # An earlier demo's choice is kept: the stored history's opening hours were simulated in it.
        added["PRESENCE_TIMEZONE"] = earlier.get("PRESENCE_TIMEZONE") or open_timezone(datetime.now(UTC))
    if added:
        header = (
            "" if dotenv.exists() else "# Written by presence demo: every command's defaults; the environment wins.\n"
        )
        with dotenv.open("a") as handle:
            handle.write(header + "".join(f"{name}={value}\n" for name, value in added.items()))
        dotenv.chmod(0o600)
    config = data_dir / CONFIG_FILE
    if not env.get("PRESENCE_CONFIG") and not saved.get("PRESENCE_CONFIG") and not config.exists():
        from simulator.layout import default_shop_toml

        # The simulated shop's APs with names and floor positions, so zones say "Entrance", not a MAC.
        config.write_text(default_shop_toml())
    return env


def open_timezone(now: datetime) -> str:
    """A site time zone in which the simulated shop is open at `now`, so the first demo has a live shop.

    The machine's own zone wins when the shop is open there; the choice is saved in data/.env, so the
    history's hours stay consistent on every later run.
    """
    from simulator.people import OPENING_HOURS

    local = datetime.now().astimezone().tzinfo
    local_name = getattr(local, "key", None) or os.environ.get("TZ")
    for name in ([local_name] if local_name else []) + list(DEMO_TIMEZONES):
        try:
            moment = now.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
        opens, closes = OPENING_HOURS[moment.weekday()]
        if opens + 1 <= moment.hour < closes - 1:
            return name
    return "UTC"


def fill_history(settings: Settings, days: int, now: datetime) -> str:
    """Backfill `days` of history on an empty database, or the gap since the newest observation otherwise."""
    from simulator.backfill import backfill_database  # numpy and friends: only when there is work

    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    newest = observation_summary(engine)["newest_last_seen"]
    engine.dispose()
    if newest is not None and now - newest < timedelta(minutes=5):
        return "history is up to date"
    # A simulated day comes out the same in any window that contains it, so restarting at the newest
    # observation's midnight only re-sends what is there (skipped as duplicates) and fills the gap after it.
    start = now - timedelta(days=days) if newest is None else newest.replace(hour=0, minute=0, second=0, microsecond=0)
    began = time.perf_counter()
    _, summary = backfill_database(settings, start, now, DEMO_SEED)
    return (
        f"backfilled {start:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC in {time.perf_counter() - began:.0f} s: "
        f"{summary.text()}"
    )


def port_in_use(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on now (in use, not allowed), or None when it can.

    Bound with SO_REUSEADDR, as gunicorn and Streamlit bind: a port only lingering in TIME_WAIT is free to them.
    """
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"{host} is not an address of this machine ({exc.strerror})"
    with socket.socket(family, kind, protocol) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use (another program, or a demo still running)"
            return f"cannot listen on {host} port {port}: {exc.strerror}"
    return None


def port_problems(host: str, port: int, dashboard_port: int) -> list[str]:
    """Each port the demo cannot use, in words with what to do instead; empty when both are free."""
    if port == dashboard_port:
        return [f"the receiver and the dashboard cannot share port {port}: make demo PORT=8000 DASHBOARD_PORT=8501"]
    problems = []
    for name, number, variable, option in (
        ("receiver", port, "PORT", "--port"),
        ("dashboard", dashboard_port, "DASHBOARD_PORT", "--dashboard-port"),
    ):
        problem = port_in_use(host, number)
        if problem:
            other = next(n for n in range(number + 1, number + 100) if n not in (port, dashboard_port))
            problems.append(
                f"the {name}'s {problem}. Stop what uses it, or choose another port: "
                f"make demo {variable}={other}  (or presence demo {option} {other})"
            )
    return problems


def sample_post(settings: Settings, receiver_url: str) -> str | None:
    """A ready `curl` line posting the EnGenius sample, signed as receiver/auth.py verifies (HMAC-SHA256, hex).

    The sample is copied into the data directory so the line works from any directory; None without the sample.
    """
    if not SAMPLE_FIXTURE.is_file():
        return None
    body = SAMPLE_FIXTURE.read_bytes()
    key = settings.engenius_key_for(str(json.loads(body).get("network_id")))
    if not key:
        return None
    sample = settings.data_dir / SAMPLE_FILE
    sample.write_bytes(body)
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return (
        f"curl -sS {receiver_url}/ingest/engenius -H 'Content-Type: application/json' "
        f"-H 'Signature: {signature}' --data-binary @{sample}"
    )


def key_lines(settings: Settings) -> str:
    """The keys the demo's receiver checks: the demo's own (throw-away) values, or where the user set them."""
    values = {
        "PRESENCE_ENGENIUS_KEY": settings.engenius_key,
        "PRESENCE_AEROHIVE_SECRET": settings.aerohive_secret,
        "PRESENCE_MERAKI_SECRET": settings.meraki_secret,
        "PRESENCE_MERAKI_VALIDATOR": settings.meraki_validator,
    }
    return "\n".join(
        f"    {name}=" + ("(set in your environment)" if os.environ.get(name) else str(value or ""))
        for name, value in values.items()
    )


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it if the demo dies, so nothing is ever orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    output = log.open("ab")
    return subprocess.Popen(
        command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
    )


def wait_for(url: str, process: subprocess.Popen, name: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            last = f": {lines[-1].strip()}" if lines else ""
            raise RuntimeError(f"the {name} exited with status {process.returncode}{last} (its log: {log})")
        with contextlib.suppress(URLError, OSError), urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
            if answer.status == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"the {name} did not answer {url} within {timeout:.0f} s")


def stop_all(processes: dict[str, subprocess.Popen], grace: float = 15.0) -> None:
    """SIGTERM every child's process group (gunicorn's and Streamlit's workers included), then SIGKILL stragglers."""
    for process in processes.values():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(args: argparse.Namespace) -> int:
    problems = port_problems(args.host, args.port, args.dashboard_port)
    if problems:  # before the backfill, which can take a minute
        for problem in problems:
            print(f"presence demo: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    env = demo_environment(settings.data_dir)
    settings = Settings.from_env(env)
    print(f"presence demo: data in {settings.data_dir} ({settings.database_url})", flush=True)
    print(f"presence demo: site time zone {settings.timezone} (set PRESENCE_TIMEZONE to choose another)", flush=True)
    print(f"presence demo: {fill_history(settings, args.days, datetime.now(UTC))}", flush=True)

    receiver_url = f"http://{args.host}:{args.port}"
    dashboard_url = f"http://{args.host}:{args.dashboard_port}"
    logs = settings.data_dir
    processes: dict[str, subprocess.Popen] = {}
    stopping = False
    failed = False

    def request_stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        processes["receiver"] = start(
            [PRESENCE, "serve", "--host", args.host, "--port", str(args.port), "--workers", "2"],
            env,
            logs / "receiver.log",
        )
        processes["dashboard"] = start(
            [PRESENCE, "dashboard", "--host", args.host, "--port", str(args.dashboard_port)],
            env,
            logs / "dashboard.log",
        )
        wait_for(f"{receiver_url}/healthz", processes["receiver"], "receiver", logs / "receiver.log")
        processes["simulator"] = start(
            [
                PRESENCE,
                "simulate",
                "--live",
                "--target",
                receiver_url,
                "--seed",
                str(DEMO_SEED),
                "--speed",
                str(args.speed),
            ],
            env,
            logs / "simulator.log",
        )
        wait_for(
            f"{dashboard_url}/_stcore/health", processes["dashboard"], "dashboard", logs / "dashboard.log", timeout=120
        )
        curl = sample_post(settings, receiver_url)
        sample = (
            f"""
  Post a signed sample (EnGenius, one AP) to the receiver:
    {curl}
  Its AP then counts as silent once the sample stops: presence aps retire AC:86:74:82:9A:30 quiets it.
"""
            if curl
            else ""
        )
        print(
            f"""
  Dashboard:  {dashboard_url}
  Receiver:   {receiver_url}   (live simulated traffic is being posted to it now)

  To point real access points at this receiver, use a URL they can reach (run with --host 0.0.0.0):
    EnGenius Cloud   Server Location {receiver_url}/ingest/engenius  Key: PRESENCE_ENGENIUS_KEY
    Aerohive         Post URL {receiver_url}/ingest/aerohive        Access Token: PRESENCE_AEROHIVE_SECRET
    Meraki           Post URL {receiver_url}/ingest/meraki          Secret/Validator: PRESENCE_MERAKI_*
  The demo's own keys (throw-away; the environment's win), kept with the time zone in {settings.data_dir / DOTENV_FILE}:
{key_lines(settings)}
{sample}
  Every command reads {settings.data_dir / DOTENV_FILE} and {settings.data_dir / CONFIG_FILE} by default, so
  presence report and presence status answer as the dashboard does. Logs are in {settings.data_dir}.
  Press Ctrl-C to stop everything.
""",
            flush=True,
        )
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"presence demo: the {name} stopped (status {process.returncode}); see {logs / (name + '.log')}"
                    )
                    stopping = failed = True
            time.sleep(0.5)
    except RuntimeError as exc:
        print(f"presence demo: {exc}", file=sys.stderr)
        return 1
    finally:
        print("presence demo: stopping receiver, dashboard and simulator...", flush=True)
        stop_all(processes)
    print("presence demo: stopped; history is kept for next time", flush=True)
    return 1 if failed else 0
