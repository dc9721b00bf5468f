"""Retention: when `presence prune` last ran and before what time it deleted observations (the horizon before
which visits are kept as they are and never rebuilt).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit_refresh") as batch:
        batch.add_column(sa.Column("pruned_before", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pruned_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visit_refresh") as batch:
        batch.drop_column("pruned_at")
        batch.drop_column("pruned_before")
