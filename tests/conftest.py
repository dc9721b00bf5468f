"""Fixtures shared by every test: a fresh data directory and database per test, never shared state."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from config.settings import Settings
from receiver.app import create_app
from store.models import Observation

ENGENIUS_KEY = "engenius-test-key"
AEROHIVE_SECRET = "aerohive-test-secret"
POSTGRES_URL_VARIABLE = "PRESENCE_TEST_POSTGRES_URL"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET,
        "PRESENCE_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    base.update(env)
    return Settings.from_env(base)


def postgres_url_or_skip() -> str:
    """The PostgreSQL server the tests may use; a skip on a laptop without one, a failure in CI."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {POSTGRES_URL_VARIABLE} is not set: .ci/run must start PostgreSQL")
    pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}=postgresql://user:password@host/database")


@contextlib.contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A database URL whose search_path is a new, empty schema, dropped afterwards: a fresh database per test."""
    base = make_url(postgres_url_or_skip()).set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Streamlit's AppTest leaves the page script as `__main__`; a later multiprocessing spawn (the simulator's
    parallel backfill) would then run that page in its children, so every test gets the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on both backends the product supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'presence.db'}"
        return
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, PRESENCE_DATABASE_URL=database_url)


@pytest.fixture
def app(settings: Settings):
    application = create_app(settings)
    yield application
    application.extensions["presence"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def engine(app):
    return app.extensions["presence"]["engine"]


def sign(body: bytes, key: str = ENGENIUS_KEY, encoding: str = "hex") -> str:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return {
        "hex": digest.hex(),
        "HEX": digest.hex().upper(),
        "base64": base64.b64encode(digest).decode(),
        "base64url": base64.urlsafe_b64encode(digest).decode(),
        "base64url-unpadded": base64.urlsafe_b64encode(digest).decode().rstrip("="),
    }[encoding]


def dumps(document: object) -> bytes:
    return json.dumps(document).encode()


def count_observations(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Observation)).scalar_one()


def all_observations(engine) -> list[dict]:
    with engine.connect() as connection:
        table = Observation.__table__
        return [dict(row) for row in connection.execute(select(table).order_by(table.c.id)).mappings()]
