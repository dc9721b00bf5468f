"""`presence import FILE`: load captured payloads through the receiver's validation and dedupe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from config.settings import Settings
from receiver.imports import ImportSummary, captures, import_capture
from receiver.ingest import VENDORS, Ingestor
from receiver.plausibility import TimeWindow
from store import db
from store.records import Normalizer


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "import", help="import captured payloads (NDJSON, or a directory of JSON files)", description=__doc__
    )
    parser.add_argument("path", type=Path, help="an NDJSON file (one body per line) or a directory of .json files")
    parser.add_argument("--vendor", choices=VENDORS, help="vendor of every body (default: told from each body's shape)")
    parser.add_argument("--each", action="store_true", help="print the outcome of every line, not only refusals")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.path.exists():
        print(f"presence import: {args.path} does not exist", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    db.migrate(engine)
    ingestor = Ingestor(engine, Normalizer(settings))
    window = TimeWindow.from_settings(settings)  # its future bound only (see receiver.imports)
    summary = ImportSummary()
    progress = tqdm(captures(args.path), unit=" bodies", file=sys.stderr, disable=None)
    for capture in progress:
        outcome = import_capture(ingestor, capture, args.vendor, window)
        summary.outcomes.append(outcome)
        if outcome.refused or args.each:
            detail = (
                f"refused ({outcome.refused})"
                if outcome.refused
                else f"{outcome.vendor}: stored {outcome.stored}, duplicates {outcome.duplicates}"
                + (f", ignored {outcome.ignored} Bluetooth" if outcome.ignored else "")
            )
            progress.write(f"{outcome.source}: {detail}")
    vendors = ", ".join(f"{count} {vendor}" for vendor, count in sorted(summary.by_vendor().items())) or "none"
    print(
        f"{len(summary.outcomes)} bodies ({vendors} accepted): {summary.stored} observations stored, "
        f"{summary.duplicates} duplicates skipped, {len(summary.refused)} bodies refused"
    )
    return 1 if summary.refused else 0
