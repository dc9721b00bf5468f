"""The database schema: one SQLModel table per concern. Alembic migrations mirror these classes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, Text, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps the zone (timestamptz); SQLite has no zone type, so values are converted to UTC before
    they are written and marked UTC again when read. A naive datetime is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Observation(SQLModel, table=True):
    """One AP's report of one device in one POST: the normalized form of every vendor's records."""

    __table_args__ = (Index("ix_observation_last_seen", "last_seen"),)

    id: int | None = Field(default=None, primary_key=True)
    vendor: str = Field(max_length=16)
    site: str = Field(max_length=120)
    ap_mac: str = Field(max_length=17)
    # A keyed pseudonym of the client MAC, or the MAC itself when PRESENCE_STORE_RAW_MACS=1.
    device: str = Field(max_length=64)
    randomized: bool
    manufacturer: str | None = Field(default=None, max_length=200)
    os: str | None = Field(default=None, max_length=100)
    ssid: str | None = Field(default=None, max_length=64)
    associated: bool
    first_seen: datetime = Field(sa_column=utc_column())
    last_seen: datetime = Field(sa_column=utc_column())
    rssi_min: float
    rssi_max: float
    rssi_avg: float
    rssi_last: float
    count: int
    x: float | None = None
    y: float | None = None
    lat: float | None = None
    lng: float | None = None
    unc: float | None = None
    received_at: datetime = Field(sa_column=utc_column())
    # 16-byte digest of (AP, device, first/last seen, signal values): a re-delivered record hits the unique
    # index and is skipped, so dedupe costs one index instead of a read before every write.
    dedupe_key: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False, unique=True))


OBSERVATION_EXPORT_COLUMNS = (
    "vendor",
    "site",
    "ap_mac",
    "device",
    "randomized",
    "manufacturer",
    "os",
    "ssid",
    "associated",
    "first_seen",
    "last_seen",
    "rssi_min",
    "rssi_max",
    "rssi_avg",
    "rssi_last",
    "count",
    "manufacturer_full",  # as the payload or the IEEE registry named it; `manufacturer` is the short name
)


class QuarantinedPost(SQLModel, table=True):
    """An authenticated POST that failed validation, kept (capped, for a while) so an operator can see it."""

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    vendor: str = Field(max_length=16)
    received_at: datetime = Field(sa_column=utc_column(index=True))
    status: int
    reason: str
    field: str | None = Field(default=None, max_length=200)
    # The body as received (any top-level "secret" redacted), cut at PRESENCE_QUARANTINE_MAX_BODY_BYTES.
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    body_bytes: int  # size of the original body
    truncated: bool


class APReport(SQLModel, table=True):
    """The last time each AP reported, even with an empty list: a silent AP is the only sign of lost POSTs."""

    __tablename__ = "ap_report"

    ap_mac: str = Field(primary_key=True, max_length=17)
    vendor: str = Field(max_length=16)
    site: str = Field(max_length=120)
    first_report_at: datetime = Field(sa_column=utc_column())
    last_report_at: datetime = Field(sa_column=utc_column())
    reports: int  # accepted POSTs that named this AP
    records: int  # observations stored from them (duplicates not counted)


class APRetired(SQLModel, table=True):
    """An AP the operator retired (`presence aps retire`): never reported silent, whether it ever reported or not.

    A table of its own rather than a column of ap_report: a bulk load rebuilds ap_report from the observations
    (store.observations.rebuild_ap_reports), and an AP that never reported has no ap_report row to mark.
    """

    __tablename__ = "ap_retired"

    ap_mac: str = Field(primary_key=True, max_length=17)
    retired_at: datetime = Field(sa_column=utc_column())


# A qualifying visit by the analytics' default thresholds (AnalyticsSettings.min_dwell, 5 min, and
# visitor_rssi_dbm, -75 dBm; tests/storage holds them equal). Reports read these visits from a partial index
# that covers what they need; with other thresholds they read the full first_seen index instead.
QUALIFYING_DWELL_SECONDS = 300.0
QUALIFYING_RSSI_DBM = -75.0
QUALIFYING = f"dwell_seconds >= {QUALIFYING_DWELL_SECONDS!r} AND max_rssi >= {QUALIFYING_RSSI_DBM!r}"
QUALIFYING_COLUMNS = (
    "first_seen",
    "site",
    "device",
    "last_seen",
    "max_rssi",
    "associated",
    "randomized",
    "zone",
    "previous_first_seen",
    "dwell_seconds",
)


class Visit(SQLModel, table=True):
    """One visit: a device's observations at a site with no gap over `visit_gap`, kept up to date by
    store.visits from the observations (a derived table: `presence rebuild` recomputes it)."""

    # Reports read a window's visits by first_seen and count or filter them on the other four columns, which the
    # index covers (SQLite then never reads a passerby's row), and read the qualifying ones from the partial
    # index that covers them; merging looks visits up by device; staff are found among the long visits.
    __table_args__ = (
        Index("ix_visit_first_seen", "first_seen", "dwell_seconds", "max_rssi", "previous_first_seen", "randomized"),
        Index(
            "ix_visit_qualifying",
            *QUALIFYING_COLUMNS,
            sqlite_where=text(QUALIFYING),
            postgresql_where=text(QUALIFYING),
        ),
        Index("ix_visit_device_first_seen", "device", "first_seen"),
        # One site's window (--site, a site's pages, per-site counts): the first_seen index's columns after site.
        Index(
            "ix_visit_site_first_seen",
            "site",
            "first_seen",
            "dwell_seconds",
            "max_rssi",
            "previous_first_seen",
            "randomized",
        ),
        Index("ix_visit_dwell_seconds", "dwell_seconds"),
    )

    id: int = Field(primary_key=True)
    site: str = Field(max_length=120)
    device: str = Field(max_length=64)
    first_seen: datetime = Field(sa_column=utc_column())
    last_seen: datetime = Field(sa_column=utc_column())
    # When the same device's previous visit at the site started (NULL for its first): counting the visits of a
    # range whose previous visit started before the range counts distinct devices without reading them.
    previous_first_seen: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The dwell by the measure the visits were built with (visit_refresh.settings' dwell_estimate): the estimated
    # stay (analytics.stays) by default, else last_seen - first_seen. The qualifying and staff indexes read it.
    dwell_seconds: float
    max_rssi: float
    associated: bool
    randomized: bool
    observations: int
    ssid: str | None = Field(default=None, max_length=64)
    manufacturer: str | None = Field(default=None, max_length=200)  # the short name (devices.manufacturers)
    # Every SSID the device was heard on and every AP that heard it during the visit, sorted and joined by a
    # newline (analytics.visits.VALUE_SEPARATOR): what the SSID and AP filters search, in SQL.
    ssids: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ap_macs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Zone names (configured AP names, else MACs) from the site's stored zone model; NULL until it is fitted.
    zone: str | None = Field(default=None, max_length=200)
    last_zone: str | None = Field(default=None, max_length=200)
    x: float | None = None
    y: float | None = None
    # JSON [[from, to, count], ...]: moves between zones during the visit, NULL when it never moved.
    zone_moves: str | None = None


class VisitState(SQLModel, table=True):
    """What merging late observations into a visit and re-assigning its zone need, kept apart from `visit` so
    reports never read it: per-period per-AP RSSI sums, per-AP power, and where its ssid and manufacturer came from."""

    __tablename__ = "visit_state"

    visit_id: int = Field(primary_key=True)
    aps: str  # the AP MACs the blobs index, comma-separated
    cells: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    power: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ssid_first_ns: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    ssid_last_ns: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    ssid_observation: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    manufacturer_first_ns: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    manufacturer_last_ns: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    manufacturer_observation: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # When it was heard: its disjoint [start, end] intervals, packed (store.visits.states.HEARD_DTYPE), from which
    # its estimated stay is worked out again after a merge; NULL for a visit stored before migration 0010.
    heard: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class VisitRefresh(SQLModel, table=True):
    """The visits' refresh state: the installation's row ("visits": the settings the visits were built with, the
    retention horizon, the lease of a rebuild) and one row per site (`site`: its watermark, the last observation
    id merged, and the lease that lets one process refresh the site at a time)."""

    __tablename__ = "visit_refresh"

    name: str = Field(primary_key=True, max_length=32)
    watermark: int = Field(sa_column=Column(BigInteger, nullable=False))
    locked_by: str | None = Field(default=None, max_length=64)
    locked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    refreshed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    settings: str  # JSON: the analytics settings the visits were built with; others need `presence rebuild`
    ap_config: str  # JSON: the AP names and positions zones and x/y were worked out with
    # The retention horizon: `presence prune` deleted observations last seen before this (and last ran at
    # pruned_at), so visits that start before it are kept as they are, never rebuilt from what is left.
    pruned_before: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    pruned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    site: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # None: the installation's row


class ZoneModelRow(SQLModel, table=True):
    """A site's zone model (k-means centres over its APs' RSSI) and the span of its visits, for incremental zones."""

    __tablename__ = "zone_model"

    site: str = Field(primary_key=True, max_length=120)
    aps: str  # JSON list of every AP MAC heard at the site
    data_from: datetime = Field(sa_column=utc_column())  # earliest first_seen of the site's visits
    data_to: datetime = Field(sa_column=utc_column())  # latest last_seen
    model_aps: str | None = None  # JSON list: the APs (centre columns) of the fitted model
    centers: str | None = None  # JSON list of centres; NULL before the first fit or with a single AP
    trained_from: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    trained_to: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    fitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    fingerprints: int = 0  # how many fingerprints the fit saw
    version: int = 0  # 0 = never fitted
    zoned: bool = False  # every visit of the site has its zone from this version


class DeviceCount(SQLModel, table=True):
    """How many distinct devices one AP reported in one UTC minute: all that count-only mode keeps (PRESENCE_COUNT_ONLY;
    store.counts). Counted in memory per POST and merged with MAX, so no client MAC or pseudonym is ever written."""

    __tablename__ = "device_count"

    # The minute first: reads take a range of minutes (every site), and the primary key's index serves them.
    minute: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))  # last_seen floored to the minute
    site: str = Field(primary_key=True, max_length=120)
    ap_mac: str = Field(primary_key=True, max_length=17)
    devices: int  # distinct client MACs the AP reported last seen in this minute
    nearby: int  # of them, heard at or above the visitor threshold (-75 dBm) that minute
    connected: int  # of them, associated to the AP
    randomized: int  # of them, with a locally administered (randomized) MAC
