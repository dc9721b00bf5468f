"""Retired APs: the ones `presence aps retire` took out of the silent-AP warnings.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ap_retired",
        sa.Column("ap_mac", sa.String(17), primary_key=True),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ap_retired")
