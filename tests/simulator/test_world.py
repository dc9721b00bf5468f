"""The simulated world is realistic where analytics depends on it: radio, footfall, hours, MACs, loyalty, staff."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from config.settings import ConfigError
from devices.macs import is_randomized, manufacturer_of
from simulator import devices, people, radio, traffic
from simulator.layout import Shop, ShopAP, default_shop, shop_from_settings
from simulator.run import simulate
from tests.conftest import make_settings

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # the default shop runs on UTC
SATURDAY = MONDAY + timedelta(days=5)


@pytest.fixture(scope="module")
def week():
    """One simulated week's truth (Monday to Monday): only generated, nothing rendered."""
    return simulate(default_shop(), MONDAY, MONDAY + timedelta(days=7), seed=3).truth()


def test_mean_rssi_falls_with_distance_and_the_storefront():
    distances = np.array([1.0, 2.0, 5.0, 10.0, 20.0, 40.0])

    inside = radio.mean_rssi(distances)

    assert inside[0] == radio.REFERENCE_RSSI_DBM
    assert np.all(np.diff(inside) < 0)
    assert inside[3] - inside[4] == pytest.approx(10 * radio.PATH_LOSS_EXPONENT * np.log10(2))
    assert radio.mean_rssi(distances, outside=True) == pytest.approx(inside - radio.STOREFRONT_LOSS_DB)


def test_heard_signal_is_monotone_with_distance_on_average_and_never_below_the_floor():
    shop = Shop(
        aps=(ShopAP(mac="88:dc:96:00:00:01", name="Only", x=0.0, y=0.0),),
        x_min=-100,
        x_max=100,
        y_min=-100,
        y_max=100,
        door_x=0.0,
    )
    distances = np.repeat([2.0, 5.0, 10.0, 20.0, 35.0, 150.0], 200)  # 200 phones standing at each distance
    n = len(distances)
    visits = people.Visits(
        kind=np.zeros(n, dtype=np.int8),
        start=np.full(n, 1.8e9),
        end=np.full(n, 1.8e9 + 3600),
        mac=devices.random_macs(np.random.default_rng(0), n),
        manufacturer=np.zeros(n, dtype=int),
        ssid=np.zeros(n, dtype=np.int8),
        offset_db=np.random.default_rng(1).normal(0, radio.DEVICE_OFFSET_SIGMA_DB, n),
    )
    segments = people.Segments(
        visit=np.arange(n),
        t0=visits.start,
        t1=visits.end,
        x=distances,
        y=np.zeros(n),
        vx=np.zeros(n),
        vy=np.zeros(n),
        zone=np.zeros(n, dtype=int),
    )

    frames = traffic.heard_frames(shop, visits, segments, np.random.default_rng(2))

    assert frames.rssi.min() >= radio.HEARING_FLOOR_DBM
    heard_at = distances[frames.visit]
    means = [frames.rssi[heard_at == d].mean() for d in (2.0, 5.0, 10.0, 20.0)]
    assert means == sorted(means, reverse=True)
    assert means[0] - means[-1] > 25
    # 150 m away the median is -105 dBm: only the rare lucky frame (shadowing + fading, ~3 sigma) is heard.
    assert np.sum(heard_at == 150.0) < 0.01 * np.sum(heard_at == 2.0)


def saturday_records() -> tuple[people.Visits, traffic.Records]:
    visits, _, records = simulate(default_shop(), SATURDAY, None, seed=5).day(SATURDAY.date())
    return visits, records


def test_simulated_records_respect_the_hearing_floor():
    _, records = saturday_records()

    assert len(records) > 10_000
    assert records.rssi_min.min() >= radio.HEARING_FLOOR_DBM
    assert np.all(records.rssi_min <= records.rssi_avg)
    assert np.all(records.rssi_avg <= records.rssi_max)
    assert np.all(records.last_seen - records.minute < traffic.REPORT_INTERVAL_S)


