"""What the storage tests share: a migrated engine on the test's database (SQLite, or PostgreSQL: see `settings`)."""

from __future__ import annotations

import pytest

from store import db


@pytest.fixture
def engine(settings):
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()
