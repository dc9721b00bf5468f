"""`presence quarantine list|show|replay`: what vendors sent that failed validation, and a second chance."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from config.settings import Settings
from receiver.errors import ReceiverError
from receiver.ingest import NOT_PARSED, Ingestor, decode
from receiver.quarantine import replay
from store import db, quarantine
from store.records import Normalizer


def register(subcommands) -> None:
    parser = subcommands.add_parser("quarantine", help="inspect or replay authenticated posts that failed validation")
    action = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    action.add_parser("list", help="one line per quarantined post, newest first").set_defaults(run=run_list)
    show = action.add_parser("show", help="the reason and the body of one post")
    show.add_argument("id", type=int)
    show.set_defaults(run=run_show)
    replay = action.add_parser("replay", help="validate again with today's parsers; store and release what passes")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=int, nargs="?")
    which.add_argument("--all", action="store_true", help="every quarantined post, oldest first")
    replay.set_defaults(run=run_replay)


def _engine(settings: Settings):
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    db.migrate(engine)
    return engine


def run_list(_args: argparse.Namespace) -> int:
    rows = quarantine.entries(_engine(Settings.from_env()))
    if not rows:
        print("quarantine is empty: every authenticated post was valid")
        return 0
    for row in rows:
        cut = " (truncated)" if row["truncated"] else ""
        print(
            f"{row['id']:>6}  {row['received_at']:%Y-%m-%d %H:%M:%S}Z  {row['vendor']:<8}  {row['status']}  "
            f"{row['body_bytes']:>8} B{cut}  {row['reason'][:100]}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    found = quarantine.entry(_engine(Settings.from_env()), args.id)
    if found is None:
        print(f"presence quarantine: no quarantined post {args.id}", file=sys.stderr)
        return 1
    print(f"id:       {found['id']}\nvendor:   {found['vendor']}\nreceived: {found['received_at'].isoformat()}")
    print(f"status:   {found['status']}\nreason:   {found['reason']}\nfield:    {found['field'] or '-'}")
    print(f"size:     {found['body_bytes']} bytes{' (truncated)' if found['truncated'] else ''}\n")
    document = decode(found["body"])
    print(found["body"].decode("utf-8", "replace") if document is NOT_PARSED else json.dumps(document, indent=2))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = _engine(settings)
    ingestor = Ingestor(engine, Normalizer(settings))
    ids = [row["id"] for row in reversed(quarantine.entries(engine))] if args.all else [args.id]
    failures = 0
    for entry_id in ids:
        try:
            result = replay(engine, ingestor, entry_id, datetime.now(UTC))
        except (ReceiverError, LookupError) as exc:
            failures += 1
            print(f"{entry_id}: still refused: {getattr(exc, 'message', exc)}")
            continue
        print(f"{entry_id}: stored {result.stored}, duplicates {result.duplicates}; released from quarantine")
    return 1 if failures else 0
