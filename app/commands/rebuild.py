"""`presence rebuild`: recompute the stored visits from every observation (after changing analytics settings,
or to refit the zone models)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from config.settings import Settings
from store import db
from store.analytics_settings import analytics_settings_of
from store.visits import pruned_before, rebuild_visits


def register(subcommands) -> None:
    parser = subcommands.add_parser("rebuild", help="recompute the stored visits and zone models from the observations")
    parser.add_argument(
        "--keep-zone-models",
        action="store_true",
        help="keep each site's zone model instead of fitting it again on its latest week",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(engine)
        result = rebuild_visits(
            engine, settings, analytics_settings_of(settings), refit_zones=not args.keep_zone_models
        )
        horizon = pruned_before(engine)
    finally:
        engine.dispose()
    summary = asdict(result)
    summary["seconds"] = round(result.seconds, 2)
    summary["kept_before"] = horizon.isoformat() if horizon else None
    if horizon is not None:
        # After `presence prune` the observations of older visits are gone: those visits were kept, not rebuilt.
        print(
            f"presence rebuild: kept the {result.visits_kept} visits that start before {horizon:%Y-%m-%d %H:%M} UTC "
            "as they were (`presence prune` deleted their observations); rebuilt the visits from then on",
            file=sys.stderr,
        )
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
