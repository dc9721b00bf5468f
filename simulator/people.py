"""Who is where, when, carrying which phone with which MAC: visitors, regulars, staff and people walking past.

Each local day is generated on its own from the seed and the date, so a day looks the same whatever window it is
simulated in. A day yields `Visits` (one row per phone presence: a shop visit, a staff shift or a walk along the
street) and `Segments` (where that phone is during each part of it: standing in a zone, or walking past).

Simplifications, on purpose:
- A phone that randomizes uses one random MAC for a whole visit and a fresh one on its next visit (real phones
  rotate more often, e.g. per scan or every few minutes while unassociated, which makes them even harder to count).
- A phone on Wi-Fi uses the MAC it joined that network with for the whole visit, probes included; modern phones
  use a private MAC per network that stays the same across visits, so returning guests and staff are recognisable.
- Guests are connected for their whole visit; staff for their whole shift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from simulator import devices
from simulator.layout import Shop
from simulator.radio import DEVICE_OFFSET_SIGMA_DB

# --- opening hours and footfall --------------------------------------------------------------------------------

# (open, close) local hour by weekday, Monday first: a high-street shop, 9-20 on weekdays and Saturday, 11-17 on
# Sunday (the "9-20, shorter Sunday").
OPENING_HOURS = ((9, 20), (9, 20), (9, 20), (9, 20), (9, 20), (9, 20), (11, 17))
# Mean shop visitors per day by weekday: "a few hundred a day" (the issue), the week's usual retail shape with
# Monday/Tuesday quietest, Friday busier and Saturday busiest; Sunday is busy for its short hours.
DAILY_VISITORS = (230, 220, 240, 260, 320, 430, 260)
# Day-to-day variation (weather, events, paydays) as a log-normal factor on the day's mean.
DAY_VARIATION_SIGMA = 0.15
# Relative arrivals by local hour while open: a slow morning, a lunch bump and the after-work peak.
VISITOR_HOURLY_WEIGHTS = {9: 0.5, 10: 0.7, 11: 0.9, 12: 1.2, 13: 1.2, 14: 1.0, 15: 1.0, 16: 1.1, 17: 1.3, 18: 1.2}
# Dwell in the shop: log-normal with median 20 min (the issue); sigma 0.75 puts ~7 % of visits over an hour and ~3 %
# under 5 minutes. Capped: nobody browses for more than three hours.
DWELL_MEDIAN_MIN = 20.0
DWELL_SIGMA = 0.75
DWELL_MAX_MIN = 180.0
# Walking from the door into the shop and back out through the entrance zone.
ENTRY_S = 40.0
EXIT_S = 40.0
# Second zones and the spread within a zone are the shop's conditions (simulator.conditions: SECOND_ZONE_SHARE,
# SECOND_ZONE_FRACTION, ZONE_SPREAD_M are the default floor's).
# Walking in and out: within a couple of metres of the door, sideways and into the shop.
DOOR_SPREAD_M = 1.5
DOOR_DEPTH_M = (0.5, 2.5)

# --- phones ----------------------------------------------------------------------------------------------------

# Share of phones that use a randomized (locally administered) MAC: ~60-70 % of unassociated phones probe with one
# (the issue): current iOS and Android probe with random MACs by default, older phones and some builds do not.
RANDOMIZED_SHARE = 0.65
# Share of visitors whose phone joins the guest Wi-Fi.
GUEST_WIFI_SHARE = 0.15
GUEST_SSID = "Guest"
STAFF_SSID = "Staff"
SSIDS = (None, GUEST_SSID, STAFF_SSID)  # indexed by Visits.ssid

# --- regulars: a few daily, more weekly, many occasional; most visitors are first-time ------------------------

# (how many, chance of visiting on a given open day). About 30 regular visits a day against ~270 visits: most
# visitors are new, as a shop's loyalty report typically shows.
REGULAR_TIERS = (("daily", 6, 0.8), ("weekly", 60, 1 / 7), ("occasional", 600, 1 / 30))

# --- staff -----------------------------------------------------------------------------------------------------

# People on the roster, each with two consecutive days off a week (five-day weeks), staggered so every day has
# three or four people on; a shift is the shop's whole day.
STAFF_ROSTER = 5
STAFF_DAYS_OFF = 2
# Staff arrive before opening and leave after closing.
STAFF_EARLY_MIN = 30
STAFF_LATE_MIN = 15
# How long staff stay in one zone before moving to another.
STAFF_STAY_MIN = (20.0, 60.0)

# --- the street ------------------------------------------------------------------------------------------------

# Phones (with Wi-Fi on) carried past the shop front per day by weekday: about ten times the shop's visitors, a
# capture rate near 10 %; about 60 % of them probe within reach of an AP and are heard.
STREET_PHONES_PER_DAY = (2400, 2300, 2500, 2700, 3200, 4000, 2200)
# Relative street traffic by local hour, 0-23: quiet nights, commuting and lunch peaks, busy afternoons.
_STREET_MIDNIGHT_TO_NOON = (0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.5, 0.9, 0.8, 0.8, 1.0)
_STREET_NOON_TO_MIDNIGHT = (1.3, 1.3, 1.1, 1.1, 1.2, 1.5, 1.4, 1.0, 0.7, 0.5, 0.3, 0.15)
STREET_HOURLY_WEIGHTS = _STREET_MIDNIGHT_TO_NOON + _STREET_NOON_TO_MIDNIGHT
# Walking speed: mean 1.34 m/s, the usual figure for free-flowing pedestrians, with some spread.
WALKING_SPEED_MPS = (1.34, 0.25)
MIN_WALKING_SPEED_MPS = 0.6
# How far beyond the shop front's ends a walk is simulated: 80 m from the nearest AP the median signal is ~-103 dBm
# through the storefront, and only ~2 % of frames (2 sigma of shadowing, fading and phone offset) clear the floor.
STREET_REACH_M = 80.0
# Where people walk: from the pavement next to the window to the far pavement (metres in front of the shop).
STREET_LANE_M = (1.5, 8.0)

# Visit kinds in Visits.kind.
INSIDE, STAFF, STREET = 0, 1, 2


@dataclass
class Visits:
    """One row per presence of one phone: a shop visit, a staff shift or a walk past (numpy columns)."""

    kind: np.ndarray  # INSIDE, STAFF or STREET
    start: np.ndarray  # Unix seconds
    end: np.ndarray
    mac: np.ndarray  # 48-bit MAC as int64
    manufacturer: np.ndarray  # index into devices.MANUFACTURERS
    ssid: np.ndarray  # index into SSIDS; 0 = not associated
    offset_db: np.ndarray  # the phone's transmit/antenna offset

    def __len__(self) -> int:
        return len(self.kind)


@dataclass
class Segments:
    """Where a visit's phone is from t0 to t1: at (x, y) moving with (vx, vy) m/s; zone -1 means the street."""

    visit: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    x: np.ndarray
    y: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    zone: np.ndarray

    def __len__(self) -> int:
        return len(self.visit)


