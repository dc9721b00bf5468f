"""`presence erase MAC [MAC...]`: the right to erasure. Deletes every observation and visit of the devices with
these MACs, and the quarantined posts that mention them."""

from __future__ import annotations

import argparse
import sys

from config.settings import Settings
from devices.macs import normalize_mac
from store import db, retention
from store.retention import ErasureResult
from store.visits import RefreshBusy


def register(subcommands) -> None:
    parser = subcommands.add_parser("erase", help="delete everything stored about the devices with these MACs")
    parser.add_argument("macs", nargs="+", type=_mac, metavar="MAC", help="client MAC, in any usual spelling")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted and delete nothing")
    parser.set_defaults(run=run)


def _mac(value: str) -> str:
    try:
        return normalize_mac(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        db.migrate(engine)
        result = retention.erase(engine, settings, args.macs, dry_run=args.dry_run)
    except RefreshBusy as exc:
        print(f"presence erase: {exc}; the visits were not erased yet, run it again", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    sys.stdout.write(erase_text(result))
    return 0


def erase_text(result: ErasureResult) -> str:
    verb = "would delete" if result.dry_run else "deleted"
    lines = ["dry run: nothing was deleted"] if result.dry_run else []
    for mac, observations in result.observations.items():
        visits = result.visits[mac]
        if observations or visits:
            lines.append(f"{mac}: {verb} {observations} observations and {visits} visits")
        else:
            lines.append(f"{mac}: nothing stored (looked for its pseudonym and its raw MAC)")
    if result.quarantined:
        ids = ", ".join(str(entry_id) for entry_id in result.quarantined)
        lines.append(f"{verb} {len(result.quarantined)} quarantined posts that mention these MACs (ids {ids})")
    else:
        lines.append("no quarantined post mentions these MACs")
    if not result.dry_run:
        lines.append("exports and backups made earlier are not touched: delete those copies too")
    return "\n".join(lines) + "\n"
