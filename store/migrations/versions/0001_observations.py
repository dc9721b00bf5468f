"""Observations: one row per AP, device and report.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("site", sa.String(120), nullable=False),
        sa.Column("ap_mac", sa.String(17), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("randomized", sa.Boolean(), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=True),
        sa.Column("os", sa.String(100), nullable=True),
        sa.Column("ssid", sa.String(64), nullable=True),
        sa.Column("associated", sa.Boolean(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("rssi_min", sa.Float(), nullable=False),
        sa.Column("rssi_max", sa.Float(), nullable=False),
        sa.Column("rssi_avg", sa.Float(), nullable=False),
        sa.Column("rssi_last", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("unc", sa.Float(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("dedupe_key", sa.LargeBinary(16), nullable=False, unique=True),
    )
    op.create_index("ix_observation_last_seen", "observation", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_observation_last_seen", table_name="observation")
    op.drop_table("observation")
