"""The simulation as an API: `simulate(shop, start, end, seed)` → reports in time order, plus the ground truth.

Each local day is drawn from its own generator, seeded by (seed, date), so a given day looks the same in any
window that contains it: a live run and a backfill with the same seed describe the same world. Reports for an
interval are produced when it ends, for every AP, empty or not, so an endless (`end=None`) simulation can feed a
live run without ever holding more than a day in memory.

Vendors: one for every AP, or `mixed`, which rotates VENDORS over the APs in the order the shop lists them (AP 0
EnGenius, AP 1 Aerohive, AP 2 Meraki, AP 3 EnGenius, ...). EnGenius and Aerohive APs post one report each;
the Meraki APs post together, one Meraki v3 report per interval for the network, at the place of its first AP.
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Protocol

import numpy as np

from simulator import people, render, traffic
from simulator.layout import Shop, ShopAP
from simulator.render import DEFAULT_MERAKI_NETWORK_ID, DEFAULT_NETWORK_ID, DEFAULT_OWNER_ID, Payload
from simulator.traffic import REPORT_INTERVAL_S, Records
from simulator.truth import Visit, day_truth

VENDORS = ("engenius", "aerohive", "meraki")
VENDOR_CHOICES = (*VENDORS, "mixed")
# Streams of the seed's random numbers: the regulars pool, the staff roster, then one per local day.
_POOL_STREAM, _STAFF_STREAM, _DAY_STREAM = 0, 1, 2


@dataclass(frozen=True)
class Report:
    """One POST for one interval: which vendor's format, when it is sent, the APs it speaks for, the payload model."""

    at: datetime  # end of the interval, when the AP posts
    vendor: str
    aps: tuple[ShopAP, ...]  # the AP that posts; for Meraki, every Meraki AP of the network
    payload: Payload

    @property
    def size(self) -> int:
        """How many observations the payload holds: client records, or for Meraki one per AP that heard a client."""
        if isinstance(self.payload, render.EnGeniusPayload):
            return len(self.payload.probe_requests)
        if isinstance(self.payload, render.MerakiPayloadV3):
            return sum(
                len(location.rssiRecords)
                for observation in self.payload.data.observations
                for location in observation.locations
            )
        return len(self.payload.observations)

    @property
    def name(self) -> str:
        """Who posted it, for messages: the AP's name, or the names of a Meraki network's APs."""
        return ", ".join(ap.name for ap in self.aps)


@dataclass(frozen=True)
class Interval:
    """Every AP's report for one interval, posted at `at`."""

    at: datetime
    reports: tuple[Report, ...]


def simulate(
    shop: Shop,
    start: datetime,
    end: datetime | None,
    seed: int,
    *,
    vendor: str = "mixed",
    network_id: str = DEFAULT_NETWORK_ID,
    owner_id: str = DEFAULT_OWNER_ID,
    meraki_network_id: str = DEFAULT_MERAKI_NETWORK_ID,
) -> Simulation:
    """A simulation of `shop` from `start` to `end` (None: endless), both floored to the minute.

    `network_id` is the EnGenius network, `owner_id` the Aerohive owner, `meraki_network_id` the Meraki network.
    """
    return Simulation(
        shop,
        start,
        end,
        seed,
        vendor=vendor,
        network_id=network_id,
        owner_id=owner_id,
        meraki_network_id=meraki_network_id,
    )


