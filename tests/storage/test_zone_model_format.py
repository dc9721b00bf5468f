"""Stored zone models are tagged with the fingerprint they were fitted for: an older one is fitted again, not
misread (issue 15 changed the fingerprint from absolute RSSI to smoothed RSSI relative to the strongest AP)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from analytics import zones
from config.settings import AccessPoint
from store.models import Visit, ZoneModelRow
from store.visits import refresh_visits
from tests.storage.builders import AP1, AP2, at, post, stay, stored_visits

MODELS = ZoneModelRow.__table__


@pytest.fixture
def named(settings):
    return replace(
        settings,
        access_points={
            AP1: AccessPoint(AP1, "Front", "shop", 0.0, 0.0),
            AP2: AccessPoint(AP2, "Back", "shop", 10.0, 0.0),
        },
    )


def two_places(engine) -> None:
    near_one = [
        stay(f"a{i}", at(i), 20, ap=AP1, rssi=-50) + stay(f"a{i}", at(i), 20, ap=AP2, rssi=-85) for i in range(6)
    ]
    near_two = [
        stay(f"b{i}", at(i), 20, ap=AP2, rssi=-52) + stay(f"b{i}", at(i), 20, ap=AP1, rssi=-83) for i in range(6)
    ]
    post(engine, *near_one, *near_two)


def model_row(engine) -> dict:
    with engine.connect() as connection:
        return dict(connection.execute(select(MODELS.c.centers, MODELS.c.version)).mappings().one())


def test_a_model_is_stored_with_its_fingerprint_version(engine, named):
    two_places(engine)

    refresh_visits(engine, named)

    stored = json.loads(model_row(engine)["centers"])
    assert stored["fingerprint"] == zones.FINGERPRINT_VERSION == 2
    assert len(stored["levels"]) == 2


@pytest.mark.parametrize(
    "old_centers",
    [
        json.dumps([[-50.0, -85.0], [-83.0, -52.0]]),  # a k-means model from before issue 15: centres in dBm
        json.dumps({"fingerprint": 1, "levels": [0.0, 0.0]}),  # any other fingerprint version
    ],
    ids=["kmeans-centres", "other-version"],
)
def test_a_model_of_another_fingerprint_is_fitted_again_and_every_visit_rezoned(engine, named, old_centers):
    two_places(engine)
    refresh_visits(engine, named)
    with engine.begin() as connection:
        connection.execute(update(MODELS).values(centers=old_centers))
        connection.execute(update(Visit.__table__).values(zone=None))  # so the test sees the visits zoned again

    again = refresh_visits(engine, named)

    row = model_row(engine)
    frame = stored_visits(engine).set_index("device")
    assert (again.observations, again.fitted, again.zoned) == (0, ["shop"], 12)
    assert row["version"] == 2
    assert json.loads(row["centers"])["fingerprint"] == zones.FINGERPRINT_VERSION
    assert set(frame.loc[[f"a{i}" for i in range(6)], "zone"]) == {"Front"}
    assert set(frame.loc[[f"b{i}" for i in range(6)], "zone"]) == {"Back"}
