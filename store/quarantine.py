"""The quarantine table: refused authenticated posts, kept for a while so a vendor's format change is visible.

The receiver decides what to keep and redacts it (receiver.quarantine); this module only stores, trims, lists
and releases. The table is trimmed on every write to the newest `max_rows` entries of the last `days` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select

from store.models import QuarantinedPost

TABLE = QuarantinedPost.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class QuarantinePolicy:
    max_body_bytes: int = 256 * 1024  # enough for a few thousand records: the shape of the problem shows
    days: int = 14  # two weeks: long enough to notice after a weekend, short enough to stay personal-data lean
    max_rows: int = 1000
    # Count-only mode keeps the reason and size but not the body: a body holds client MACs as the vendor sent them.
    keep_bodies: bool = True


@dataclass(frozen=True)
class Refusal:
    """Why an authenticated post was refused: the HTTP status, the message and the field it names, if any."""

    status: int
    reason: str
    field: str | None = None


def keep(
    engine: Engine,
    vendor: str,
    clean_body: bytes,
    body_bytes: int,
    refusal: Refusal,
    now: datetime,
    policy: QuarantinePolicy,
) -> None:
    """Store one refused body (already redacted; `body_bytes` is the size as sent) and trim the table by age and
    count, in one transaction. Without `keep_bodies` the body is not stored at all."""
    kept = clean_body if policy.keep_bodies else b""
    with engine.begin() as connection:
        connection.execute(
            insert(TABLE).values(
                vendor=vendor,
                received_at=now,
                status=refusal.status,
                reason=refusal.reason,
                field=refusal.field,
                body=kept[: policy.max_body_bytes],
                body_bytes=body_bytes,
                truncated=len(kept) > policy.max_body_bytes or (not policy.keep_bodies and body_bytes > 0),
            )
        )
        connection.execute(delete(TABLE).where(TABLE.c.received_at < now - timedelta(days=policy.days)))
        newest = select(TABLE.c.id).order_by(TABLE.c.id.desc()).limit(policy.max_rows).subquery()
        oldest_kept = select(func.min(newest.c.id)).scalar_subquery()
        connection.execute(delete(TABLE).where(TABLE.c.id < oldest_kept))


def entries(engine: Engine) -> list[dict]:
    """Every quarantined post, newest first, without the bodies."""
    columns = [column for column in TABLE.c if column.name != "body"]
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(*columns).order_by(TABLE.c.id.desc())).mappings()]


def entry(engine: Engine, entry_id: int) -> dict | None:
    with engine.connect() as connection:
        row = connection.execute(select(TABLE).where(TABLE.c.id == entry_id)).mappings().first()
    return dict(row) if row else None


def release(engine: Engine, entry_id: int) -> None:
    """Delete one entry (its body was stored after all)."""
    with engine.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.id == entry_id))