class Simulation:
    """Reports (in time order) and ground truth of one simulated window; see `simulate`."""

    def __init__(
        self,
        shop: Shop,
        start: datetime,
        end: datetime | None,
        seed: int,
        *,
        vendor: str = "mixed",
        network_id: str = DEFAULT_NETWORK_ID,
        owner_id: str = DEFAULT_OWNER_ID,
        meraki_network_id: str = DEFAULT_MERAKI_NETWORK_ID,
    ) -> None:
        if vendor not in VENDOR_CHOICES:
            raise ValueError(f"vendor must be one of {', '.join(VENDOR_CHOICES)}, not {vendor!r}")
        self.shop = shop
        self.seed = seed
        self.start = _floor_minute(start)
        self.end = None if end is None else _floor_minute(end)
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be at least a minute after start")
        self.network_id = network_id
        self.owner_id = owner_id
        self.meraki_network_id = meraki_network_id
        # Mixed: the vendors take turns over the APs in the order the shop lists them.
        self.vendors = tuple(vendor if vendor != "mixed" else VENDORS[i % len(VENDORS)] for i in range(len(shop.aps)))
        self._meraki_aps = [index for index, name in enumerate(self.vendors) if name == "meraki"]
        offset_sigma = shop.conditions.device_offset_sigma_db
        self._regulars = people.regulars(self._rng(_POOL_STREAM), offset_sigma)
        self._staff = people.staff(self._rng(_STAFF_STREAM), offset_sigma)
        self._truth: dict[date, list[tuple[int, Visit]]] = {}  # per day: (first minute heard, visit)
        self._emitted_until = self.start

    # --- public --------------------------------------------------------------------------------------------

    def reports(self) -> Iterator[Report]:
        """Every AP's report for every interval, in the order they are posted."""
        for interval in self.intervals():
            yield from interval.reports

    def intervals(self) -> Iterator[Interval]:
        """The reports grouped by interval, in time order."""
        minute = int(self.start.timestamp())
        stop_at = None if self.end is None else int(self.end.timestamp())
        pending: Records | None = None
        for on in self._days():
            records = self._generate(on)
            pending = records if pending is None else _sorted(Records.concat([pending, records]))
            # Every later day's records start at its local midnight, so everything before it is complete.
            horizon = int(_midnight(self.shop, on + timedelta(days=1)))
            stop = horizon if stop_at is None else min(horizon, stop_at)
            if stop > minute:
                ready = pending.minute < stop
                yield from self._emit(pending.take(ready), minute, stop)
                pending = pending.take(~ready)
                minute = stop
            if stop_at is not None and minute >= stop_at:
                return

    def truth(self) -> list[Visit]:
        """Every visit heard in the window (for an endless run: heard so far), ordered by start."""
        if self.end is not None:
            for on in self._days():
                if on not in self._truth:
                    self._generate(on)
        until = self.end or self._emitted_until
        limit = int(until.timestamp())
        visits = [
            visit if visit.end <= until else replace(visit, end=until)
            for on in sorted(self._truth)
            for first_heard, visit in self._truth[on]
            if first_heard < limit
        ]
        return sorted(visits, key=lambda visit: (visit.start, visit.device))

    def day(self, on: date) -> tuple[people.Visits, people.Segments, Records]:
        """Everyone near the shop on local day `on` and all the APs heard of them, whatever the window."""
        rng = self._rng(_DAY_STREAM, on.toordinal())
        visits, segments = people.day(self.shop, on, rng, self._regulars, self._staff)
        return visits, segments, traffic.day_records(self.shop, visits, segments, rng)

    # --- steps ---------------------------------------------------------------------------------------------

    def _rng(self, *stream: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=stream)))

    def _days(self) -> Iterator[date]:
        # The day before the start can reach into it (someone walking past at midnight).
        first = self.start.astimezone(self.shop.tz).date() - timedelta(days=1)
        if self.end is None:
            yield from (first + timedelta(days=n) for n in count())
            return
        last = (self.end - timedelta(microseconds=1)).astimezone(self.shop.tz).date()
        yield from (first + timedelta(days=n) for n in range((last - first).days + 1))

    def _generate(self, on: date) -> Records:
        """One local day's records inside the window, sorted by minute, AP, visit; records its truth too."""
        visits, segments, records = self.day(on)
        low = self.start.timestamp()
        inside = records.minute >= low
        if self.end is not None:
            inside &= records.minute < self.end.timestamp()
        records = records.take(inside)
        window = (low, self.end.timestamp() if self.end else float("inf"))
        heard, first = np.unique(records.visit, return_index=True)  # records are in time order
        day_visits = day_truth(self.shop, visits, segments, heard, window)
        self._truth[on] = list(zip(records.minute[first].tolist(), day_visits, strict=True))
        return records

    def _emit(self, records: Records, first_minute: int, stop: int) -> Iterator[Interval]:
        rows = render.RecordRows(records)
        n_aps = len(self.shop.aps)
        n_minutes = (stop - first_minute) // REPORT_INTERVAL_S
        slot = (records.minute - first_minute) // REPORT_INTERVAL_S * n_aps + records.ap
        bounds = np.searchsorted(slot, np.arange(n_minutes * n_aps + 1)).tolist()
        aps = self.shop.aps
        for m in range(n_minutes):
            at = datetime.fromtimestamp(first_minute + (m + 1) * REPORT_INTERVAL_S, UTC)
            reports = []
            for index, ap in enumerate(aps):
                lo, hi = bounds[m * n_aps + index], bounds[m * n_aps + index + 1]
                vendor = self.vendors[index]
                members: tuple[ShopAP, ...] = (ap,)
                if vendor == "engenius":
                    payload: Payload = render.engenius_payload(ap.mac, self.network_id, rows, lo, hi)
                elif vendor == "aerohive":
                    payload = render.aerohive_payload(ap.mac, self.owner_id, rows, lo, hi)
                elif index == self._meraki_aps[0]:  # the network's one report, for all its APs
                    members = tuple(aps[i] for i in self._meraki_aps)
                    spans = [(bounds[m * n_aps + i], bounds[m * n_aps + i + 1]) for i in self._meraki_aps]
                    payload = render.meraki_payload(self.meraki_network_id, members, rows, spans)
                else:
                    continue  # a later Meraki AP: its records are in the network's report already
                reports.append(Report(at=at, vendor=vendor, aps=members, payload=payload))
            self._emitted_until = at
            yield Interval(at=at, reports=tuple(reports))


