"""From where phones are to what APs report: frames each AP hears, aggregated per AP, minute and phone.

Unassociated phones are heard only when they probe, in sporadic bursts; an associated phone is heard by the AP
it is connected to (the nearest) every report interval, and by the others when it scans. Each AP reports every
REPORT_INTERVAL_S; one record per phone heard in the interval aggregates its frames: count, min/max/avg/last
signal, first/last seen, associated. All of it is vectorized with numpy: no Python loop over phones or frames.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulator import radio
from simulator.layout import Shop
from simulator.people import Segments, Visits

# Both vendors report every 60 s: EnGenius's "Interval" setting, and Aerohive documents "every 60 seconds".
REPORT_INTERVAL_S = 60
# Unassociated phones probe in bursts "every 1-4 minutes or so" (the issue), not every second: screen-on phones
# scan more often, idle ones less. Uniform between the two.
PROBE_GAP_S = (60.0, 240.0)
# A burst sweeps all channels within a fraction of a second; an AP, on one channel, hears one to three of its
# probe requests: 1 + Poisson(mean) frames.
EXTRA_FRAMES_PER_BURST = 1.0
BURST_SPREAD_S = 0.5
# An associated phone exchanges keep-alives, background data and ACKs all the time: 1 + Poisson(mean) frames heard
# per minute by the AP it is connected to.
EXTRA_ASSOCIATED_FRAMES_PER_MINUTE = 6.0
# Segment lookup keys: visit * this + seconds since the day's first segment; far more than any day's span.
_KEY_STRIDE = 1e7


@dataclass
class Records:
    """One row per AP, report interval and phone heard (numpy columns), sorted by minute, AP, visit."""

    minute: np.ndarray  # Unix seconds at the start of the interval; the AP posts at minute + REPORT_INTERVAL_S
    ap: np.ndarray  # index into Shop.aps
    visit: np.ndarray  # index into the day's Visits
    mac: np.ndarray
    ssid: np.ndarray  # index into people.SSIDS; set only where this AP is the one the phone is connected to
    manufacturer: np.ndarray
    count: np.ndarray
    rssi_min: np.ndarray
    rssi_max: np.ndarray
    rssi_avg: np.ndarray
    rssi_last: np.ndarray
    first_seen: np.ndarray  # Unix seconds (float)
    last_seen: np.ndarray
    associated: np.ndarray

    def __len__(self) -> int:
        return len(self.minute)

    def take(self, index: np.ndarray | slice) -> Records:
        return Records(**{f.name: getattr(self, f.name)[index] for f in fields(Records)})

    @staticmethod
    def concat(parts: list[Records]) -> Records:
        return Records(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Records)})


@dataclass
class Frames:
    """Every frame an AP heard: which visit's phone, which AP, when, how loud, and whether it is associated there."""

    visit: np.ndarray
    ap: np.ndarray
    t: np.ndarray
    rssi: np.ndarray
    associated: np.ndarray


def day_records(shop: Shop, visits: Visits, segments: Segments, rng: np.random.Generator) -> Records:
    """Everything the shop's APs report about one day's phones."""
    return aggregate(heard_frames(shop, visits, segments, rng), visits)


def heard_frames(shop: Shop, visits: Visits, segments: Segments, rng: np.random.Generator) -> Frames:
    """The frames the APs hear: probe bursts at every AP in range, plus associated traffic at the serving AP."""
    ap_xy = np.array([(ap.x, ap.y) for ap in shop.aps])
    ap_gain = np.array([ap.gain_db for ap in shop.aps])
    conditions = shop.conditions
    shadowing = rng.normal(0.0, conditions.shadowing_sigma_db, size=(len(segments), len(shop.aps)))
    if conditions.link_shadowing_sigma_db > 0:  # drawn only when asked for, so the default floor stays as it was
        link = rng.normal(0.0, conditions.link_shadowing_sigma_db, size=(len(visits), len(shop.aps)))
        shadowing = shadowing + link[segments.visit]
    lookup = _SegmentLookup(segments)

    # Probe bursts, heard by every AP the signal reaches.
    burst_visit, burst_t = _burst_times(visits.start, visits.end, rng)
    segment = lookup(burst_visit, burst_t)
    x, y = lookup.position(segment, burst_t)
    distance = np.hypot(x[:, None] - ap_xy[None, :, 0], y[:, None] - ap_xy[None, :, 1])
    mean = radio.mean_rssi(distance, (y < shop.y_min)[:, None])
    mean = mean + visits.offset_db[burst_visit][:, None] + shadowing[segment] + ap_gain[None, :]
    serving = np.argmin(distance, axis=1)
    n_aps = len(shop.aps)
    pair_visit = np.repeat(burst_visit, n_aps)
    pair_ap = np.tile(np.arange(n_aps), len(burst_visit))
    pair_associated = (visits.ssid[pair_visit] > 0) & (pair_ap == np.repeat(serving, n_aps))
    frames_per_pair = 1 + rng.poisson(EXTRA_FRAMES_PER_BURST, size=len(pair_visit))
    expand = np.repeat(np.arange(len(pair_visit)), frames_per_pair)
    probes = Frames(
        visit=pair_visit[expand],
        ap=pair_ap[expand],
        t=np.repeat(burst_t, n_aps)[expand] + rng.uniform(0.0, BURST_SPREAD_S, size=len(expand)),
        rssi=radio.measured_rssi(mean.ravel()[expand], rng, conditions.fading_sigma_db),
        associated=pair_associated[expand],
    )

    # Associated phones: heard every interval by the AP they are connected to, the nearest one.
    data_visit, data_t = _associated_times(visits, rng)
    segment = lookup(data_visit, data_t)
    x, y = lookup.position(segment, data_t)
    distance = np.hypot(x[:, None] - ap_xy[None, :, 0], y[:, None] - ap_xy[None, :, 1])
    serving = np.argmin(distance, axis=1)
    rows = np.arange(len(data_visit))
    mean = radio.mean_rssi(distance[rows, serving], y < shop.y_min)
    mean = mean + visits.offset_db[data_visit] + shadowing[segment, serving] + ap_gain[serving]
    data = Frames(
        visit=data_visit,
        ap=serving,
        t=data_t,
        rssi=radio.measured_rssi(mean, rng, conditions.fading_sigma_db),
        associated=np.ones(len(data_visit), dtype=bool),
    )

    frames = Frames(
        **{f.name: np.concatenate([getattr(probes, f.name), getattr(data, f.name)]) for f in fields(Frames)}
    )
    keep = radio.heard(frames.rssi)
    return Frames(**{f.name: getattr(frames, f.name)[keep] for f in fields(Frames)})


