"""The `presence` command line: parses arguments and hands over to the same functions everything else uses."""

from __future__ import annotations

import argparse
import importlib
import os
import select
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from config.settings import ConfigError

# Each command's name and the module under app.commands that registers and runs it, in the order `presence --help`
# lists them. A command's module is imported only when it is the one run (or for the full help), so `presence
# report` does not pay for the dashboard's charts, the receiver or the simulator at start-up (measured in
# docs/benchmarks.md, "Report"). tests/app/test_cli_startup.py holds this table to what the modules register.
COMMAND_MODULES = {
    "demo": "demo",
    "serve": "serve",
    "dashboard": "dashboard",
    "simulate": "simulate",
    "report": "report",
    "weekly-report": "weekly_report",
    "counts": "counts",
    "export": "export",
    "rebuild": "rebuild",
    "import": "import_",
    "status": "status",
    "sites": "sites",
    "aps": "aps",
    "quarantine": "quarantine",
    "prune": "prune",
    "erase": "erase",
}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"app.commands.{COMMAND_MODULES[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `presence` parser with every command, or with only the command `only` (the one about to run)."""
    parser = argparse.ArgumentParser(
        prog="presence",
        description="Wi-Fi presence analytics: receive AP webhooks, analyse visits, show a dashboard.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [only] if only else COMMAND_MODULES:
        command_module(name).register(subcommands)
    return parser


# A reader that went away (`presence export ... | head -1`) ends the command quietly with the status a shell
# reports for a process killed by SIGPIPE, as `seq 1000000 | head -1` does: under `set -o pipefail` it fails the
# pipeline exactly like any other Unix tool would, and nothing is printed.
CLOSED_PIPE_STATUS = 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            arguments = sys.argv[1:] if argv is None else list(argv)
            named = arguments[0] if arguments and arguments[0] in COMMAND_MODULES else None
            return _run(build_parser(named).parse_args(arguments))
        finally:
            sys.stdout.flush()  # here, not at exit, where a closed pipe can only print "Exception ignored"
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a socket's (a receiver gone away), not our reader's: that is an error worth its traceback
        _quiet_stdout()
        return CLOSED_PIPE_STATUS


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"presence: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from store.visits.shared import VisitsOutOfDate  # imported only once something failed: start-up stays light

        if not isinstance(exc, VisitsOutOfDate):
            raise
        # Visits stored with other settings (visit_gap, or the dwell measure after an upgrade): say what to do.
        print(f"presence {args.command}: {exc}", file=sys.stderr)
        return 2


def _stdout_closed() -> bool:
    """Whether nobody reads stdout any more: a pipe or socket whose reading end is closed polls as an error."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
    except (AttributeError, OSError, ValueError):  # no real stdout (replaced, or closed by us)
        return False
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit finds no closed pipe to complain of
    (the recipe of the `signal` module's documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
