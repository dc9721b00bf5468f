"""`presence serve`: the webhook receiver under gunicorn."""

from __future__ import annotations

import argparse

from config.settings import Settings
from receiver.server import DEFAULT_WORKERS, serve


def register(subcommands) -> None:
    parser = subcommands.add_parser("serve", help="run the webhook receiver (gunicorn)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all interfaces)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn worker processes")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    serve(Settings.from_env(), host=args.host, port=args.port, workers=args.workers, quiet=args.quiet)
    return 0
