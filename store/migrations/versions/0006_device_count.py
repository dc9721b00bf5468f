"""Device counts: per AP and UTC minute, how many distinct devices it reported (count-only mode's only data).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_count",
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("site", sa.String(120), nullable=False),
        sa.Column("ap_mac", sa.String(17), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("nearby", sa.Integer(), nullable=False),
        sa.Column("connected", sa.Integer(), nullable=False),
        sa.Column("randomized", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "site", "ap_mac"),
    )


def downgrade() -> None:
    op.drop_table("device_count")