def _sorted(records: Records) -> Records:
    return records.take(np.lexsort((records.visit, records.ap, records.minute)))


def _floor_minute(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("simulation times must be timezone-aware")
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % REPORT_INTERVAL_S, UTC)


def _midnight(shop: Shop, on: date) -> float:
    return datetime(on.year, on.month, on.day, tzinfo=shop.tz).timestamp()


# --- running a simulation into a sink ------------------------------------------------------------------------


class Sink(Protocol):
    """Where reports go: database.DatabaseSink or send.HttpSink."""

    payloads: int
    observations: int
    stored: int
    duplicates: int
    failed: int
    failures: list[str]

    def add(self, report: Report) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class Summary:
    """What a run did, for the closing lines of `presence simulate`."""

    payloads: int = 0
    observations: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    visits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False

    @classmethod
    def of(cls, sink: Sink, truth: list[Visit], seconds: float) -> Summary:
        kinds: dict[str, int] = {}
        for visit in truth:
            kinds[visit.kind] = kinds.get(visit.kind, 0) + 1
        return cls(
            payloads=sink.payloads,
            observations=sink.observations,
            stored=sink.stored,
            duplicates=sink.duplicates,
            failed=sink.failed,
            visits=kinds,
            seconds=seconds,
            failures=list(sink.failures),
        )

    def text(self) -> str:
        kinds = ", ".join(f"{self.visits.get(kind, 0)} {kind}" for kind in ("visitor", "passerby", "staff"))
        lines = [
            f"payloads: {self.payloads} ({self.failed} failed){' - stopped by Ctrl-C' if self.interrupted else ''}",
            f"observations: {self.observations} sent, {self.stored} stored, {self.duplicates} duplicates",
            f"visits: {kinds}",
            f"seconds: {self.seconds:.1f}",
        ]
        lines += [f"failed: {failure}" for failure in self.failures]
        return "\n".join(lines)


def feed(simulation: Simulation, sink: Sink, *, live: bool = False, speed: float = 1.0) -> bool:
    """Give every report to `sink`, as fast as possible or paced like real APs; True if stopped by Ctrl-C.

    Live: each interval's reports go out when the interval ends, on a clock `speed` times faster than real time.
    Ctrl-C stops a run cleanly: what was produced so far is flushed. The sink is closed either way.
    """
    wall_start, sim_start = clock.monotonic(), simulation.start.timestamp()
    try:
        for interval in simulation.intervals():
            if live:
                delay = wall_start + (interval.at.timestamp() - sim_start) / speed - clock.monotonic()
                if delay > 0:
                    clock.sleep(delay)
            for report in interval.reports:
                sink.add(report)
            if live:
                sink.flush()
    except KeyboardInterrupt:
        return True
    finally:
        sink.close()
    return False


def run(simulation: Simulation, sink: Sink, *, live: bool = False, speed: float = 1.0) -> Summary:
    """`feed` the simulation to the sink and summarize: counts from the sink, visits by kind from the truth."""
    started = clock.perf_counter()
    interrupted = feed(simulation, sink, live=live, speed=speed)
    summary = Summary.of(sink, simulation.truth(), clock.perf_counter() - started)
    summary.interrupted = interrupted
    return summary
