"""Visits: a derived table kept up to date from the observations, with its merge state, watermark and zone models.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("site", sa.String(120), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("previous_first_seen", UTCDateTime(), nullable=True),
        sa.Column("dwell_seconds", sa.Float(), nullable=False),
        sa.Column("max_rssi", sa.Float(), nullable=False),
        sa.Column("associated", sa.Boolean(), nullable=False),
        sa.Column("randomized", sa.Boolean(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("ssid", sa.String(64), nullable=True),
        sa.Column("manufacturer", sa.String(200), nullable=True),
        sa.Column("zone", sa.String(200), nullable=True),
        sa.Column("last_zone", sa.String(200), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("zone_moves", sa.String(), nullable=True),
    )
    op.create_index(
        "ix_visit_first_seen", "visit", ["first_seen", "dwell_seconds", "max_rssi", "previous_first_seen", "randomized"]
    )
    op.create_index(
        "ix_visit_qualifying",
        "visit",
        [
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
        ],
        sqlite_where=sa.text("dwell_seconds >= 300.0 AND max_rssi >= -75.0"),
        postgresql_where=sa.text("dwell_seconds >= 300.0 AND max_rssi >= -75.0"),
    )
    op.create_index("ix_visit_device_first_seen", "visit", ["device", "first_seen"])
    op.create_index("ix_visit_dwell_seconds", "visit", ["dwell_seconds"])
    op.create_table(
        "visit_state",
        sa.Column("visit_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("aps", sa.String(), nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.Column("power", sa.LargeBinary(), nullable=False),
        sa.Column("ssid_first_ns", sa.BigInteger(), nullable=True),
        sa.Column("ssid_last_ns", sa.BigInteger(), nullable=True),
        sa.Column("ssid_observation", sa.BigInteger(), nullable=True),
        sa.Column("manufacturer_first_ns", sa.BigInteger(), nullable=True),
        sa.Column("manufacturer_last_ns", sa.BigInteger(), nullable=True),
        sa.Column("manufacturer_observation", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "visit_refresh",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("locked_by", sa.String(64), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("settings", sa.String(), nullable=False),
        sa.Column("ap_config", sa.String(), nullable=False),
    )
    op.create_table(
        "zone_model",
        sa.Column("site", sa.String(120), primary_key=True),
        sa.Column("aps", sa.String(), nullable=False),
        sa.Column("data_from", UTCDateTime(), nullable=False),
        sa.Column("data_to", UTCDateTime(), nullable=False),
        sa.Column("model_aps", sa.String(), nullable=True),
        sa.Column("centers", sa.String(), nullable=True),
        sa.Column("trained_from", UTCDateTime(), nullable=True),
        sa.Column("trained_to", UTCDateTime(), nullable=True),
        sa.Column("fitted_at", UTCDateTime(), nullable=True),
        sa.Column("fingerprints", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("zoned", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("zone_model")
    op.drop_table("visit_refresh")
    op.drop_table("visit_state")
    op.drop_index("ix_visit_dwell_seconds", table_name="visit")
    op.drop_index("ix_visit_device_first_seen", table_name="visit")
    op.drop_index("ix_visit_qualifying", table_name="visit")
    op.drop_index("ix_visit_first_seen", table_name="visit")
    op.drop_table("visit")
