"""The `presence` command line: parses arguments and hands over to the same functions everything else uses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.commands import (
    counts,
    dashboard,
    demo,
    erase,
    export,
    import_,
    prune,
    quarantine,
    rebuild,
    report,
    serve,
    simulate,
    status,
)
from config.settings import ConfigError

COMMANDS = (
    demo,
    serve,
    dashboard,
    simulate,
    report,
    counts,
    export,
    rebuild,
    import_,
    status,
    quarantine,
    prune,
    erase,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presence",
        description="Wi-Fi presence analytics: receive AP webhooks, analyse visits, show a dashboard.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"presence: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