def test_outside_opening_hours_only_people_walking_past_and_staff_on_shift_are_heard():
    visits, records = saturday_records()
    opens, closes = people.opening(default_shop(), SATURDAY.date())
    heard_at = records.minute
    kind = visits.kind[records.visit]

    closed = (heard_at < opens - 60) | (heard_at >= closes)
    assert set(kind[closed].tolist()) == {people.STREET, people.STAFF}
    off_shift = (heard_at < opens - people.STAFF_EARLY_MIN * 60 - 60) | (
        heard_at >= closes + people.STAFF_LATE_MIN * 60
    )
    assert set(kind[off_shift].tolist()) == {people.STREET}
    assert set(kind[~closed].tolist()) == {people.INSIDE, people.STAFF, people.STREET}


def test_weekends_are_busier_and_arrivals_follow_the_hour_of_day(week):
    visitors = [v for v in week if v.kind == "visitor"]
    per_day = Counter(v.start.date() for v in visitors)
    weekdays = [per_day[MONDAY.date() + timedelta(days=d)] for d in range(5)]

    assert per_day[SATURDAY.date()] > max(weekdays)
    assert per_day[SATURDAY.date()] + per_day[SATURDAY.date() + timedelta(days=1)] > 2 * np.mean(weekdays)
    by_hour = Counter(v.start.hour for v in visitors)
    assert by_hour[17] > 1.5 * by_hour[9]
    assert 150 <= np.mean(weekdays) <= 400  # "a few hundred visitors a day"


def test_nobody_is_inside_outside_opening_hours_except_staff(week):
    for visit in week:
        on = visit.start.date()
        opens, closes = (datetime.fromtimestamp(t, UTC) for t in people.opening(default_shop(), on))
        if visit.kind == "visitor":
            assert opens <= visit.start, visit
            assert visit.end <= closes, visit
        if visit.kind == "staff":
            assert visit.start == opens - timedelta(minutes=people.STAFF_EARLY_MIN)
            assert visit.end == closes + timedelta(minutes=people.STAFF_LATE_MIN)
            assert (visit.associated, visit.ssid) == (True, people.STAFF_SSID)


def test_dwell_is_log_normal_around_twenty_minutes_and_zones_are_ap_names(week):
    visitors = [v for v in week if v.kind == "visitor"]
    dwell_min = np.array([(v.end - v.start).total_seconds() / 60 for v in visitors])

    assert 17 <= np.median(dwell_min) <= 24
    assert dwell_min.min() >= 5
    assert {v.zone for v in visitors} == {ap.name for ap in default_shop().aps}
    assert all(v.zone == "" for v in week if v.kind == "passerby")


def test_about_two_thirds_of_unassociated_phones_randomize_and_the_bit_is_set(week):
    unassociated = [v for v in week if not v.associated]
    share = np.mean([v.randomized for v in unassociated])

    assert 0.6 <= share <= 0.7
    assert all(v.randomized == is_randomized(v.device) for v in week)
    assert all(manufacturer_of(v.device) is None for v in week if v.randomized)


def test_guests_and_staff_are_associated_and_a_share_of_visitors_are_guests(week):
    visitors = [v for v in week if v.kind == "visitor"]
    guest_share = np.mean([v.ssid == people.GUEST_SSID for v in visitors])

    assert 0.08 <= guest_share <= 0.25
    assert all(v.associated == (v.ssid != "") for v in week)
    assert all(v.ssid != people.STAFF_SSID for v in week if v.kind != "staff")
    passersby = [v for v in week if v.kind == "passerby"]
    assert sum(v.associated for v in passersby) < 0.01 * len(passersby)  # only guests who left within 5 minutes
    staff_days = Counter(v.start.date() for v in week if v.kind == "staff")
    assert set(staff_days) == {MONDAY.date() + timedelta(days=d) for d in range(7)}
    assert all(3 <= count <= 4 for count in staff_days.values())


