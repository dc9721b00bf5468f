"""`presence export observations`: normalized rows to stdout as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from datetime import date, datetime
from typing import TextIO

from receiver import db
from receiver.config import Settings
from receiver.models import OBSERVATION_EXPORT_COLUMNS
from receiver.queries import iter_observations, local_day_bounds


def register(subcommands) -> None:
    parser = subcommands.add_parser("export", help="export stored data as CSV or JSON")
    what = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    observations = what.add_parser("observations", help="normalized observations, one row per AP report")
    add_window_arguments(observations)
    observations.set_defaults(run=run_observations)


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first site-local day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last site-local day (inclusive)")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")


def run_observations(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    start, end = local_day_bounds(args.first, args.last, settings.tz)
    write_rows(iter_observations(engine, start, end), OBSERVATION_EXPORT_COLUMNS, args.format, sys.stdout)
    return 0


def write_rows(rows: Iterable[dict], columns: Iterable[str], fmt: str, out: TextIO) -> None:
    """Stream rows as CSV (header first) or as one JSON array; times become ISO 8601 UTC."""
    columns = list(columns)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _plain(row.get(key)) for key in columns})
        return
    out.write("[")
    for index, row in enumerate(rows):
        out.write(",\n" if index else "\n")
        out.write(json.dumps({key: _plain(row.get(key)) for key in columns}))
    out.write("\n]\n")


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
