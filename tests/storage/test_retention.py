"""Retention and erasure on both backends: `presence prune` deletes exactly the old observations (never one the
visits have not merged), keeps the visits and the reports made from them, and a rebuild after it keeps what it
can no longer recompute; `presence erase` deletes one device's every row and nothing else."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from analytics.report import report
from analytics.settings import RECURRENCE, SPAN, AnalyticsSettings
from app.cli import main
from app.commands.export import window_analysis
from config.settings import ConfigError, Settings
from devices.pseudonyms import Pseudonymizer
from simulator.backfill import backfill_database
from simulator.layout import default_shop
from store import db, retention
from store import visits as visits_store
from store.models import QuarantinedPost, VisitRefresh, VisitState
from store.observations import store_observations
from store.queries import local_day_bounds
from store.visits import VisitsOutOfDate, pruned_before, rebuild_visits, refresh_visits
from tests.conftest import all_observations, make_settings
from tests.storage.builders import AP1, AP2, at, post, row, stay, stored_visits

QUARANTINE = QuarantinedPost.__table__
STATES = VisitState.__table__
REFRESH = VisitRefresh.__table__
NOW = at(0, day=10)  # Thursday 12 November 2026, 09:00 UTC
FIVE_DAYS = timedelta(days=5)
CUTOFF = NOW - FIVE_DAYS  # observations last seen before Saturday 7 November 09:00 are old
MAC_A, MAC_B = "a4:83:e7:00:00:0a", "a4:83:e7:00:00:0b"


def stored(engine) -> list[tuple[str, datetime, datetime]]:
    """Every observation as (device, first_seen, last_seen), sorted."""
    return sorted((r["device"], r["first_seen"], r["last_seen"]) for r in all_observations(engine))


def shop(days: range = range(10)) -> list[list[dict]]:
    """Ten days of a small shop on two APs: regulars on alternate days, a new visitor and a passerby a day, and a
    member of staff whose five-hour shifts (08:00-13:00 UTC) cross the cutoff on day 5."""
    groups = []
    for day in days:
        for i in range(4):
            if (day + i) % 2 == 0:
                ap = AP1 if i % 2 else AP2
                ssid = "Guest" if i == 0 else None
                groups.append(stay(f"regular{i}", at(60 * i, day), 20 + 5 * i, step=2, ap=ap, ssid=ssid))
        groups.append(stay(f"new{day}", at(30, day), 12, step=3, rssi=-70))
        groups.append(stay(f"passer{day}", at(45, day), 2, rssi=-82))
        groups.append(stay("staff", at(-60, day), 300, step=10, ap=AP2, ssid="Staff"))
    return groups


def reports(settings: Settings) -> dict[str, dict]:
    """`presence report` of a window before the cutoff, one across it, one after it and one of every day."""
    windows = {
        "before": (date(2026, 11, 2), date(2026, 11, 5)),
        "across": (date(2026, 11, 6), date(2026, 11, 8)),
        "after": (date(2026, 11, 9), date(2026, 11, 11)),
        "all": (date(2026, 11, 2), date(2026, 11, 11)),
    }
    found = {}
    for name, (first, last) in windows.items():
        start, end = local_day_bounds(first, last, settings.tz)
        found[name] = report(window_analysis(settings, AnalyticsSettings(), start, end))
    return found


def orphan_states(engine) -> int:
    visits = visits_store.VISITS
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(STATES).where(STATES.c.visit_id.not_in(select(visits.c.id)))
        ).scalar_one()


# --- prune --------------------------------------------------------------------------------------------------------


def test_prune_deletes_exactly_the_observations_last_seen_before_the_cutoff(engine, settings):
    post(
        engine,
        stay("old", at(0), 30),
        row("long", CUTOFF - timedelta(hours=1), CUTOFF),  # last seen at the cutoff: not before it
        row("crossing", CUTOFF - timedelta(minutes=1), CUTOFF - timedelta(microseconds=1)),  # just before it
        stay("new", at(0, day=8), 10),
    )
    refresh_visits(engine, settings)
    expected = [o for o in stored(engine) if o[2] >= CUTOFF]

    result = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)

    assert stored(engine) == expected
    assert [o[0] for o in expected] == ["long"] + ["new"] * 11
    assert (result.observations, result.unmerged, result.merged) == (32, 0, 0)
    assert (result.first_seen, result.last_seen) == (at(0), CUTOFF - timedelta(microseconds=1))
    assert result.before == result.horizon == pruned_before(engine) == CUTOFF


def test_prune_merges_what_the_visits_have_not_seen_before_deleting_it(engine, settings):
    post(engine, stay("d1", at(0), 30, step=5))
    refresh_visits(engine, settings)
    post(engine, stay("d2", at(0, day=1), 10), row("d1", at(35)))  # stored, never refreshed

    result = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)

    assert (result.merged, result.observations) == (12, 19)
    assert stored(engine) == []
    visits = stored_visits(engine)
    assert visits[["device", "first_seen", "last_seen", "observations"]].to_numpy().tolist() == [
        ["d1", pd.Timestamp(at(0)), pd.Timestamp(at(35)), 8],
        ["d2", pd.Timestamp(at(0, day=1)), pd.Timestamp(at(10, day=1)), 11],
    ]


def test_old_observations_stored_after_the_merge_are_kept_until_the_next_prune(engine, settings, monkeypatch):
    post(engine, stay("d1", at(0), 10))
    late = stay("late", at(0, day=1), 10)
    prepare = visits_store.prepare_prune

    def then_a_late_post(*args, **kwargs):
        result = prepare(*args, **kwargs)
        post(engine, late)  # arrives between the merge and the delete: above the watermark
        return result

    monkeypatch.setattr(visits_store, "prepare_prune", then_a_late_post)
    first = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    monkeypatch.undo()

    assert (first.observations, first.unmerged) == (11, 11)
    assert {o[0] for o in stored(engine)} == {"late"}
    refresh_visits(engine, settings)
    second = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    assert (second.observations, second.unmerged) == (11, 0)
    assert stored_visits(engine)["device"].tolist() == ["d1", "late"]


def test_visits_and_reports_stay_the_same_through_prune_and_rebuild(engine, settings):
    post(engine, *shop())
    rebuild_visits(engine, settings)  # the reference: visits and zone model as a rebuild makes them
    visits, figures = stored_visits(engine), reports(settings)
    assert figures["before"]["visitors"] > 0
    assert figures["before"]["staff"] == 1

    result = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)

    assert result.observations > 0
    assert min(o[2] for o in stored(engine)) >= CUTOFF
    pd.testing.assert_frame_equal(stored_visits(engine), visits)
    assert reports(settings) == figures

    rebuilt = rebuild_visits(engine, settings)

    assert rebuilt.visits_kept == len(visits.loc[visits["first_seen"] < CUTOFF])
    pd.testing.assert_frame_equal(stored_visits(engine), visits)
    assert reports(settings) == figures
    rebuild_visits(engine, settings, refit_zones=False)
    pd.testing.assert_frame_equal(stored_visits(engine), visits)
    assert orphan_states(engine) == 0


def test_the_dashboard_still_offers_the_days_before_the_horizon(engine, settings):
    from app.dashboard.data import Source, span

    post(engine, *shop())
    refresh_visits(engine, settings)
    before = span(Source.from_settings(settings))
    retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    after = span(Source.from_settings(settings))
    assert after == before  # the visits still answer for the pruned days, so the day picker still reaches them
    assert after.first_day == at(0).date() < CUTOFF.date()


def test_a_rebuild_after_prune_counts_a_visit_across_the_horizon_once(engine, settings):
    post(engine, stay("d1", CUTOFF - timedelta(minutes=10), 20), stay("d1", at(0), 5))
    refresh_visits(engine, settings)
    before = stored_visits(engine)
    retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    assert len(stored(engine)) == 11  # the visit's observations from the cutoff on

    result = rebuild_visits(engine, settings, refit_zones=False)

    pd.testing.assert_frame_equal(stored_visits(engine), before)
    assert stored_visits(engine)["observations"].tolist() == [6, 21]
    assert (result.visits_kept, result.observations) == (2, 0)


def test_late_observations_of_old_visits_are_merged_once_before_and_after_a_rebuild(engine, settings):
    post(engine, stay("d1", at(0), 20), stay("d1", at(0, day=8), 20))
    refresh_visits(engine, settings)
    retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    post(engine, row("d1", at(10), ap=AP2))  # old, but stored after the prune: merged by a refresh
    refresh_visits(engine, settings)
    assert stored_visits(engine)["observations"].tolist() == [22, 21]
    post(engine, row("d1", at(25), ap=AP2))  # not merged yet when the rebuild starts

    rebuild_visits(engine, settings, refit_zones=False)

    visits = stored_visits(engine)
    assert visits[["first_seen", "last_seen", "observations"]].to_numpy().tolist() == [
        [pd.Timestamp(at(0)), pd.Timestamp(at(25)), 23],
        [pd.Timestamp(at(0, day=8)), pd.Timestamp(at(20, day=8)), 21],
    ]


def test_a_rebuild_with_another_visit_gap_after_prune_keeps_old_visits_as_built(engine, settings):
    twelve_minutes_apart = [stay("d1", at(0, day), 5) + stay("d1", at(17, day), 5) for day in (0, 7)]
    post(engine, *twelve_minutes_apart)
    refresh_visits(engine, settings)
    retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)

    result = rebuild_visits(engine, settings, AnalyticsSettings(visit_gap=timedelta(minutes=10)))

    assert result.visits_kept == 1
    assert stored_visits(engine)[["first_seen", "observations"]].to_numpy().tolist() == [
        [pd.Timestamp(at(0)), 12],  # before the horizon: one visit, as the 15-minute gap made it
        [pd.Timestamp(at(0, day=7)), 6],  # after it: recomputed with the 10-minute gap
        [pd.Timestamp(at(17, day=7)), 6],
    ]


def test_a_rebuild_with_the_estimated_stay_after_prune_estimates_the_kept_visits_from_when_they_were_heard(
    engine, settings
):
    spanning = replace(settings, dwell_estimate=SPAN)  # visits first built with the span, then the estimate
    post(engine, *[stay("d1", at(0, day), 10, step=2) for day in (0, 7)])
    refresh_visits(engine, spanning)
    retention.prune(engine, spanning, FIVE_DAYS, now=NOW, pause=0)
    estimating = replace(settings, dwell_estimate=RECURRENCE)
    with pytest.raises(VisitsOutOfDate):
        refresh_visits(engine, estimating)

    result = rebuild_visits(engine, estimating)

    assert result.visits_kept == 1
    kept, recomputed = stored_visits(engine)["dwell_seconds"].tolist()
    assert kept == recomputed  # the same stay on both days: the kept one from its heard intervals
    assert kept == pytest.approx(600 + 2 * (5 * 120.0**2 / 2 + 150 * 84) / (600 + 150))
    assert refresh_visits(engine, estimating).observations == 0


def test_the_horizon_only_moves_forward(engine, settings):
    post(engine, stay("d1", at(0), 5))
    retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    retention.prune(engine, settings, timedelta(days=8), now=NOW, pause=0)
    assert pruned_before(engine) == CUTOFF

    retention.prune(engine, settings, timedelta(days=3), now=NOW, pause=0)
    assert pruned_before(engine) == NOW - timedelta(days=3)
    with engine.connect() as connection:
        assert connection.execute(select(REFRESH.c.pruned_at).where(REFRESH.c.site.is_(None))).scalar() == NOW


def test_a_dry_run_counts_what_a_prune_would_delete_and_deletes_nothing(engine, settings):
    post(engine, stay("d1", at(0), 10), stay("d2", at(0, day=8), 10))
    refresh_visits(engine, settings)
    post(engine, stay("d3", at(0, day=1), 4))
    everything = stored(engine)

    dry = retention.prune(engine, settings, FIVE_DAYS, now=NOW, dry_run=True)

    assert (dry.observations, dry.unmerged, dry.first_seen, dry.last_seen) == (16, 5, at(0), at(4, day=1))
    assert stored(engine) == everything
    assert pruned_before(engine) is None
    assert len(stored_visits(engine)) == 2
    real = retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)
    assert (real.observations, real.first_seen, real.last_seen) == (16, at(0), at(4, day=1))


def test_deleting_happens_in_bounded_transactions(engine, settings, monkeypatch):
    post(engine, *(stay(f"d{i}", at(i), 20) for i in range(30)), stay("new", at(0, day=8), 20))
    refresh_visits(engine, settings)
    monkeypatch.setattr(retention, "MIN_BATCH_ROWS", 10)
    monkeypatch.setattr(retention, "MAX_BATCH_ROWS", 50)

    result = retention.prune(engine, settings, FIVE_DAYS, now=NOW, batch=50, scan=64, pause=0)

    assert result.observations == 30 * 21
    assert result.transactions >= 13  # 630 rows, at most 50 a transaction
    assert {o[0] for o in stored(engine)} == {"new"}


def test_prune_refuses_visits_built_with_other_settings_and_deletes_nothing(engine, settings):
    post(engine, stay("d1", at(0), 5))
    refresh_visits(engine, settings)
    with engine.begin() as connection:
        connection.execute(update(REFRESH).values(settings='{"visit_gap": "0:10:00"}'))

    with pytest.raises(VisitsOutOfDate, match="presence rebuild"):
        retention.prune(engine, settings, FIVE_DAYS, now=NOW, pause=0)

    assert len(stored(engine)) == 6
    assert pruned_before(engine) is None


def test_vacuum_gives_the_space_back(engine, settings):
    post(engine, *(stay(f"d{i}", at(i), 60) for i in range(40)), stay("new", at(0, day=8), 5))
    sqlite = engine.dialect.name == "sqlite"

    def pages() -> int:
        with engine.connect() as connection:
            return connection.exec_driver_sql("PRAGMA page_count").scalar() if sqlite else 0

    before = pages()
    result = retention.prune(engine, settings, FIVE_DAYS, now=NOW, vacuum=True, pause=0)

    assert result.vacuumed
    assert len(stored(engine)) == 6
    if sqlite:
        assert pages() < before / 2  # the file shrank (without VACUUM it keeps every page)


def quarantine_rows(engine, *bodies: tuple[bytes, datetime]) -> None:
    with engine.begin() as connection:
        connection.execute(
            QUARANTINE.insert(),
            [
                {
                    "vendor": "engenius",
                    "received_at": received,
                    "status": 422,
                    "reason": "not the vendor's shape",
                    "field": None,
                    "body": body,
                    "body_bytes": len(body),
                    "truncated": False,
                }
                for body, received in bodies
            ],
        )


def quarantined(engine) -> list[bytes]:
    with engine.connect() as connection:
        bodies = connection.execute(select(QUARANTINE.c.body).order_by(QUARANTINE.c.id)).scalars()
        return [bytes(body) for body in bodies]


@pytest.mark.parametrize(
    ("older_than", "kept"), [(timedelta(days=30), [b"3 days", b"1 day"]), (timedelta(days=2), [b"1 day"])]
)
def test_prune_deletes_quarantined_posts_past_the_quarantine_or_retention_period(engine, settings, older_than, kept):
    quarantine_rows(
        engine,
        (b"20 days", NOW - timedelta(days=20)),  # past PRESENCE_QUARANTINE_DAYS (14)
        (b"3 days", NOW - timedelta(days=3)),
        (b"1 day", NOW - timedelta(days=1)),
    )

    result = retention.prune(engine, settings, older_than, now=NOW, pause=0)

    assert quarantined(engine) == kept
    assert result.quarantined == 3 - len(kept)


# --- erase --------------------------------------------------------------------------------------------------------


def test_erase_deletes_every_row_of_a_device_and_nothing_else(engine, settings):
    device_a = Pseudonymizer(settings.pseudonym_key).device_id(MAC_A)
    device_b = Pseudonymizer(settings.pseudonym_key).device_id(MAC_B)
    post(
        engine,
        stay(device_a, at(0), 20, step=2),
        stay(device_a, at(0, day=2), 20, step=2, ap=AP2),
        stay(MAC_A, at(0, day=1), 10),  # stored while PRESENCE_STORE_RAW_MACS=1 was set
        stay(device_b, at(0), 20, step=2),
        stay("other", at(5), 30, step=5),
    )
    refresh_visits(engine, settings)
    quarantine_rows(
        engine,
        (b'{"probe_requests": [{"mac": "A4:83:E7:00:00:0A"}]}', NOW),
        (b'{"observations": [{"clientMac": "a483e700000a"}]}', NOW),
        (b'{"data": {"observations": [{"clientMac": "a4-83-e7-00-00-0a"}]}}', NOW),
        (b'{"probe_requests": [{"mac": "a4:83:e7:00:00:0b"}]}', NOW),
    )
    others = [o for o in all_observations(engine) if o["device"] not in {device_a, MAC_A}]
    visits = stored_visits(engine)
    other_visits = visits.loc[~visits["device"].isin([device_a, MAC_A])].reset_index(drop=True)
    with engine.connect() as connection:
        other_states = connection.execute(select(func.count()).select_from(STATES)).scalar_one() - 3

    result = retention.erase(engine, settings, ["A4-83-E7-00-00-0A"], pause=0)

    assert (result.observations, result.visits) == ({MAC_A: 33}, {MAC_A: 3})
    assert len(result.quarantined) == 3
    assert all_observations(engine) == others
    # (check_dtype: a column of nothing but NaT reads back in another datetime unit)
    pd.testing.assert_frame_equal(stored_visits(engine), other_visits, check_dtype=False)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(STATES)).scalar_one() == other_states
    assert orphan_states(engine) == 0
    assert quarantined(engine) == [b'{"probe_requests": [{"mac": "a4:83:e7:00:00:0b"}]}']
    refresh_visits(engine, settings)
    assert set(stored_visits(engine)["device"]) == {device_b, "other"}


def test_an_erasure_dry_run_counts_and_deletes_nothing(engine, settings):
    device_a = Pseudonymizer(settings.pseudonym_key).device_id(MAC_A)
    post(engine, stay(device_a, at(0), 10), stay(device_a, at(0, day=1), 10))
    refresh_visits(engine, settings)
    quarantine_rows(engine, (b'{"mac": "a4:83:e7:00:00:0a"}', NOW))
    everything = stored(engine)

    result = retention.erase(engine, settings, [MAC_A, MAC_B], dry_run=True)

    assert (result.observations, result.visits) == ({MAC_A: 22, MAC_B: 0}, {MAC_A: 2, MAC_B: 0})
    assert len(result.quarantined) == 1
    assert stored(engine) == everything
    assert len(stored_visits(engine)) == 2
    assert len(quarantined(engine)) == 1


def test_mac_spellings_cover_what_vendors_send():
    assert retention.mac_spellings("ac:86:74:82:9a:30") == [
        b"ac:86:74:82:9a:30",
        b"ac-86-74-82-9a-30",
        b"ac8674829a30",
        b"ac86.7482.9a30",
    ]


# --- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli(settings, monkeypatch):
    """The environment the CLI reads, pointing at the test's database and key."""
    monkeypatch.setenv("PRESENCE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PRESENCE_DATABASE_URL", settings.database_url)
    for name in ("PRESENCE_RETENTION_DAYS", "PRESENCE_PSEUDONYM_KEY", "PRESENCE_STORE_RAW_MACS", "PRESENCE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_prune_needs_a_retention_period(engine, cli, capsys):
    post(engine, stay("d1", datetime.now(UTC) - timedelta(days=40), 5))

    assert main(["prune"]) == 2

    assert "--older-than DAYS or set PRESENCE_RETENTION_DAYS" in capsys.readouterr().err
    assert len(stored(engine)) == 6
    with pytest.raises(SystemExit) as refused:
        main(["prune", "--older-than", "0"])
    assert refused.value.code == 2
    assert "at least 1 day" in capsys.readouterr().err


def test_prune_from_the_command_line_reports_what_it_deleted(engine, cli, capsys):
    now = datetime.now(UTC).replace(microsecond=0)
    post(engine, stay("old", now - timedelta(days=40), 5), stay("recent", now - timedelta(days=2), 5))
    cli.setenv("PRESENCE_RETENTION_DAYS", "30")

    assert main(["prune", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "dry run: nothing was deleted" in dry
    assert "would delete 6 observations" in dry
    assert len(stored(engine)) == 12

    assert main(["prune"]) == 0
    out = capsys.readouterr().out
    assert "pruned observations older than 30 days" in out
    assert "merged 12 observations into the visits first" in out
    assert f"deleted 6 observations (first seen {now - timedelta(days=40):%Y-%m-%d %H:%M:%S} UTC" in out
    assert "visits are kept" in out
    assert {o[0] for o in stored(engine)} == {"recent"}

    assert main(["rebuild"]) == 0
    captured = capsys.readouterr()
    assert "kept the 1 visits that start before" in captured.err
    assert json.loads(captured.out)["visits_kept"] == 1
    assert sorted(stored_visits(engine)["device"]) == ["old", "recent"]


def test_prune_from_the_command_line_refuses_out_of_date_visits(engine, settings, cli, capsys):
    post(engine, stay("d1", datetime.now(UTC) - timedelta(days=40), 5))
    refresh_visits(engine, settings)
    with engine.begin() as connection:
        connection.execute(update(REFRESH).values(settings='{"visit_gap": "0:10:00"}'))

    assert main(["prune", "--older-than", "7"]) == 1

    assert "run `presence rebuild`" in capsys.readouterr().err
    assert len(stored(engine)) == 6


def test_erase_from_the_command_line(engine, settings, cli, capsys):
    device_a = Pseudonymizer(settings.pseudonym_key).device_id(MAC_A)
    post(engine, stay(device_a, at(0), 10), stay("other", at(0), 10))
    refresh_visits(engine, settings)
    quarantine_rows(engine, (b'{"mac": "a483e700000a"}', NOW))

    assert main(["erase", "A4:83:E7:00:00:0A", MAC_B]) == 0

    out = capsys.readouterr().out
    assert f"{MAC_A}: deleted 11 observations and 1 visits" in out
    assert f"{MAC_B}: nothing stored" in out
    assert "deleted 1 quarantined posts that mention these MACs" in out
    assert {o[0] for o in stored(engine)} == {"other"}
    with pytest.raises(SystemExit) as refused:
        main(["erase", "not-a-mac"])
    assert refused.value.code == 2
    assert "is not a MAC address" in capsys.readouterr().err


def test_the_retention_setting_must_be_a_positive_number_of_days(tmp_path):
    assert make_settings(tmp_path).retention_days is None
    assert make_settings(tmp_path, PRESENCE_RETENTION_DAYS="90").retention_days == 90
    with pytest.raises(ConfigError, match="PRESENCE_RETENTION_DAYS"):
        make_settings(tmp_path, PRESENCE_RETENTION_DAYS="0")


# --- end to end -----------------------------------------------------------------------------------------------------


TIMEZONE = "Europe/Amsterdam"


@pytest.fixture(scope="module")
def simulated_days(tmp_path_factory) -> tuple[datetime, list[dict]]:
    """Every observation row of three simulated days of the default shop ending now (simulated once)."""
    directory = tmp_path_factory.mktemp("simulated-days")
    settings = make_settings(directory, PRESENCE_TIMEZONE=TIMEZONE, PRESENCE_SQLITE_SYNCHRONOUS="OFF")
    now = datetime.now(UTC)
    backfill_database(settings, now - timedelta(days=3), now, seed=11, shop=default_shop(TIMEZONE), processes=1)
    engine = db.make_engine(settings.database_url)
    rows = all_observations(engine)
    engine.dispose()
    for found in rows:
        del found["id"]
    return now, rows


@pytest.mark.slow
def test_a_simulated_shop_keeps_its_reports_through_prune_and_rebuild(simulated_days, settings, cli, capsys):
    """Three simulated days ending now, pruned to two: `presence report` of every day, and the stored visits, are
    the same before the prune, after it and after a rebuild."""
    now, rows = simulated_days
    cli.setenv("PRESENCE_TIMEZONE", TIMEZONE)
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    for offset in range(0, len(rows), 20_000):
        store_observations(engine, rows[offset : offset + 20_000])
    first, last = (moment.astimezone(ZoneInfo(TIMEZONE)).date() for moment in (now - timedelta(days=3), now))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def figures() -> list[dict]:
        found = []
        for low, high in [*((day, day) for day in days), (first, last)]:
            assert main(["report", "--from", low.isoformat(), "--to", high.isoformat(), "--format", "json"]) == 0
            found.append(json.loads(capsys.readouterr().out))
        return found

    try:
        assert main(["rebuild"]) == 0
        capsys.readouterr()
        visits, reference = stored_visits(engine), figures()
        assert reference[-1]["visitors"] > 0

        assert main(["prune", "--older-than", "2"]) == 0
        assert "deleted 0 observations" not in capsys.readouterr().out
        assert min(o[2] for o in stored(engine)) >= now - timedelta(days=2)
        pd.testing.assert_frame_equal(stored_visits(engine), visits)
        assert figures() == reference

        assert main(["rebuild"]) == 0
        capsys.readouterr()
        pd.testing.assert_frame_equal(stored_visits(engine), visits)
        assert figures() == reference
    finally:
        engine.dispose()
