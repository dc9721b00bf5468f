"""The database schema: one SQLModel table per concern. Alembic migrations mirror these classes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary
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
