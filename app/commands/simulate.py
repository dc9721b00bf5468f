"""`presence simulate`: a synthetic shop's Wi-Fi traffic as real vendor webhooks, to a receiver or the database.

`--sites N` simulates a chain of N shops instead (simulator.chain). An observation's site is its AP's site in the
config when it is stored, so the chain's sites and APs are written first to the data directory's presence.toml,
the file every command (and a receiver started afterwards) reads by default; an operator's own file there is
never overwritten, only one an earlier `--sites` run wrote.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from config.settings import CONFIG_FILE, ConfigError, Settings, with_data_dir_defaults
from store import db

if TYPE_CHECKING:
    from simulator.run import Sink, Summary

DEFAULT_DAYS = 7.0
# simulator.run.VENDOR_CHOICES, repeated so that `presence --help` and the other commands never import numpy.
VENDOR_CHOICES = ("engenius", "aerohive", "meraki", "mixed")


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "simulate",
        help="simulate a shop's Wi-Fi traffic, into a receiver over HTTP or straight into the database",
        description="Backfill --days of history ending now (default 7), or run --live until Ctrl-C. Without "
        "--target, reports go straight into the configured database through the receiver's own code path.",
    )
    parser.add_argument("--target", metavar="URL", help="receiver base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--vendor",
        choices=VENDOR_CHOICES,
        default="mixed",
        help="report format; mixed (the default) gives the APs EnGenius, Aerohive, Meraki in turn, in config order",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--days", type=_positive_float, help=f"days of history ending now (default {DEFAULT_DAYS:g})")
    when.add_argument("--live", action="store_true", help="send each minute's reports as it ends, until Ctrl-C")
    parser.add_argument("--speed", type=_positive_float, default=1.0, help="with --live: run N times faster")
    parser.add_argument("--seed", type=int, help="make the run reproducible (default: random, and printed)")
    parser.add_argument("--truth", metavar="FILE", help="write the true visits as CSV to FILE")
    parser.add_argument("--workers", type=int, help="concurrent POSTs to --target (default 4)")
    parser.add_argument(
        "--sites",
        type=_positive_int,
        metavar="N",
        help="a chain of N default shops, each its own site, seed (--seed + site number), AP MACs and, for a share "
        "of them, time zone; writes their sites and APs to the data directory's presence.toml first",
    )
    parser.add_argument(
        "--floor",
        choices=FLOORS,
        default="default",
        help="harsh: a floor like a real one (phones that differ by 6 dB, shadowing per place and AP, fading, half "
        "the visitors spending a third of their visit in a second zone), as the accuracy tests' harsh floors; "
        "default: the simulator's own, easier floor",
    )
    parser.set_defaults(run=run_simulate)


FLOORS = ("default", "harsh")


def _on_floor(shop, floor: str):
    """The shop on the chosen floor (simulator.conditions): the same APs and places, other radio conditions."""
    from simulator.conditions import HARSH

    return replace(shop, conditions=HARSH) if floor == "harsh" else shop


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def run_simulate(args: argparse.Namespace) -> int:
    from simulator.backfill import backfill_database
    from simulator.database import DatabaseSink
    from simulator.layout import shop_from_settings
    from simulator.render import DEFAULT_NETWORK_ID, DEFAULT_OWNER_ID
    from simulator.run import run, simulate
    from simulator.send import DEFAULT_WORKERS, HttpSink, Sender
    from simulator.truth import write_csv

    settings = Settings.from_env()
    if args.sites is not None:
        return run_chain(args, settings)
    shop = _on_floor(shop_from_settings(settings), args.floor)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    network_id = min(settings.engenius_keys, default=DEFAULT_NETWORK_ID)
    owner_id = min(settings.aerohive_secrets, default=DEFAULT_OWNER_ID)
    now = _now()
    end = None if args.live else now
    start = now if args.live else now - timedelta(days=args.days or DEFAULT_DAYS)
    simulation = simulate(shop, start, end, seed, vendor=args.vendor, network_id=network_id, owner_id=owner_id)
    into = args.target or make_url(settings.database_url).render_as_string(hide_password=True)
    until = "until Ctrl-C" if simulation.end is None else f"to {simulation.end:%Y-%m-%d %H:%M} UTC"
    print(
        f"simulating {len(shop.aps)} APs {'live ' if args.live else ''}from {simulation.start:%Y-%m-%d %H:%M} UTC "
        f"{until}, seed {seed}, into {into}",
        file=sys.stderr,
    )

    if args.target:
        sender = Sender(args.target, settings)
        sender.check(set(simulation.vendors), network_id, owner_id)
        summary = run(simulation, HttpSink(sender, args.workers or DEFAULT_WORKERS), live=args.live, speed=args.speed)
    elif args.live:
        engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
        db.migrate(engine)
        # One transaction per payload, as the receiver stores a POST.
        summary = run(simulation, DatabaseSink(settings, engine, batch_rows=0), live=True, speed=args.speed)
        engine.dispose()
    else:
        assert simulation.end is not None
        simulation, summary = backfill_database(
            settings, simulation.start, simulation.end, seed, shop=shop, vendor=args.vendor
        )
    if args.truth:
        write_csv(simulation.truth(), args.truth)
    print(summary.text())
    return 1 if summary.failed else 0


def run_chain(args: argparse.Namespace, settings: Settings) -> int:
    """`presence simulate --sites N`: the chain's config written and read back, then its traffic, backfilled into
    the database (each site its own shop), or sent to --target, or live: every site's reports of each minute."""
    from simulator.backfill import backfill_shops
    from simulator.chain import chain, config_toml, simulate_chain
    from simulator.database import DatabaseSink
    from simulator.render import DEFAULT_NETWORK_ID, DEFAULT_OWNER_ID
    from simulator.run import run
    from simulator.send import DEFAULT_WORKERS, HttpSink, Sender

    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    sites = chain(args.sites, seed, settings.site_timezone)
    sites = [replace(member, shop=_on_floor(member.shop, args.floor)) for member in sites]
    path, problem = chain_config_path(settings)
    if problem:
        print(f"presence simulate: {problem}", file=sys.stderr)
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_toml(sites))
    settings = Settings.from_env()  # now with the chain's sites and APs
    misfiled = [ap.mac for member in sites for ap in member.shop.aps if settings.site_of(ap.mac) != member.name]
    if misfiled:
        raise ConfigError(f"{path} was written, but the settings do not file AP {misfiled[0]} under its site")

    network_id = min(settings.engenius_keys, default=DEFAULT_NETWORK_ID)
    owner_id = min(settings.aerohive_secrets, default=DEFAULT_OWNER_ID)
    now = _now()
    end = None if args.live else now
    start = now if args.live else now - timedelta(days=args.days or DEFAULT_DAYS)
    into = args.target or make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"simulating a chain of {len(sites)} sites, their sites and APs written to {path}:", file=sys.stderr)
    for member in sites:
        print(
            f"  {member.name}  {member.timezone} ({member.group}), seed {member.seed}, APs "
            f"{member.shop.aps[0].mac} to {member.shop.aps[-1].mac}",
            file=sys.stderr,
        )
    if args.target:
        print(
            f"note: the receiver at {args.target} files each AP under its site only if it was (re)started with "
            f"{path} (the same data directory, or PRESENCE_CONFIG={path})",
            file=sys.stderr,
        )
    until = "until Ctrl-C" if end is None else f"to {end:%Y-%m-%d %H:%M} UTC"
    live = "live " if args.live else ""
    print(f"simulating {live}from {start:%Y-%m-%d %H:%M} UTC {until}, seed {seed}, into {into}", file=sys.stderr)

    if args.target or args.live:
        # Every site's reports of each minute together: a ChainSimulation stands in for a Simulation in `run`.
        merged = simulate_chain(sites, start, end, vendor=args.vendor, network_id=network_id, owner_id=owner_id)
        engine = None
        if args.target:
            sender = Sender(args.target, settings)
            sender.check(set(merged.vendors), network_id, owner_id)
            sink: Sink = HttpSink(sender, args.workers or DEFAULT_WORKERS)
        else:
            engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
            db.migrate(engine)
            sink = DatabaseSink(settings, engine, batch_rows=0)  # one transaction per payload, as a POST's
        summary = run(merged, sink, live=args.live, speed=args.speed)  # type: ignore[arg-type]
        if engine is not None:
            engine.dispose()
        simulations = merged.simulations
    else:
        assert end is not None
        results = backfill_shops(
            settings, start, end, [(member.shop, member.seed) for member in sites], vendor=args.vendor
        )
        simulations = [simulation for simulation, _ in results]
        for member, (_, part) in zip(sites, results, strict=True):
            print(
                f"  {member.name}: {part.stored} observations stored, {part.visits.get('visitor', 0)} visitors",
                file=sys.stderr,
            )
        summary = total([part for _, part in results])
    if args.truth:
        from simulator.truth import write_csv

        for member, simulation in zip(sites, simulations, strict=True):
            truth = truth_path(args.truth, member.name)
            write_csv(simulation.truth(), truth)
            print(f"true visits of {member.name} written to {truth}", file=sys.stderr)
    print(summary.text())
    return 1 if summary.failed else 0