def aggregate(frames: Frames, visits: Visits) -> Records:
    """One record per (interval, AP, phone): the aggregates EnGenius sends, from which Aerohive's are taken too."""
    minute = (np.floor(frames.t / REPORT_INTERVAL_S) * REPORT_INTERVAL_S).astype(np.int64)
    order = np.lexsort((frames.t, frames.visit, frames.ap, minute))
    minute, ap, visit = minute[order], frames.ap[order], frames.visit[order]
    t, rssi, associated = frames.t[order], frames.rssi[order], frames.associated[order]
    if len(t) == 0:
        starts = ends = np.zeros(0, dtype=np.int64)
    else:
        change = (np.diff(minute) != 0) | (np.diff(ap) != 0) | (np.diff(visit) != 0)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        ends = np.concatenate([starts[1:], [len(t)]]) - 1
    count = ends - starts + 1
    reduce = (lambda ufunc, values: ufunc.reduceat(values, starts)) if len(t) else (lambda ufunc, values: values[:0])
    first_visit = visit[starts]
    is_associated = reduce(np.maximum, associated.astype(np.int8)).astype(bool)
    return Records(
        minute=minute[starts],
        ap=ap[starts],
        visit=first_visit,
        mac=visits.mac[first_visit],
        ssid=np.where(is_associated, visits.ssid[first_visit], 0).astype(np.int8),
        manufacturer=visits.manufacturer[first_visit],
        count=count,
        rssi_min=reduce(np.minimum, rssi),
        rssi_max=reduce(np.maximum, rssi),
        rssi_avg=np.round(reduce(np.add, rssi) / np.maximum(count, 1)),
        rssi_last=rssi[ends],
        first_seen=t[starts],
        last_seen=t[ends],
        associated=is_associated,
    )


def _burst_times(start: np.ndarray, end: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(visit, time) of every probe burst: gaps drawn from PROBE_GAP_S, the first at a random phase after arrival."""
    slots = (np.ceil((end - start) / PROBE_GAP_S[0]) + 1).astype(np.int64)
    visit = np.repeat(np.arange(len(start)), slots)
    gaps = rng.uniform(*PROBE_GAP_S, size=len(visit))
    first = np.cumsum(slots) - slots
    gaps[first] *= rng.random(len(start))
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first] - gaps[first], slots)
    t = start[visit] + elapsed
    keep = t < end[visit]
    return visit[keep], t[keep]


def _associated_times(visits: Visits, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(visit, time) of the frames associated phones send: 1 + Poisson frames in every interval they are present."""
    connected = np.flatnonzero(visits.ssid > 0)
    start, end = visits.start[connected], visits.end[connected]
    first_minute = np.floor(start / REPORT_INTERVAL_S) * REPORT_INTERVAL_S
    minutes = ((np.ceil(end / REPORT_INTERVAL_S) * REPORT_INTERVAL_S - first_minute) // REPORT_INTERVAL_S).astype(int)
    minutes = np.maximum(minutes, 1)
    owner = np.repeat(np.arange(len(connected)), minutes)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(minutes) - minutes, minutes)
    minute = first_minute[owner] + within * REPORT_INTERVAL_S
    frames = 1 + rng.poisson(EXTRA_ASSOCIATED_FRAMES_PER_MINUTE, size=len(owner))
    expand = np.repeat(np.arange(len(owner)), frames)
    owner, minute = owner[expand], minute[expand]
    low = np.maximum(start[owner], minute)
    high = np.minimum(end[owner], minute + REPORT_INTERVAL_S)
    t = low + rng.random(len(owner)) * (high - low)
    keep = high > low
    return connected[owner][keep], t[keep]


class _SegmentLookup:
    """Which segment a visit's phone is in at time t, and where it is then (segments sorted by visit, t0)."""

    def __init__(self, segments: Segments) -> None:
        self._segments = segments
        self._base = float(segments.t0.min()) if len(segments) else 0.0
        self._keys = segments.visit * _KEY_STRIDE + (segments.t0 - self._base)

    def __call__(self, visit: np.ndarray, t: np.ndarray) -> np.ndarray:
        keys = visit * _KEY_STRIDE + (t - self._base)
        return np.maximum(np.searchsorted(self._keys, keys, side="right") - 1, 0)

    def position(self, segment: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self._segments
        elapsed = t - s.t0[segment]
        return s.x[segment] + s.vx[segment] * elapsed, s.y[segment] + s.vy[segment] * elapsed