def test_regulars_return_but_most_visitors_are_new(week):
    days_seen = defaultdict(set)
    for visit in week:
        if visit.kind == "visitor":
            days_seen[visit.device].add(visit.start.date())
    visits_per_device = Counter(len(days) for days in days_seen.values())

    assert visits_per_device[1] / len(days_seen) > 0.85
    assert any(count >= 4 for count in (len(days) for days in days_seen.values()))  # daily regulars


@pytest.mark.parametrize("name", devices.MANUFACTURERS)
def test_every_oui_is_registered_to_its_manufacturer(name):
    for oui in devices.OUIS[name]:
        assert name.lower() in (manufacturer_of(f"{oui}:00:00:01") or "").lower(), oui


def test_real_macs_name_their_manufacturer_and_random_ones_are_locally_administered_unicast():
    rng = np.random.default_rng(9)
    manufacturer = devices.manufacturers(rng, 2000)
    real = [devices.mac_text(m) for m in devices.real_macs(rng, manufacturer).tolist()]
    random = devices.random_macs(rng, 2000)

    assert not any(is_randomized(mac) for mac in real)
    for mac, index in zip(real[:200], manufacturer[:200], strict=True):
        assert devices.MANUFACTURERS[index].lower() in manufacturer_of(mac).lower()
    assert np.all(devices.is_randomized(random))
    assert not np.any(random & (1 << 40))  # multicast bit clear
    assert Counter(manufacturer)[devices.MANUFACTURERS.index("Apple")] > 500


def test_shop_from_settings_uses_the_configured_aps_and_their_positions(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text(
        '[[aps]]\nmac = "AC:86:74:00:00:01"\nname = "Door"\nx = 2.0\ny = 1.0\n'
        '[[aps]]\nmac = "AC:86:74:00:00:02"\nname = "Shelves"\nx = 12.0\ny = 9.0\n'
    )

    shop = shop_from_settings(make_settings(tmp_path, PRESENCE_CONFIG=str(config)))

    assert [(ap.mac, ap.name, ap.x, ap.y) for ap in shop.aps] == [
        ("ac:86:74:00:00:01", "Door", 2.0, 1.0),
        ("ac:86:74:00:00:02", "Shelves", 12.0, 9.0),
    ]
    assert (shop.x_min, shop.x_max, shop.y_min, shop.y_max) == (-1.0, 15.0, -2.0, 12.0)
    assert shop.aps[shop.entrance].name == "Door"
    assert shop_from_settings(make_settings(tmp_path)) == default_shop()


def test_shop_from_settings_refuses_aps_without_positions(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text('[[aps]]\nmac = "AC:86:74:00:00:01"\nname = "Door"\n')

    with pytest.raises(ConfigError, match="needs x and y for every"):
        shop_from_settings(make_settings(tmp_path, PRESENCE_CONFIG=str(config)))


def test_opening_hours_are_local_wall_clock_across_daylight_saving():
    shop = Shop(aps=default_shop().aps, x_min=0, x_max=30, y_min=0, y_max=20, door_x=5, timezone="Europe/Amsterdam")

    summer = people.opening(shop, date(2026, 7, 1))  # a Wednesday, UTC+2
    winter = people.opening(shop, date(2026, 12, 2))  # a Wednesday, UTC+1

    assert datetime.fromtimestamp(summer[0], UTC).hour == 7
    assert datetime.fromtimestamp(winter[0], UTC).hour == 8
    assert winter[1] - winter[0] == 11 * 3600


def test_the_default_shop_written_as_config_is_read_back_as_the_default_shop(tmp_path):
    from config.settings import Settings
    from simulator.layout import default_shop, default_shop_toml, shop_from_settings

    config = tmp_path / "shop.toml"
    config.write_text(default_shop_toml())
    settings = Settings.from_env({"PRESENCE_DATA_DIR": str(tmp_path), "PRESENCE_CONFIG": str(config)})
    assert {ap.name for ap in settings.access_points.values()} == {"Entrance", "Checkout", "Fitting rooms", "Back"}
    assert shop_from_settings(settings) == default_shop()