def chain_config_path(settings: Settings) -> tuple[Path, str | None]:
    """Where the chain's config goes (the data directory's presence.toml), and why it may not, or None.

    The file must be absent or one an earlier `--sites` run wrote, and it must be the file every command reads:
    with PRESENCE_CONFIG naming another, the chain's APs would be filed under the default site.
    """
    from simulator.chain import CONFIG_MARK, is_chain_config

    path = settings.data_dir / CONFIG_FILE
    named = with_data_dir_defaults(os.environ, settings.data_dir).get("PRESENCE_CONFIG")
    if named and Path(named).expanduser().resolve() != path.resolve():
        return path, (
            f"PRESENCE_CONFIG names {named}, so the chain's sites and APs, which --sites writes to {path}, would not "
            "be read: unset PRESENCE_CONFIG (in the environment or the data directory's .env) and run it again"
        )
    if path.exists() and not is_chain_config(path.read_text(errors="replace")):
        return path, (
            f"{path} exists and was not written by presence simulate --sites (its first line is not "
            f"{CONFIG_MARK!r}); it is never overwritten: move it away (or use another PRESENCE_DATA_DIR) and run "
            "it again"
        )
    return path, None


def total(parts: list[Summary]) -> Summary:
    """The sites' summaries added up (their seconds are the whole backfill's, so the same in each)."""
    from simulator.run import Summary

    visits: dict[str, int] = {}
    for part in parts:
        for kind, count in part.visits.items():
            visits[kind] = visits.get(kind, 0) + count
    return Summary(
        payloads=sum(part.payloads for part in parts),
        observations=sum(part.observations for part in parts),
        stored=sum(part.stored for part in parts),
        duplicates=sum(part.duplicates for part in parts),
        failed=sum(part.failed for part in parts),
        visits=visits,
        seconds=max(part.seconds for part in parts),
        failures=[failure for part in parts for failure in part.failures],
    )


def truth_path(template: str, site: str) -> Path:
    """The --truth FILE of one site: `truth.csv` becomes `truth-shop-001.csv`."""
    path = Path(template)
    return path.with_name(f"{path.stem}-{site.lower().replace(' ', '-')}{path.suffix}")
