"""Quarantine: keep what a vendor sent when it fails validation, so a firmware change is visible, not silent.

Only authenticated posts are kept (anyone can send garbage; only the vendor can send signed garbage), each
body cut at a size cap and with any top-level "secret" field redacted, and the table is trimmed on every
write to the newest `max_rows` entries of the last `days` days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select

from receiver.errors import ReceiverError
from receiver.ingest import Ingestor, Parsed, decode, parse
from receiver.models import QuarantinedPost
from receiver.store import StoreResult

TABLE = QuarantinedPost.__table__  # type: ignore[attr-defined]
REDACTED = "[redacted]"


@dataclass(frozen=True)
class QuarantinePolicy:
    max_body_bytes: int = 256 * 1024  # enough for a few thousand records: the shape of the problem shows
    days: int = 14  # two weeks: long enough to notice after a weekend, short enough to stay personal-data lean
    max_rows: int = 1000
    # Count-only mode keeps the reason and size but not the body: a body holds client MACs as the vendor sent them.
    keep_bodies: bool = True


def redacted(body: bytes) -> bytes:
    """The body with a top-level "secret" replaced, so the shared secret is never stored."""
    document = decode(body)
    if isinstance(document, dict) and "secret" in document:
        return json.dumps({**document, "secret": REDACTED}).encode()
    return body


def keep(
    engine: Engine, vendor: str, body: bytes, error: ReceiverError, now: datetime, policy: QuarantinePolicy
) -> None:
    """Store one refused body and trim the table by age and count, in one transaction."""
    clean = redacted(body) if policy.keep_bodies else b""
    with engine.begin() as connection:
        connection.execute(
            insert(TABLE).values(
                vendor=vendor,
                received_at=now,
                status=error.status,
                reason=error.message,
                field=error.field,
                body=clean[: policy.max_body_bytes],
                body_bytes=len(body),
                truncated=len(clean) > policy.max_body_bytes or (not policy.keep_bodies and bool(body)),
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


def replay(engine: Engine, ingestor: Ingestor, entry_id: int, now: datetime) -> StoreResult:
    """Validate a quarantined body with today's parsers; if it passes, store it and release it.

    Raises ReceiverError (still invalid) or LookupError (no such entry, or a truncated body that cannot be
    replayed whole).
    """
    found = entry(engine, entry_id)
    if found is None:
        raise LookupError(f"no quarantined post {entry_id}")
    if found["truncated"]:
        raise LookupError(f"quarantined post {entry_id} was kept without its whole body (size cap, or count-only mode)")
    parsed: Parsed = parse(found["vendor"], decode(found["body"]))
    result = ingestor.store(parsed, now)
    with engine.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.id == entry_id))
    return result
