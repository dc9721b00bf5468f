"""A simulated week fed in shuffled chunks, late and re-delivered, refreshed after each: the incremental visits are
exactly those of a rebuild and of the one-pass pipeline (`presence report --naive`), on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analytics import zones
from analytics.settings import RECURRENCE, SPAN
from analytics.visits import label_visits, visits
from simulator.backfill import backfill_database
from simulator.layout import default_shop
from store import db
from store.analytics_settings import analytics_settings_of
from store.frames import load_observations
from store.models import Observation
from store.observations import store_observations
from store.visits import rebuild_visits, refresh_visits
from store.visits.zone_models import load_models
from tests.conftest import make_settings
from tests.storage.builders import stored_visits

pytestmark = pytest.mark.slow

TIMEZONE = "Europe/Amsterdam"
BLOCK = timedelta(hours=6)  # observations are delivered in blocks of this much time, in random order
COMPARED = [
    "site",
    "device",
    "first_seen",
    "last_seen",
    "max_rssi",
    "associated",
    "randomized",
    "observations",
    "ssid",
    "manufacturer",
    "zone",
    "last_zone",
]


@pytest.fixture(scope="module")
def simulated_rows(tmp_path_factory) -> list[dict]:
    """Every observation row of a simulated week of the default shop (stored once, read back)."""
    directory = tmp_path_factory.mktemp("simulated-week")
    settings = make_settings(directory, PRESENCE_TIMEZONE=TIMEZONE, PRESENCE_SQLITE_SYNCHRONOUS="OFF")
    start = datetime(2026, 11, 2, tzinfo=ZoneInfo(TIMEZONE))
    backfill_database(settings, start, start + timedelta(days=7), seed=21, shop=default_shop(TIMEZONE))
    engine = db.make_engine(settings.database_url)
    table = Observation.__table__
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(select(table).order_by(table.c.id)).mappings()]
    engine.dispose()
    for row in rows:
        del row["id"]
    return rows


def one_pass(engine, settings) -> pd.DataFrame:
    """The visits `analytics` makes from every observation at once, zoned with the stored zone model."""
    analytics_settings = analytics_settings_of(settings)
    labelled = label_visits(load_observations(engine, None, None), analytics_settings.visit_gap)
    found = visits(labelled, settings.tz, analytics_settings)
    model = zones.ZoneModel(
        {site: stored.zones(settings.access_points) for site, stored in load_models(engine).items() if stored.fitted}
    )
    periods = zones.period_zones(labelled, model, analytics_settings)
    found = found.join(zones.visit_zones(periods, analytics_settings.visit_gap), on="visit")
    return found.sort_values(["site", "device", "first_seen"], ignore_index=True)


@pytest.mark.parametrize("dwell_estimate", [SPAN, RECURRENCE])
def test_shuffled_late_and_redelivered_chunks_give_the_visits_of_a_rebuild(simulated_rows, settings, dwell_estimate):
    settings = replace(settings, dwell_estimate=dwell_estimate)
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    rng = np.random.default_rng(5)
    blocks = pd.Series([row["last_seen"] for row in simulated_rows]).dt.floor(BLOCK)
    groups = [np.flatnonzero(blocks.to_numpy() == block) for block in np.unique(blocks.to_numpy())]
    order = rng.permutation(len(groups))
    absorbed = 0
    for step, block in enumerate(order):
        chunk = [simulated_rows[i] for i in groups[block]]
        if step >= 3 and step % 4 == 0:  # an AP re-delivers an earlier block
            chunk += [simulated_rows[i] for i in groups[order[step - 3]]]
        chunk = [chunk[i] for i in rng.permutation(len(chunk))]
        store_observations(engine, chunk)
        absorbed += refresh_visits(engine, settings).visits_absorbed
    incremental = stored_visits(engine)

    rebuild_visits(engine, settings, refit_zones=False)
    rebuilt = stored_visits(engine)
    expected = one_pass(engine, settings)
    engine.dispose()

    assert absorbed > 0  # late blocks bridged visits that had been stored apart
    pd.testing.assert_frame_equal(incremental, rebuilt)
    assert len(incremental) == len(expected)
    pd.testing.assert_frame_equal(
        incremental.loc[:, COMPARED].astype({"ssid": object, "manufacturer": object}),
        expected.loc[:, COMPARED].astype({"ssid": object, "manufacturer": object, "zone": object, "last_zone": object}),
        check_dtype=False,
    )
    # The stored dwell is the one-pass dwell to the microsecond: the estimate too, worked out again after every merge
    # from the heard intervals the visit keeps.
    assert incremental["dwell_seconds"].tolist() == expected["dwell"].dt.total_seconds().tolist()
    if dwell_estimate == SPAN:
        assert (
            incremental["dwell_seconds"] == (incremental["last_seen"] - incremental["first_seen"]).dt.total_seconds()
        ).all()
