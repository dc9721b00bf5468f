"""`presence simulate`: a synthetic shop's Wi-Fi traffic as real vendor webhooks, to a receiver or the database."""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from config.settings import Settings
from store import db

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
    parser.set_defaults(run=run_simulate)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def run_simulate(args: argparse.Namespace) -> int:
    from simulator.backfill import backfill_database
    from simulator.database import DatabaseSink
    from simulator.layout import shop_from_settings
    from simulator.render import DEFAULT_NETWORK_ID, DEFAULT_OWNER_ID
    from simulator.run import run, simulate
    from simulator.send import DEFAULT_WORKERS, HttpSink, Sender
    from simulator.truth import write_csv

    settings = Settings.from_env()
    shop = shop_from_settings(settings)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    network_id = min(settings.engenius_keys, default=DEFAULT_NETWORK_ID)
    owner_id = min(settings.aerohive_secrets, default=DEFAULT_OWNER_ID)
    now = datetime.now(UTC)
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