def _concat(parts: list) -> Any:
    """Row-wise concatenation of Visits or Segments tables."""
    kind = type(parts[0])
    return kind(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(kind)})


@dataclass(frozen=True)
class Regulars:
    """The pool of returning customers, drawn once per seed."""

    visit_chance: np.ndarray
    manufacturer: np.ndarray
    real_mac: np.ndarray
    guest: np.ndarray
    # The private MAC a randomizing phone uses on the guest network: the same on every visit.
    guest_mac: np.ndarray
    randomizes: np.ndarray
    offset_db: np.ndarray


@dataclass(frozen=True)
class Staff:
    """The roster: each member's phone MAC on the staff network and their weekdays off."""

    mac: np.ndarray
    manufacturer: np.ndarray
    days_off: np.ndarray  # (STAFF_ROSTER, STAFF_DAYS_OFF) weekdays
    offset_db: np.ndarray


def regulars(rng: np.random.Generator, offset_sigma_db: float = DEVICE_OFFSET_SIGMA_DB) -> Regulars:
    n = sum(count for _, count, _ in REGULAR_TIERS)
    manufacturer = devices.manufacturers(rng, n)
    randomizes = rng.random(n) < RANDOMIZED_SHARE
    real = devices.real_macs(rng, manufacturer)
    return Regulars(
        visit_chance=np.concatenate([np.full(count, chance) for _, count, chance in REGULAR_TIERS]),
        manufacturer=manufacturer,
        real_mac=real,
        guest=rng.random(n) < GUEST_WIFI_SHARE,
        guest_mac=np.where(randomizes, devices.random_macs(rng, n), real),
        randomizes=randomizes,
        offset_db=rng.normal(0.0, offset_sigma_db, n),
    )


