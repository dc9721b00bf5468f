"""One module per `presence` subcommand, each with `register(subparsers)` that sets `run` as the default."""
