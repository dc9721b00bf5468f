"""What every module of the stored visits shares: the tables, the refresh row's name, sizes, errors and results."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from store.models import Observation, Visit, VisitRefresh, VisitState, ZoneModelRow

log = logging.getLogger("presence.visits")

OBSERVATIONS = Observation.__table__  # type: ignore[attr-defined]
VISITS = Visit.__table__  # type: ignore[attr-defined]
STATES = VisitState.__table__  # type: ignore[attr-defined]
REFRESH = VisitRefresh.__table__  # type: ignore[attr-defined]
MODELS = ZoneModelRow.__table__  # type: ignore[attr-defined]

STATE_NAME = "visits"
# Observations merged per transaction. A busy shop's ten million a week are a few hours' worth per chunk: a
# catch-up keeps its memory bounded and holds SQLite's write lock for a short write at a time.
CHUNK_ROWS = 200_000
# Stored visits read or re-zoned per query (IN lists stay well under SQLite's 32 766 variables).
IN_LIST = 5_000
REZONE_CHUNK = 20_000
# data_from/data_to of a zone model whose site has no visits yet (a rebuild that keeps the models).
NO_SPAN = datetime(1970, 1, 1, tzinfo=UTC)


class VisitsOutOfDate(RuntimeError):
    """The stored visits were built with other analytics settings; `presence rebuild` recomputes them."""


class RefreshBusy(RuntimeError):
    """Another process held the refresh lock for longer than we were willing to wait."""


class LeaseLost(RuntimeError):
    """Our refresh lease ran out and another process took over; nothing of ours was written after that."""


@dataclass
class RefreshResult:
    """What one refresh did."""

    observations: int = 0  # observations merged
    visits_written: int = 0  # visits inserted or rewritten
    visits_absorbed: int = 0  # stored visits merged into others (a late observation bridged them)
    zoned: int = 0  # visits given a zone after a zone model was (re)fitted or the AP names/positions changed
    fitted: list[str] = field(default_factory=list)  # sites whose zone model was fitted
    watermark: int = 0
    seconds: float = 0.0
    longest_write: float = 0.0  # seconds of the longest write transaction (on SQLite, how long POSTs could wait)
    visits_kept: int = 0  # rebuild: visits starting before the retention horizon, kept as they were

    def add(self, other: RefreshResult) -> None:
        """Count in what another lease's catch-up of the same refresh did (other sites)."""
        self.observations += other.observations
        self.visits_written += other.visits_written
        self.visits_absorbed += other.visits_absorbed
        self.zoned += other.zoned
        self.fitted += other.fitted
        self.longest_write = max(self.longest_write, other.longest_write)


def chunks(values: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]


def dialect(engine: Engine | Connection):
    return postgresql if engine.dialect.name == "postgresql" else sqlite