def staff(rng: np.random.Generator, offset_sigma_db: float = DEVICE_OFFSET_SIGMA_DB) -> Staff:
    manufacturer = devices.manufacturers(rng, STAFF_ROSTER)
    randomizes = rng.random(STAFF_ROSTER) < RANDOMIZED_SHARE
    return Staff(
        mac=np.where(randomizes, devices.random_macs(rng, STAFF_ROSTER), devices.real_macs(rng, manufacturer)),
        manufacturer=manufacturer,
        days_off=(rng.integers(7) + STAFF_DAYS_OFF * np.arange(STAFF_ROSTER)[:, None] + np.arange(STAFF_DAYS_OFF)) % 7,
        offset_db=rng.normal(0.0, offset_sigma_db, STAFF_ROSTER),
    )


def opening(shop: Shop, on: date) -> tuple[float, float]:
    """Opening and closing time of local day `on` as Unix seconds."""
    open_hour, close_hour = OPENING_HOURS[on.weekday()]
    return _local(shop, on, open_hour), _local(shop, on, close_hour)


def _local(shop: Shop, on: date, hour: int) -> float:
    """Unix time of local wall-clock `hour` (0-24) on `on`: wall-clock, so 9:00 stays 9:00 across DST changes."""
    days, hour = divmod(int(hour), 24)
    return datetime.combine(on + timedelta(days=days), time(hour), tzinfo=shop.tz).timestamp()


def day(shop: Shop, on: date, rng: np.random.Generator, pool: Regulars, roster: Staff) -> tuple[Visits, Segments]:
    """Everyone whose phone is near the shop on local day `on`: visitors, staff on shift, people walking past."""
    parts = [_visitors(shop, on, rng, pool), _staff(shop, on, rng, roster), _street(shop, on, rng)]
    offset = 0
    visits, segments = [], []
    for part_visits, part_segments in parts:
        part_segments.visit = part_segments.visit + offset
        offset += len(part_visits)
        visits.append(part_visits)
        segments.append(part_segments)
    all_segments = _concat(segments)
    order = np.lexsort((all_segments.t0, all_segments.visit))
    return _concat(visits), Segments(**{f.name: getattr(all_segments, f.name)[order] for f in fields(Segments)})


