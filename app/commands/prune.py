"""`presence prune`: delete the raw observations older than the retention period, keeping the visits (and every
report made from them), and the quarantined posts past their time."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from config.settings import Settings
from store import db, retention
from store.retention import PruneResult
from store.visits import RefreshBusy, VisitsOutOfDate


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "prune", help="delete observations older than the retention period; the visits and reports stay"
    )
    parser.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="delete observations last seen more than DAYS days ago (default: PRESENCE_RETENTION_DAYS)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted and delete nothing")
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="then give the space back: SQLite's VACUUM rewrites the file and blocks the receiver while it runs",
    )
    parser.set_defaults(run=run)


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError("the retention period must be at least 1 day")
    return days


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    days = args.older_than or settings.retention_days
    if days is None:
        print(
            "presence prune: how long should observations be kept? Give --older-than DAYS or set "
            "PRESENCE_RETENTION_DAYS; nothing was deleted",
            file=sys.stderr,
        )
        return 2
    engine = db.make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        db.migrate(engine)
        result = retention.prune(
            engine,
            settings,
            timedelta(days=days),
            now=datetime.now(UTC),
            dry_run=args.dry_run,
            vacuum=args.vacuum and not args.dry_run,
        )
    except (VisitsOutOfDate, RefreshBusy) as exc:
        print(f"presence prune: {exc}; nothing was deleted", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    sys.stdout.write(prune_text(result, days, engine.dialect.name))
    return 0


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def prune_text(result: PruneResult, days: int, dialect: str) -> str:
    """What was deleted (or would be), for a person or a cron mail."""
    period = f"{days} day{'s' if days != 1 else ''}"
    span = (
        f" (first seen {_when(result.first_seen)}, last seen {_when(result.last_seen)})" if result.observations else ""
    )
    if result.dry_run:
        lines = [
            f"dry run: nothing was deleted. Observations older than {period} (last seen before "
            f"{_when(result.before)}):",
            f"  would delete {result.observations} observations{span}",
        ]
        if result.unmerged:
            lines.append(f"  {result.unmerged} of them are not in the visits yet: a real run merges them first")
        lines.append(
            f"  would delete {result.quarantined} quarantined posts received before {_when(result.quarantine_before)}"
        )
        return "\n".join(lines) + "\n"
    lines = [
        f"pruned observations older than {period} (last seen before {_when(result.before)}):",
        f"  merged {result.merged} observations into the visits first",
        f"  deleted {result.observations} observations{span}"
        + (f" in {result.transactions} transactions, the longest {result.longest_write:.2f} s" if span else ""),
    ]
    if result.unmerged:
        lines.append(
            f"  kept {result.unmerged} old observations that arrived after the merge; the next prune deletes them"
        )
    lines += [
        f"  deleted {result.quarantined} quarantined posts received before {_when(result.quarantine_before)}",
        f"  visits are kept: reports still cover every day; `presence rebuild` keeps the visits that start before "
        f"{_when(result.horizon)}",
    ]
    if result.vacuumed:
        lines.append("  vacuumed: the database file has been compacted")
    elif dialect == "sqlite" and result.observations:
        lines.append("  the database file keeps its size (the space is reused by new rows); --vacuum shrinks it")
    return "\n".join(lines) + "\n"
