"""store.visits: incremental visits on both backends, with late, bridging and re-delivered data."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text, update

from analytics.settings import AnalyticsSettings
from analytics.visits import label_visits, visits
from config.settings import AccessPoint
from store import db
from store.frames import load_observations, load_visits
from store.models import VisitRefresh, ZoneModelRow
from store.visits import (
    RefreshBusy,
    VisitsOutOfDate,
    rebuild_visits,
    refresh_visits,
    visits_watermark,
)
from store.visits.states import decode_heard, encode_heard
from tests.conftest import fresh_postgres_schema, make_settings
from tests.storage.builders import AP1, AP2, at, post, row, stay, stored_visits

REFRESH = VisitRefresh.__table__


def spans(engine) -> list[tuple[str, datetime, datetime, int]]:
    frame = stored_visits(engine)
    return [
        (r.device, r.first_seen.to_pydatetime(), r.last_seen.to_pydatetime(), int(r.observations))
        for r in frame.itertuples()
    ]


def test_first_refresh_makes_visits_and_a_second_finds_nothing_new(engine, settings):
    post(engine, stay("d1", at(0), 30, step=5), stay("d2", at(0), 2))

    first = refresh_visits(engine, settings)
    again = refresh_visits(engine, settings)

    assert spans(engine) == [("d1", at(0), at(30), 7), ("d2", at(0), at(2), 3)]
    assert (first.observations, first.visits_written) == (10, 2)
    assert (again.observations, again.visits_written) == (0, 0)
    assert visits_watermark(engine) == first.watermark == again.watermark


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        (at(12), [("d1", at(0), at(30), 8)]),  # inside the visit
        (at(45), [("d1", at(0), at(45), 8)]),  # exactly visit_gap after it: the visit continues
        (at(-15), [("d1", at(-15), at(30), 8)]),  # exactly visit_gap before it
        (at(45.5), [("d1", at(0), at(30), 7), ("d1", at(45.5), at(45.5), 1)]),  # beyond it: a visit of its own
    ],
    ids=["inside", "gap-after", "gap-before", "beyond-gap"],
)
def test_a_late_observation_joins_the_visit_it_falls_in_or_near(engine, settings, late, expected):
    post(engine, stay("d1", at(0), 30, step=5))
    refresh_visits(engine, settings)

    post(engine, row("d1", late, ap=AP2))
    refresh_visits(engine, settings)

    assert spans(engine) == expected


def test_a_late_observation_that_bridges_two_visits_merges_them_and_relinks_the_next(engine, settings):
    post(engine, stay("d1", at(0), 10), stay("d1", at(30), 10), stay("d1", at(0, day=1), 10))
    refresh_visits(engine, settings)
    assert [r.previous_first_seen for r in stored_visits(engine).itertuples()] == [
        pd.NaT,
        pd.Timestamp(at(0)),
        pd.Timestamp(at(30)),
    ]

    post(engine, row("d1", at(20)))
    result = refresh_visits(engine, settings)

    assert spans(engine) == [("d1", at(0), at(40), 23), ("d1", at(0, day=1), at(10, day=1), 11)]
    assert [r.previous_first_seen for r in stored_visits(engine).itertuples()] == [pd.NaT, pd.Timestamp(at(0))]
    assert (result.visits_written, result.visits_absorbed) == (1, 1)


def test_a_visit_inserted_between_two_relinks_both(engine, settings):
    post(engine, stay("d1", at(0), 5), stay("d1", at(0, day=2), 5))
    refresh_visits(engine, settings)

    post(engine, stay("d1", at(0, day=1), 5))
    refresh_visits(engine, settings)

    assert [r.previous_first_seen for r in stored_visits(engine).itertuples()] == [
        pd.NaT,
        pd.Timestamp(at(0)),
        pd.Timestamp(at(0, day=1)),
    ]


def test_redelivered_observations_change_nothing(engine, settings):
    rows = stay("d1", at(0), 20, step=2, ssid="Guest")
    post(engine, rows)
    refresh_visits(engine, settings)
    before = stored_visits(engine)

    post(engine, rows[::-1])
    result = refresh_visits(engine, settings)

    assert result.observations == 0
    pd.testing.assert_frame_equal(stored_visits(engine), before)


def test_ssid_and_manufacturer_are_the_first_in_time_order_even_when_they_arrive_late(engine, settings):
    post(engine, row("d1", at(10), ssid="Later", manufacturer="Second"), row("d1", at(14)))
    refresh_visits(engine, settings)
    assert stored_visits(engine)[["ssid", "manufacturer"]].to_numpy().tolist() == [["Later", "Second"]]

    post(engine, row("d1", at(5), ssid="Earlier", manufacturer=None), row("d1", at(3), manufacturer="First"))
    refresh_visits(engine, settings)

    assert stored_visits(engine)[["ssid", "manufacturer", "associated"]].to_numpy().tolist() == [
        ["Earlier", "First", True]
    ]


def test_incremental_refreshes_in_any_order_give_the_visits_of_one_pass(engine, settings):
    rng = np.random.default_rng(7)
    rows = []
    for device in range(12):
        # Bursts of sightings separated by gaps on both sides of visit_gap, from two APs, some with SSIDs.
        moment = at(float(rng.integers(0, 60)))
        for _ in range(15):
            moment += timedelta(minutes=float(rng.choice([1, 3, 14, 15, 16, 40])), seconds=float(rng.integers(0, 60)))
            rows.append(
                row(
                    f"d{device}",
                    moment,
                    moment + timedelta(seconds=float(rng.integers(0, 50))),
                    ap=AP1 if rng.random() < 0.5 else AP2,
                    rssi=float(rng.integers(-90, -50)),
                    ssid="Guest" if rng.random() < 0.2 else None,
                )
            )
    order = rng.permutation(len(rows))
    for chunk in np.array_split(order, 9):
        post(engine, [rows[i] for i in chunk], [rows[i] for i in chunk[:3]])  # with a few re-delivered
        refresh_visits(engine, settings)
    incremental = stored_visits(engine)

    rebuild_visits(engine, settings, refit_zones=False)
    rebuilt = stored_visits(engine)

    pd.testing.assert_frame_equal(incremental, rebuilt)
    one_pass = visits(label_visits(load_observations(engine, None, None), timedelta(minutes=15)), UTC)
    columns = ["site", "device", "first_seen", "last_seen", "max_rssi", "associated", "observations", "ssid"]
    expected = one_pass.loc[:, columns].sort_values(["site", "device", "first_seen"], ignore_index=True)
    pd.testing.assert_frame_equal(
        incremental.loc[:, columns].astype({"ssid": object}), expected.astype({"ssid": object}), check_dtype=False
    )
    previous = incremental.groupby(["site", "device"])["first_seen"].shift()
    pd.testing.assert_series_equal(incremental["previous_first_seen"], previous, check_names=False)


def test_zones_come_from_a_fitted_model_and_follow_renamed_aps(engine, settings):
    near_one = [
        stay(f"a{i}", at(i), 20, ap=AP1, rssi=-50) + stay(f"a{i}", at(i), 20, ap=AP2, rssi=-85) for i in range(6)
    ]
    near_two = [
        stay(f"b{i}", at(i), 20, ap=AP2, rssi=-52) + stay(f"b{i}", at(i), 20, ap=AP1, rssi=-83) for i in range(6)
    ]
    post(engine, *near_one, *near_two)
    named = replace(
        settings,
        access_points={
            AP1: AccessPoint(AP1, "Front", "shop", 0.0, 0.0),
            AP2: AccessPoint(AP2, "Back", "shop", 10.0, 0.0),
        },
    )

    result = refresh_visits(engine, named)

    frame = stored_visits(engine).set_index("device")
    assert result.fitted == ["shop"]
    assert set(frame.loc[[f"a{i}" for i in range(6)], "zone"]) == {"Front"}
    assert set(frame.loc[[f"b{i}" for i in range(6)], "zone"]) == {"Back"}
    assert frame.loc["a0", "x"] < 1.0
    assert frame.loc["b0", "x"] > 9.0

    renamed = replace(named, access_points={**named.access_points, AP1: AccessPoint(AP1, "Door", "shop", 0.0, 0.0)})
    again = refresh_visits(engine, renamed)

    assert (again.observations, again.zoned) == (0, 12)
    assert set(stored_visits(engine).set_index("device").loc[[f"a{i}" for i in range(6)], "zone"]) == {"Door"}


def test_device_counts_count_distinct_devices_per_window_and_local_day(engine, settings):
    post(
        engine,
        stay("d1", at(0), 3),
        stay("d1", at(60), 3),  # a second visit the same day
        stay("d1", at(0, day=1), 3),
        stay("d2", at(0, day=1), 3, randomized=True),
        stay("d3", at(0, day=-3), 3),  # before the window only
        stay("d3", at(0, day=2), 3),
    )
    refresh_visits(engine, settings)

    loaded = load_visits(engine, at(-540), at(-540, day=3), AnalyticsSettings(), tz=settings.tz)

    counts = loaded.device_counts
    assert (counts.devices, counts.randomized) == (3, 1)
    assert counts.daily.tolist() == [1, 2, 1]
    assert loaded.visits.empty  # nobody qualifies, nobody is staff: passersby are only counted


def test_concurrent_refreshes_merge_every_observation_once(settings):
    engines = [db.make_engine(settings.database_url) for _ in range(3)]
    db.migrate(engines[0])
    post(engines[0], *(stay(f"d{i}", at(i), 30, step=3) for i in range(40)))
    results, errors = [], []

    def work(engine) -> None:
        try:
            results.append(refresh_visits(engine, settings, chunk_rows=50))
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    frame = stored_visits(engines[0])
    for engine in engines:
        engine.dispose()

    assert errors == []
    assert sum(result.observations for result in results) == 40 * 11
    assert len(frame) == 40
    assert frame["observations"].tolist() == [11] * 40


def test_a_live_lease_makes_others_wait_and_an_expired_one_is_taken_over(engine, settings):
    post(engine, stay("d0", at(-60), 5))
    refresh_visits(engine, settings)
    future = datetime.now(UTC) + timedelta(minutes=1)
    with engine.begin() as connection:
        connection.execute(update(REFRESH).values(locked_by="someone-else", locked_until=future))

    with pytest.raises(RefreshBusy):
        refresh_visits(engine, settings, wait=timedelta(0))

    with engine.begin() as connection:
        connection.execute(update(REFRESH).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    post(engine, stay("d1", at(0), 5))
    assert refresh_visits(engine, settings, wait=timedelta(0)).observations == 6
    with engine.connect() as connection:
        sites = connection.execute(select(REFRESH.c.site, REFRESH.c.locked_by).where(REFRESH.c.site.is_not(None)))
        assert [(site, holder) for site, holder in sites] == [("shop", None)]  # released


def test_other_visit_settings_need_a_rebuild(engine, settings):
    post(engine, stay("d1", at(0), 5), stay("d1", at(16), 5))
    refresh_visits(engine, settings)
    shorter = AnalyticsSettings(visit_gap=timedelta(minutes=10))

    with pytest.raises(VisitsOutOfDate, match="presence rebuild"):
        refresh_visits(engine, settings, shorter)

    rebuild_visits(engine, settings, shorter)
    assert len(stored_visits(engine)) == 2
    refresh_visits(engine, settings, shorter)


def test_rebuild_refits_the_zone_models(engine, settings):
    post(engine, stay("d1", at(0), 10, ap=AP1), stay("d1", at(0), 10, ap=AP2, rssi=-80))
    refresh_visits(engine, settings)
    with engine.connect() as connection:
        first = connection.execute(select(ZoneModelRow.__table__.c.version)).scalar()

    result = rebuild_visits(engine, settings)

    with engine.connect() as connection:
        version = connection.execute(select(ZoneModelRow.__table__.c.version)).scalar()
    assert (first, version, result.fitted) == (1, 1, ["shop"])
    assert stored_visits(engine)["zone"].tolist() == [AP1]


@pytest.fixture
def postgres(tmp_path):
    """PostgreSQL only: SQLite has one writer, so there an id can never commit behind a larger one."""
    with fresh_postgres_schema() as url:
        settings = make_settings(tmp_path, PRESENCE_DATABASE_URL=url)
        engine = db.make_engine(url)
        db.migrate(engine)
        yield engine, settings
        engine.dispose()


def test_postgresql_watermark_waits_for_an_insert_still_in_flight(postgres):
    engine, settings = postgres
    post(engine, stay("d0", at(0), 2))
    refresh_visits(engine, settings)
    slow = engine.connect()
    transaction = slow.begin()
    # This transaction draws the smaller id and commits last.
    slow.execute(
        text(
            "INSERT INTO observation (vendor, site, ap_mac, device, randomized, associated, first_seen, last_seen, "
            "rssi_min, rssi_max, rssi_avg, rssi_last, count, received_at, dedupe_key) VALUES ('engenius', 'shop', "
            f"'{AP1}', 'late', false, false, :t, :t, -60, -60, -60, -60, 1, :t, '\\x01'::bytea)"
        ),
        {"t": at(5)},
    )
    post(engine, stay("d1", at(0), 2))
    finished = threading.Event()
    outcome = {}

    def refresh() -> None:
        outcome["result"] = refresh_visits(engine, settings)
        finished.set()

    worker = threading.Thread(target=refresh)
    worker.start()
    try:
        held_up = not finished.wait(1.0)  # by the insert in flight, instead of skipping its id for ever
        transaction.commit()
    finally:
        if transaction.is_active:
            transaction.rollback()
        slow.close()
    worker.join(30)

    assert held_up
    assert outcome["result"].observations == 4
    assert sorted(stored_visits(engine)["device"]) == ["d0", "d1", "late"]


def test_heard_intervals_round_trip_and_a_visit_from_before_migration_0010_counts_as_heard_throughout():
    heard = pd.DataFrame({"visit": [0, 0, 1], "start": [10, 40, 5], "end": [20, 50, 5]})
    blobs = encode_heard(np.array([1, 0]), heard)
    assert [len(blob) for blob in blobs] == [16, 32]

    decoded = decode_heard(
        np.array([7, 8, 9]), [blobs[1], None, blobs[0]], np.array([0, 100, 0]), np.array([0, 160, 0])
    )

    assert decoded.to_dict("list") == {"visit": [7, 7, 8, 9], "start": [10, 40, 100, 5], "end": [20, 50, 160, 5]}