def _visitors(shop: Shop, on: date, rng: np.random.Generator, pool: Regulars) -> tuple[Visits, Segments]:
    _, closes = opening(shop, on)
    mean = DAILY_VISITORS[on.weekday()] * rng.lognormal(0.0, DAY_VARIATION_SIGMA)
    total = rng.poisson(mean)
    regular = np.flatnonzero(rng.random(len(pool.visit_chance)) < pool.visit_chance)
    first_time = max(total - len(regular), 0)
    n = len(regular) + first_time

    manufacturer = np.concatenate([pool.manufacturer[regular], devices.manufacturers(rng, first_time)])
    randomizes = np.concatenate([pool.randomizes[regular], rng.random(first_time) < RANDOMIZED_SHARE])
    guest = np.concatenate([pool.guest[regular], rng.random(first_time) < GUEST_WIFI_SHARE])
    real = np.concatenate([pool.real_mac[regular], devices.real_macs(rng, manufacturer[len(regular) :])])
    fresh_random = devices.random_macs(rng, n)
    # A first-time guest's private MAC for our network is new to us anyway: a fresh random one.
    new = slice(len(regular), None)
    guest_mac = np.concatenate([pool.guest_mac[regular], np.where(randomizes[new], fresh_random[new], real[new])])
    mac = np.where(guest, guest_mac, np.where(randomizes, fresh_random, real))
    offset_sigma = shop.conditions.device_offset_sigma_db
    offset = np.concatenate([pool.offset_db[regular], rng.normal(0.0, offset_sigma, first_time)])

    hours = np.arange(OPENING_HOURS[on.weekday()][0], OPENING_HOURS[on.weekday()][1])
    weights = np.array([VISITOR_HOURLY_WEIGHTS.get(int(h), 1.0) for h in hours])
    hour = rng.choice(hours, size=n, p=weights / weights.sum())
    starts = np.array([_local(shop, on, h) for h in hours])
    start = starts[hour - hours[0]] + rng.random(n) * 3600.0
    dwell = np.minimum(rng.lognormal(np.log(DWELL_MEDIAN_MIN), DWELL_SIGMA, n), DWELL_MAX_MIN) * 60.0
    end = np.minimum(start + dwell, closes)  # the shop closes on whoever is still in

    visits = Visits(
        kind=np.full(n, INSIDE, dtype=np.int8),
        start=start,
        end=end,
        mac=mac,
        manufacturer=manufacturer,
        ssid=np.where(guest, SSIDS.index(GUEST_SSID), 0).astype(np.int8),
        offset_db=offset,
    )
    return visits, _visitor_segments(shop, rng, start, end)


