"""Fixtures shared by every test: a fresh data directory and database per test, never shared state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receiver import db
from receiver.app import create_app
from receiver.config import Settings
from receiver.models import Observation

ENGENIUS_KEY = "engenius-test-key"
AEROHIVE_SECRET = "aerohive-test-secret"
SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "PRESENCE_DATA_DIR": str(tmp_path / "data"),
        "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY,
        "PRESENCE_AEROHIVE_SECRET": AEROHIVE_SECRET,
        "PRESENCE_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    base.update(env)
    return Settings.from_env(base)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


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


__all__ = ["db", "make_settings", "sign", "dumps", "count_observations", "all_observations"]