def _visitor_segments(shop: Shop, rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> Segments:
    """Door → settle in a home zone (and maybe a second one) → door, for each visit."""
    n = len(start)
    n_zones = len(shop.aps)
    weights = np.array([ap.weight for ap in shop.aps])
    home = rng.choice(n_zones, size=n, p=weights / weights.sum())
    length = end - start
    entry_end = start + np.minimum(ENTRY_S, length / 3)
    exit_start = end - np.minimum(EXIT_S, length / 3)
    middle = exit_start - entry_end
    second = (rng.random(n) < shop.conditions.second_zone_share) & (n_zones > 1)
    other = (home + rng.integers(1, max(n_zones, 2), size=n)) % n_zones
    fraction = np.where(second, rng.uniform(*shop.conditions.second_zone_fraction, size=n), 0.0)
    second_first = rng.random(n) < 0.5  # the detour can come before or after settling
    first_zone = np.where(second & second_first, other, home)
    later_zone = np.where(second & second_first, home, other)
    split = entry_end + middle * np.where(second_first, fraction, 1.0 - fraction)
    split = np.where(second, split, exit_start)

    visit = np.arange(n)
    entrance = np.full(n, shop.entrance)
    door_in, door_out = _near_door(shop, rng, n), _near_door(shop, rng, n)
    parts = [
        (visit, start, entry_end, door_in, entrance),
        (visit, entry_end, split, _in_zone(shop, rng, first_zone), first_zone),
        (visit[second], split[second], exit_start[second], _in_zone(shop, rng, later_zone[second]), later_zone[second]),
        (visit, exit_start, end, door_out, entrance),
    ]
    return _concat([_still(*part) for part in parts])


def _still(visit, t0, t1, position, zone) -> Segments:
    zeros = np.zeros(len(visit))
    return Segments(visit=visit, t0=t0, t1=t1, x=position[0], y=position[1], vx=zeros, vy=zeros, zone=zone)


def _near_door(shop: Shop, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.clip(shop.door_x + rng.normal(0.0, DOOR_SPREAD_M, n), shop.x_min, shop.x_max)
    return x, shop.y_min + rng.uniform(*DOOR_DEPTH_M, n)


def _in_zone(shop: Shop, rng: np.random.Generator, zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ap_x = np.array([ap.x for ap in shop.aps])[zone]
    ap_y = np.array([ap.y for ap in shop.aps])[zone]
    spread = shop.conditions.zone_spread_m
    x = np.clip(ap_x + rng.normal(0.0, spread, len(zone)), shop.x_min, shop.x_max)
    y = np.clip(ap_y + rng.normal(0.0, spread, len(zone)), shop.y_min, shop.y_max)
    return x, y


def _staff(shop: Shop, on: date, rng: np.random.Generator, roster: Staff) -> tuple[Visits, Segments]:
    working = np.flatnonzero(~(roster.days_off == on.weekday()).any(axis=1))
    opens, closes = opening(shop, on)
    shift_start, shift_end = opens - STAFF_EARLY_MIN * 60.0, closes + STAFF_LATE_MIN * 60.0
    n = len(working)
    visits = Visits(
        kind=np.full(n, STAFF, dtype=np.int8),
        start=np.full(n, shift_start),
        end=np.full(n, shift_end),
        mac=roster.mac[working],
        manufacturer=roster.manufacturer[working],
        ssid=np.full(n, SSIDS.index(STAFF_SSID), dtype=np.int8),
        offset_db=roster.offset_db[working],
    )
    stays = int(np.ceil((shift_end - shift_start) / (STAFF_STAY_MIN[0] * 60.0)))
    duration = rng.uniform(*STAFF_STAY_MIN, size=(n, stays)) * 60.0
    t1 = shift_start + np.cumsum(duration, axis=1)
    t0 = t1 - duration
    keep = t0 < shift_end
    visit = np.repeat(np.arange(n), stays).reshape(n, stays)[keep]
    zone = rng.integers(0, len(shop.aps), size=(n, stays))[keep]
    segments = _still(visit, t0[keep], np.minimum(t1[keep], shift_end), _in_zone(shop, rng, zone), zone)
    return visits, segments


def _street(shop: Shop, on: date, rng: np.random.Generator) -> tuple[Visits, Segments]:
    n = rng.poisson(STREET_PHONES_PER_DAY[on.weekday()] * rng.lognormal(0.0, DAY_VARIATION_SIGMA))
    weights = np.array(STREET_HOURLY_WEIGHTS)
    hour = rng.choice(24, size=n, p=weights / weights.sum())
    starts = np.array([_local(shop, on, h) for h in range(25)])
    start = starts[hour] + rng.random(n) * (starts[hour + 1] - starts[hour])
    speed = np.maximum(rng.normal(*WALKING_SPEED_MPS, n), MIN_WALKING_SPEED_MPS)
    direction = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    length = shop.width_m + 2 * STREET_REACH_M
    end = start + length / speed
    manufacturer = devices.manufacturers(rng, n)
    randomizes = rng.random(n) < RANDOMIZED_SHARE
    mac = np.where(randomizes, devices.random_macs(rng, n), devices.real_macs(rng, manufacturer))
    visits = Visits(
        kind=np.full(n, STREET, dtype=np.int8),
        start=start,
        end=end,
        mac=mac,
        manufacturer=manufacturer,
        ssid=np.zeros(n, dtype=np.int8),
        offset_db=rng.normal(0.0, shop.conditions.device_offset_sigma_db, n),
    )
    x0 = np.where(direction > 0, shop.x_min - STREET_REACH_M, shop.x_max + STREET_REACH_M)
    y0 = shop.y_min - rng.uniform(*STREET_LANE_M, n)
    segments = Segments(
        visit=np.arange(n),
        t0=start,
        t1=end,
        x=x0,
        y=y0,
        vx=direction * speed,
        vy=np.zeros(n),
        zone=np.full(n, -1),
    )
    return visits, segments
